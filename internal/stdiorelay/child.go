package stdiorelay

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/mcpgate/mcpgate/internal/childproc"
)

// Command says how to start the stdio server.
type Command = childproc.Command

// child is one running stdio server process.
type child struct {
	proc    *childproc.Process
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
	p, err := childproc.Start(c, log)
	if err != nil {
		return nil, err
	}
	ch := &child{proc: p, stdin: p.Stdin, started: p.Started, exited: make(chan struct{}), log: p.Log}
	readDone := make(chan error, 1)
	go func() {
		err := readLines(p.Stdout, onMessage)
		if err != nil {
			ch.log.Error("stdio server broke the protocol; stopping it", "error", err)
			ch.kill()
		}
		p.Stdout.Close()
		readDone <- err
	}()
	go func() {
		<-p.Done()
		readErr := <-readDone
		ch.err = errors.Join(readErr, p.Err())
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

// stop stops the child (childproc's stop: stdin closed, then SIGTERM and
// SIGKILL to its process group) and waits until its stdout is drained.
func (c *child) stop(ctx context.Context) {
	// Not under wmu: a send blocked on a child that stopped reading holds
	// it, and closing the pipe is what unblocks that send.
	c.proc.Stop(ctx)
	<-c.exited
}

func (c *child) kill() { c.proc.Kill() }
