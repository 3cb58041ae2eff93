package idleread

import (
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestIdle(t *testing.T) {
	tests := []struct {
		name     string
		silent   bool // the body never sends
		wantIdle bool
	}{
		{"data flows", false, false},
		{"silent body", true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rc io.ReadCloser = io.NopCloser(strings.NewReader("hello"))
			if tc.silent {
				pr, pw := io.Pipe()
				defer pw.Close()
				rc = pr
			}
			var called atomic.Int32
			done := make(chan struct{})
			b := New(rc, 50*time.Millisecond, func() { called.Add(1); close(done) })
			_, err := io.ReadAll(b)
			if got := errors.Is(err, ErrIdle); got != tc.wantIdle {
				t.Fatalf("ReadAll error %v, want idle %v", err, tc.wantIdle)
			}
			_ = b.Close()
			if tc.wantIdle {
				// onIdle runs on the timer's goroutine, after the close
				// that ended the Read.
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					t.Fatal("onIdle not called")
				}
			}
			time.Sleep(100 * time.Millisecond) // a stray timer would fire by now
			if n := called.Load(); n != map[bool]int32{true: 1, false: 0}[tc.wantIdle] {
				t.Fatalf("onIdle called %d times, want idle %v", n, tc.wantIdle)
			}
		})
	}
}
