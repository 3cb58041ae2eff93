package childproc

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

func TestEnviron(t *testing.T) {
	gateway := []string{
		"PATH=/usr/bin", "HOME=/home/g", "LANG=C.UTF-8", "LC_ALL=C", "TZ=UTC",
		"MCPGATE_PSEUDONYM_KEY=secret", "OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer x",
		"GITHUB_TOKEN=ghp_x", "HTTPS_PROXY=http://u:p@proxy", "NPM_CONFIG_REGISTRY=https://r",
		"npm_config_cache=/c", "malformed", "=novalue",
	}
	cases := []struct {
		name    string
		inherit []string
		extra   []string
		want    []string
	}{
		{"base only", nil, nil,
			[]string{"PATH=/usr/bin", "HOME=/home/g", "LANG=C.UTF-8", "LC_ALL=C", "TZ=UTC"}},
		{"inherit names one", []string{"GITHUB_TOKEN"}, nil,
			[]string{"PATH=/usr/bin", "HOME=/home/g", "LANG=C.UTF-8", "LC_ALL=C", "TZ=UTC", "GITHUB_TOKEN=ghp_x"}},
		{"inherit prefix", []string{"npm_config_*"}, nil,
			[]string{"PATH=/usr/bin", "HOME=/home/g", "LANG=C.UTF-8", "LC_ALL=C", "TZ=UTC", "npm_config_cache=/c"}},
		{"own env last, wins", nil, []string{"HOME=/srv", "TOKEN=t"},
			[]string{"PATH=/usr/bin", "HOME=/home/g", "LANG=C.UTF-8", "LC_ALL=C", "TZ=UTC", "HOME=/srv", "TOKEN=t"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Environ(gateway, c.inherit, c.extra); !slices.Equal(got, c.want) {
				t.Fatalf("Environ = %q, want %q", got, c.want)
			}
		})
	}
}

// TestStopKillsGroup: a grandchild the server left running (as npx or a
// shell do) is killed with it, whether the server exits on its own when
// stdin closes or has to be signalled.
func TestStopKillsGroup(t *testing.T) {
	cases := []struct {
		name   string
		script string // $1: where to write the grandchild's pid
	}{
		{"server exits on EOF", `sleep 300 & echo $! > "$1"; exec cat >/dev/null`},
		{"server ignores EOF and SIGTERM", `sleep 300 & echo $! > "$1"; trap "" TERM; cat >/dev/null; while :; do sleep 1; done`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			p, err := Start(Command{Argv: []string{"sh", "-c", c.script, "sh", pidFile}}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Stdout.Close()
			grandchild := waitPID(t, pidFile)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			p.Stop(ctx)
			deadline := time.Now().Add(10 * time.Second)
			for !errors.Is(syscall.Kill(grandchild, 0), syscall.ESRCH) {
				if time.Now().After(deadline) {
					syscall.Kill(grandchild, syscall.SIGKILL)
					t.Fatalf("grandchild %d outlived Stop", grandchild)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

func waitPID(t *testing.T, path string) int {
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

// recordLevels is a slog handler that keeps each record's message and level.
type recordLevels struct {
	ch chan slog.Record
}

func (h recordLevels) Enabled(context.Context, slog.Level) bool { return true }
func (h recordLevels) Handle(_ context.Context, r slog.Record) error {
	h.ch <- r
	return nil
}
func (h recordLevels) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordLevels) WithGroup(string) slog.Handler      { return h }

// TestStderrAtInfo: a child's stderr is logged at info level. Both modes
// start their children here (the relay's and the aggregator's), so one
// level holds for both (issue 14: it was debug in one and info in the
// other).
func TestStderrAtInfo(t *testing.T) {
	h := recordLevels{ch: make(chan slog.Record, 16)}
	p, err := Start(Command{Argv: []string{"/bin/sh", "-c", "echo oops >&2"}}, slog.New(h))
	if err != nil {
		t.Fatal(err)
	}
	p.Stdin.Close()
	<-p.Done()
	p.Stdout.Close()
	close(h.ch)
	var got []string
	for r := range h.ch {
		var line string
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "line" {
				line = a.Value.String()
			}
			return true
		})
		got = append(got, r.Level.String()+" "+r.Message+": "+line)
	}
	if want := []string{"INFO stdio server stderr: oops"}; !slices.Equal(got, want) {
		t.Fatalf("logged %q, want %q", got, want)
	}
}
