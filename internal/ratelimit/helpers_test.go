package ratelimit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/pseudonym"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_800_000_000, 0)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func pseudonyms(t testing.TB) *pseudonym.Pseudonymizer {
	t.Helper()
	p, err := pseudonym.New([]pseudonym.Key{{ID: "k1", Secret: bytes.Repeat([]byte{7}, 32)}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	alice = &identity.Identity{Subject: "alice", Issuer: "https://idp.example.com", Method: identity.MethodOIDC}
	bob   = &identity.Identity{Subject: "bob", Issuer: "https://idp.example.com", Method: identity.MethodOIDC}
)

func (m *Memory) keys() []string {
	var out []string
	for i := range m.shards {
		m.shards[i].mu.Lock()
		for k := range m.shards[i].m {
			out = append(out, k)
		}
		m.shards[i].mu.Unlock()
	}
	return out
}

// flaky is a store that fails while down is set.
type flaky struct {
	inner Store
	down  atomic.Bool
	calls atomic.Int64
}

func (f *flaky) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	f.calls.Add(1)
	if f.down.Load() {
		return Result{}, errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	}
	return f.inner.Allow(ctx, key, l)
}

// logSink counts log records by message.
type logSink struct {
	mu   sync.Mutex
	msgs []string
}

func (s *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (s *logSink) Handle(_ context.Context, r slog.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	line := r.Message
	r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	s.msgs = append(s.msgs, line)
	return nil
}
func (s *logSink) WithAttrs([]slog.Attr) slog.Handler { return s }
func (s *logSink) WithGroup(string) slog.Handler      { return s }
func (s *logSink) count(sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.msgs {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}
