package aggregate

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCommandBackendLifecycle: a command backend's child gets the minimal
// environment plus its own env and inheritEnv (not the gateway's secrets),
// and closing the session's connection stops the child's whole process
// group — a grandchild (what npx or a shell leaves running) included.
func TestCommandBackendLifecycle(t *testing.T) {
	t.Setenv("AGG_TEST_SECRET", "gateway-secret")
	t.Setenv("AGG_TEST_PASSED", "passed-on")
	cases := []struct {
		name    string
		script  string // $1: a directory for the env dump and the grandchild's pid
		inherit []string
		want    []string // lines the child's environment has
		notWant []string // variable names it must not have
	}{
		{"exits on EOF", `env > "$1/env"; sleep 300 & echo $! > "$1/pid"; exec cat >/dev/null`,
			nil, []string{"AGG_OWN=own", "PATH=" + os.Getenv("PATH")}, []string{"AGG_TEST_SECRET", "AGG_TEST_PASSED"}},
		{"ignores SIGTERM", `env > "$1/env"; sleep 300 & echo $! > "$1/pid"; trap "" TERM; cat >/dev/null; while :; do sleep 1; done`,
			[]string{"AGG_TEST_PASSED"}, []string{"AGG_OWN=own", "AGG_TEST_PASSED=passed-on"}, []string{"AGG_TEST_SECRET"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			be, err := newBackend(Backend{
				Name:       "cmd",
				Command:    []string{"sh", "-c", c.script, "sh", dir},
				Env:        []string{"AGG_OWN=own"},
				InheritEnv: c.inherit,
			}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			conn, err := be.transport().Connect(ctx)
			if err != nil {
				t.Fatal(err)
			}
			grandchild := readPID(t, filepath.Join(dir, "pid"))
			closed := make(chan error, 1)
			go func() { closed <- conn.Close() }()
			select {
			case <-closed:
			case <-ctx.Done():
				t.Fatal("Close did not return")
			}
			for !errors.Is(syscall.Kill(grandchild, 0), syscall.ESRCH) {
				if ctx.Err() != nil {
					syscall.Kill(grandchild, syscall.SIGKILL)
					t.Fatalf("grandchild %d outlived the session's connection", grandchild)
				}
				time.Sleep(20 * time.Millisecond)
			}

			env, err := os.ReadFile(filepath.Join(dir, "env"))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(string(env), "\n")
			for _, w := range c.want {
				if !slices.Contains(lines, w) {
					t.Errorf("child environment lacks %q:\n%s", w, env)
				}
			}
			for _, name := range c.notWant {
				for _, l := range lines {
					if strings.HasPrefix(l, name+"=") {
						t.Errorf("child environment has %q", l)
					}
				}
			}
		})
	}
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no pid in %s", path)
	return 0
}
