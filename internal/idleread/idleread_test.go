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
			b := New(rc, 50*time.Millisecond, func() { called.Add(1) })
			_, err := io.ReadAll(b)
			if got := errors.Is(err, ErrIdle); got != tc.wantIdle {
				t.Fatalf("ReadAll error %v, want idle %v", err, tc.wantIdle)
			}
			if got := called.Load() == 1; got != tc.wantIdle {
				t.Fatalf("onIdle called %d times, want idle %v", called.Load(), tc.wantIdle)
			}
			_ = b.Close()
		})
	}
}
