package childproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Command says how to start a stdio server.
type Command struct {
	Argv []string
	// Env is added to the minimal environment (NAME=value); it wins over
	// an inherited variable of the same name.
	Env []string
	// InheritEnv names more of the gateway's variables to pass on, beyond
	// BaseEnv: exact names, or a prefix ending in "*".
	InheritEnv []string
	Dir        string
}

// BaseEnv is what every child inherits from the gateway's environment: what
// a program needs to find its tools, its home and its locale (npx needs
// PATH and HOME), and nothing that is commonly a secret. Entries ending in
// "*" are prefixes. Everything else — the gateway's keys, tokens for other
// backends, OTEL_EXPORTER_OTLP_HEADERS, proxy URLs that may carry
// credentials — stays with the gateway unless named in InheritEnv.
var BaseEnv = []string{
	"PATH", "HOME", "USER", "LOGNAME", "SHELL", "TMPDIR", "TZ",
	"LANG", "LANGUAGE", "LC_*",
	"XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR",
}

// Environ returns a child's environment: the variables of environ (NAME=value
// entries, as os.Environ returns) named by BaseEnv or inherit, then extra.
func Environ(environ, inherit, extra []string) []string {
	out := make([]string, 0, len(BaseEnv)+len(inherit)+len(extra))
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			continue
		}
		if Matches(BaseEnv, name) || Matches(inherit, name) {
			out = append(out, kv)
		}
	}
	// exec.Cmd keeps the last of duplicate names, so extra wins.
	return append(out, extra...)
}

// Matches reports whether name is one of pats (exact names, or prefixes
// ending in "*").
func Matches(pats []string, name string) bool {
	return slices.ContainsFunc(pats, func(p string) bool {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			return strings.HasPrefix(name, prefix)
		}
		return p == name
	})
}

// Stop timing: how long a child has to exit after its stdin is closed (the
// stdio transport's shutdown), then after SIGTERM, before SIGKILL.
const (
	StdinGrace   = 2 * time.Second
	SigtermGrace = 2 * time.Second
)

// Process is one running stdio server.
type Process struct {
	Stdin   io.WriteCloser
	Stdout  *os.File // the read end of its stdout; the caller reads and closes it
	Started time.Time
	Pid     int
	Log     *slog.Logger // the logger with the pid

	cmd  *exec.Cmd
	done chan struct{} // closed once the process is gone, its group killed and stderr drained
	err  error         // Wait's error; read after done is closed
}

// Start starts c in its own process group with the environment Environ
// builds from the gateway's. Its stderr is logged at info level on log.
func Start(c Command, log *slog.Logger) (*Process, error) {
	if len(c.Argv) == 0 {
		return nil, errors.New("empty command")
	}
	cmd := exec.Command(c.Argv[0], c.Argv[1:]...)
	cmd.Env = Environ(os.Environ(), c.InheritEnv, c.Env)
	cmd.Dir = c.Dir
	// Own process group: servers started through npx or a shell spawn
	// grandchildren, which must stop with them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	// Plain pipes rather than cmd.StdoutPipe/StderrPipe: Wait closes those
	// as soon as the process exits, possibly before its last lines are read,
	// and the exit must be noticed even while a grandchild still holds the
	// write ends (see below).
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	outW.Close() // the child has its own copies
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		stdin.Close()
		return nil, fmt.Errorf("starting %q: %w", c.Argv[0], err)
	}
	p := &Process{
		Stdin: stdin, Stdout: outR, Started: time.Now(), Pid: cmd.Process.Pid,
		Log: log.With("pid", cmd.Process.Pid), cmd: cmd, done: make(chan struct{}),
	}
	stderrDone := make(chan struct{})
	go func() {
		logStderr(p.Log, errR)
		errR.Close()
		close(stderrDone)
	}()
	go func() {
		waitErr := cmd.Wait()
		// The server is gone: what it started goes with it. This also ends
		// the caller's stdout read when a grandchild inherited stdout;
		// otherwise the exit would go unnoticed for as long as it lived.
		p.Kill()
		<-stderrDone
		p.err = waitErr
		close(p.done)
	}()
	return p, nil
}

// Done is closed once the process has exited, its group has been killed
// and its stderr drained.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is why the process exited; valid once Done is closed.
func (p *Process) Err() error { return p.err }

// logStderr logs a child's stderr line by line: free-form diagnostics by
// the transport's rules, never an error signal by itself. Info, in both
// modes: it is the only log a stdio server has, and what an operator needs
// when a server fails to start (npx's own errors land here); a server that
// is noisy there is one the operator chose to run.
func logStderr(log *slog.Logger, r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	for sc.Scan() {
		log.Info("stdio server stderr", "line", sc.Text())
	}
	if err := sc.Err(); err != nil {
		log.Warn("stdio server stderr line too long; discarding the rest of stderr", "error", err)
	}
	// Keep draining: a child blocked writing to a full stderr pipe would
	// stop serving.
	_, _ = io.Copy(io.Discard, r)
}

// Stop asks the child to exit by closing its stdin, then signals its
// process group with SIGTERM if it lingers past StdinGrace (or once ctx is
// done), and with SIGKILL SigtermGrace later. It returns once the process
// is gone.
func (p *Process) Stop(ctx context.Context) {
	p.Stdin.Close()
	grace := time.NewTimer(StdinGrace)
	defer grace.Stop()
	select {
	case <-p.done:
		return
	case <-grace.C:
	case <-ctx.Done():
	}
	p.Signal(syscall.SIGTERM)
	term := time.NewTimer(SigtermGrace)
	defer term.Stop()
	select {
	case <-p.done:
		return
	case <-term.C:
	}
	p.Kill()
	<-p.done
}

// Kill sends SIGKILL to the child's process group.
func (p *Process) Kill() { p.Signal(syscall.SIGKILL) }

// Signal sends sig to the child's process group.
func (p *Process) Signal(sig syscall.Signal) {
	_ = syscall.Kill(-p.Pid, sig)
}
