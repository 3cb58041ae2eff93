package idleread

import (
	"errors"
	"io"
	"sync/atomic"
	"time"
)

// ErrIdle is what a Read returns once the body was silent past its bound.
var ErrIdle = errors.New("backend response idle timeout")

// body closes the underlying body from a timer; the blocked Read then
// returns and ErrIdle is reported.
type body struct {
	rc    io.ReadCloser
	d     time.Duration
	t     *time.Timer
	fired atomic.Bool
}

// New returns rc with reads bounded by d: a Read that waits d without a
// byte closes rc, then calls onIdle (when not nil) from the timer's
// goroutine. Only time spent waiting counts, not the time between reads.
func New(rc io.ReadCloser, d time.Duration, onIdle func()) io.ReadCloser {
	b := &body{rc: rc, d: d}
	b.t = time.AfterFunc(d, func() {
		b.fired.Store(true)
		rc.Close()
		if onIdle != nil {
			onIdle()
		}
	})
	b.t.Stop()
	return b
}

func (b *body) Read(p []byte) (int, error) {
	b.t.Reset(b.d)
	n, err := b.rc.Read(p)
	b.t.Stop()
	if b.fired.Load() {
		return n, ErrIdle
	}
	return n, err
}

func (b *body) Close() error {
	b.t.Stop()
	return b.rc.Close()
}
