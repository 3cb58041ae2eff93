package stdiorelay

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Command says how to start the stdio server.
type Command struct {
	Argv []string
	Env  []string // added to the gateway's environment
	Dir  string
}

// child is one running stdio server process.
type child struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	wmu     sync.Mutex // serializes whole lines on stdin
	started time.Time
	exited  chan struct{} // closed once the process is gone and stdout drained
	err     error         // why it exited; read after exited is closed
	log     *slog.Logger
}

// maxLine bounds one message from a child. A longer line is a protocol
// violation that would otherwise grow the gateway's memory without limit.
const maxLine = 32 << 20

// startChild starts the process and a goroutine that hands each line of its
// stdout to onMessage (the slice is the caller's to keep).
func startChild(c Command, log *slog.Logger, onMessage func([]byte)) (*child, error) {
	if len(c.Argv) == 0 {
		return nil, errors.New("empty command")
	}
	cmd := exec.Command(c.Argv[0], c.Argv[1:]...)
	cmd.Env = append(os.Environ(), c.Env...)
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
	ch := &child{cmd: cmd, stdin: stdin, started: time.Now(), exited: make(chan struct{}), log: log.With("pid", cmd.Process.Pid)}
	var readErr error
	var drained sync.WaitGroup
	drained.Go(func() {
		ch.logStderr(errR)
		errR.Close()
	})
	drained.Go(func() {
		readErr = readLines(outR, onMessage)
		if readErr != nil {
			ch.log.Error("stdio server broke the protocol; stopping it", "error", readErr)
			ch.kill()
		}
		outR.Close()
	})
	go func() {
		waitErr := cmd.Wait()
		// The server is gone: what it started goes with it. This also ends
		// the reads above when a grandchild inherited stdout or stderr;
		// otherwise the exit would go unnoticed for as long as it lived.
		ch.kill()
		drained.Wait()
		ch.err = errors.Join(readErr, waitErr)
		close(ch.exited)
	}()
	return ch, nil
}

func readLines(r io.Reader, onMessage func([]byte)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(long)+len(line) > maxLine {
				return fmt.Errorf("stdout line longer than %d bytes", maxLine)
			}
			long = append(long, line...)
			continue
		}
		if len(long) > 0 {
			line = append(long, line...)
			long = nil
		} else {
			line = bytes.Clone(line)
		}
		if msg := bytes.TrimSpace(line); len(msg) > 0 {
			onMessage(msg)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// logStderr logs the child's stderr line by line: free-form diagnostics by
// the transport's rules, never an error signal by itself.
func (c *child) logStderr(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	for sc.Scan() {
		c.log.Info("stdio server stderr", "line", sc.Text())
	}
	if err := sc.Err(); err != nil {
		c.log.Warn("stdio server stderr line too long; discarding the rest of stderr", "error", err)
	}
	// Keep draining: a child blocked writing to a full stderr pipe would
	// stop serving.
	_, _ = io.Copy(io.Discard, r)
}

// send writes one message as one line. Any newline in msg is JSON
// whitespace (a string cannot hold a raw newline), so it is replaced by a
// space to keep the message on one line.
func (c *child) send(msg []byte) error {
	if bytes.ContainsAny(msg, "\r\n") {
		msg = bytes.Map(func(r rune) rune {
			if r == '\n' || r == '\r' {
				return ' '
			}
			return r
		}, msg)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.stdin.Write(msg); err != nil {
		return err
	}
	_, err := c.stdin.Write(newline)
	return err
}

var newline = []byte{'\n'}

// stop asks the child to exit by closing its stdin (the stdio transport's
// shutdown), then signals its process group if it lingers.
func (c *child) stop(ctx context.Context) {
	// Not under wmu: a send blocked on a child that stopped reading holds
	// it, and closing the pipe is what unblocks that send.
	c.stdin.Close()
	grace := time.NewTimer(2 * time.Second)
	defer grace.Stop()
	select {
	case <-c.exited:
		return
	case <-grace.C:
	case <-ctx.Done():
	}
	c.signal(syscall.SIGTERM)
	select {
	case <-c.exited:
		return
	case <-time.After(2 * time.Second):
	}
	c.kill()
	<-c.exited
}

func (c *child) kill() { c.signal(syscall.SIGKILL) }

func (c *child) signal(sig syscall.Signal) {
	if c.cmd.Process != nil {
		_ = syscall.Kill(-c.cmd.Process.Pid, sig)
	}
}
