package e2e

// The one process type of the harness: every child the tests start and
// stop (the gateway, server-everything over HTTP, Jaeger) is a proc, with
// its stderr captured line by line and its exit observable.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// peerStopTimeout bounds a peer's exit after SIGTERM before it is killed.
const peerStopTimeout = 10 * time.Second

// ---------------------------------------------------------------------------
// Captured output

// lineBuf collects the lines a child process writes, for tests to search.
type lineBuf struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced on every new line
}

func newLineBuf() *lineBuf { return &lineBuf{changed: make(chan struct{})} }

func (b *lineBuf) add(line string) {
	b.mu.Lock()
	b.lines = append(b.lines, line)
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}

func (b *lineBuf) snapshot() ([]string, chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.lines...), b.changed
}

// Lines returns a copy of every line so far.
func (b *lineBuf) Lines() []string { l, _ := b.snapshot(); return l }

func (b *lineBuf) String() string { return strings.Join(b.Lines(), "\n") }

// waitFor waits until some line satisfies match, or timeout.
func (b *lineBuf) waitFor(timeout time.Duration, match func(string) bool) (string, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seen := 0
	for {
		lines, changed := b.snapshot()
		for _, l := range lines[seen:] {
			if match(l) {
				return l, true
			}
		}
		seen = len(lines)
		select {
		case <-changed:
		case <-deadline.C:
			return "", false
		}
	}
}

// linesWith returns the lines of lines that contain s.
func linesWith(lines []string, s string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// pump copies r into b line by line until EOF; done is closed then.
func pump(r io.Reader, b *lineBuf, done chan<- struct{}) {
	defer close(done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		b.add(sc.Text())
	}
	// Drain whatever is left (a line too long for the scanner) so the
	// child never blocks on a full pipe.
	_, _ = io.Copy(io.Discard, r)
}

// ---------------------------------------------------------------------------
// Processes

// proc is a child process of the test. Its methods are goroutine-safe
// except those that take a *testing.T.
type proc struct {
	cmd     *exec.Cmd
	Log     *lineBuf      // its stderr
	done    chan struct{} // closed once it has been waited for
	exitErr error         // how it exited (nil: status 0); valid once done is closed

	termOnce sync.Once
	stopOnce sync.Once
	stopErr  error
}

// startProc starts cmd with its stderr captured (stdout is discarded unless
// cmd sets it).
func startProc(cmd *exec.Cmd) (*proc, error) {
	p := &proc{cmd: cmd, Log: newLineBuf(), done: make(chan struct{})}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if cmd.Stdout == nil {
		cmd.Stdout = io.Discard
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	pumped := make(chan struct{})
	go pump(stderr, p.Log, pumped)
	go func() { <-pumped; p.exitErr = cmd.Wait(); close(p.done) }()
	return p, nil
}

// exited reports, without waiting, whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the process.
func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signalling pid %d with %v: %v", p.cmd.Process.Pid, sig, err)
	}
}

// sigterm sends SIGTERM, once.
func (p *proc) sigterm() {
	p.termOnce.Do(func() { _ = p.cmd.Process.Signal(syscall.SIGTERM) })
}

// kill sends SIGKILL — no chance to say goodbye on any connection — and
// waits (bounded) until the process is gone.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("pid %d still running 10s after SIGKILL", p.cmd.Process.Pid)
	}
}

// stop sends SIGTERM (unless sigterm did) and waits, at most timeout, for
// the process to exit, then kills it. It returns how the process exited
// (nil: status 0); later calls return the same.
func (p *proc) stop(timeout time.Duration) error {
	p.sigterm()
	p.stopOnce.Do(func() {
		select {
		case <-p.done:
			p.stopErr = p.exitErr
		case <-time.After(timeout):
			// SIGQUIT first: a Go process writes every goroutine's stack to
			// its stderr, which the log keeps, so a hang shows where it is.
			_ = p.cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-p.done:
			case <-time.After(2 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.done
			}
			p.stopErr = fmt.Errorf("no exit within %v of SIGTERM (sent SIGQUIT for the stacks, then killed)", timeout)
		}
	})
	return p.stopErr
}

// halt is stop for peers, whose exit status no test asserts: for
// cleanups.
func (p *proc) halt() { _ = p.stop(peerStopTimeout) }

// raceReport returns what the Go race detector wrote on the process's
// stderr, "" when it reported nothing. A race-built child (the gateway,
// see TestMain) writes each report between these two lines.
func (p *proc) raceReport() string {
	const begin, end = "WARNING: DATA RACE", "=================="
	var b strings.Builder
	in := false
	for _, l := range p.Log.Lines() {
		switch {
		case strings.Contains(l, begin):
			in = true
		case in && l == end:
			in = false
			b.WriteString(l + "\n")
		}
		if in {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// waitProcessGone waits until pid no longer exists.
func waitProcessGone(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("%s (pid %d) is still running 10s later", what, pid)
}

// ---------------------------------------------------------------------------
// Ports

// freeClosedPort returns a loopback port that nothing listens on.
func freeClosedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// connRefused reports whether a TCP connection to addr is refused.
func connRefused(addr string) (bool, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		c.Close()
		return false, nil
	}
	return errors.Is(err, syscall.ECONNREFUSED), err
}

// waitAccepts waits (at most timeout) until a TCP connection to addr
// succeeds.
func waitAccepts(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
