package aggregate

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestRestartBackoff: a backend's InitialBackoff and MaxBackoff (a stdio
// backend's restart keys) space out its reconnections within a client
// session, which start its new child; unset, 1s doubling to 30s. (Issue
// 14: restart was dropped in aggregating mode.)
func TestRestartBackoff(t *testing.T) {
	tests := []struct {
		name             string
		initial, max     time.Duration
		want             []time.Duration // the delay after each failed connect
		wantAfterSession time.Duration   // after a connected session is lost
	}{
		{"defaults", 0, 0, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, time.Second},
		{"restart keys", 200 * time.Millisecond, 500 * time.Millisecond,
			[]time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond}, 200 * time.Millisecond},
		{"cap below the first wait", 2 * time.Second, time.Second, []time.Duration{2 * time.Second, 2 * time.Second}, 2 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			agg := newAggregator(t, Options{Backends: []Backend{{Name: "a", Command: []string{"/bin/false"}, InitialBackoff: tc.initial, MaxBackoff: tc.max}}})
			t.Cleanup(func() { _ = agg.Close(context.Background()) })
			b := agg.backends[0]
			s := agg.newSession(nil)
			for i, want := range tc.want {
				s.settle(b, errors.New("child exited"))
				if got := s.retryOf(b.Name).delay; got != want {
					t.Fatalf("after failure %d: delay %s, want %s", i+1, got, want)
				}
			}
			c := &conn{b: b, s: s, cs: inMemorySession(t)}
			s.conns[b.Name] = c
			s.down(c, errors.New("child exited"))
			if got := s.retryOf(b.Name).delay; got != tc.wantAfterSession {
				t.Fatalf("after the session was lost: delay %s, want %s", got, tc.wantAfterSession)
			}
		})
	}
}

// TestIdleTimeout: a url backend's IdleTimeout (timeouts.idle) bounds the
// silence of its responses in aggregating mode too: a call whose event
// stream goes quiet fails after it, on both paths, instead of waiting for
// the backend. (Issue 14: it was dropped.)
func TestIdleTimeout(t *testing.T) {
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			be := quietBackend(t)
			be.IdleTimeout = 300 * time.Millisecond
			agg := newAggregator(t, Options{Backends: []Backend{be}, Logger: slog.New(slog.DiscardHandler)})
			cs := clientSessionPath(t, front(t, agg, nil), p.fast, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
			defer cancel()
			start := time.Now()
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "a_quiet", Meta: mcp.Meta{"progressToken": "p"}})
			took := time.Since(start)
			t.Logf("the call ended after %s: %v", took, err)
			if err == nil && !res.IsError {
				t.Fatalf("a silent call succeeded after %s: %+v", took, res)
			}
			if ctx.Err() != nil || took > 5*time.Second {
				t.Fatalf("the call waited %s for a silent backend (error %v)", took, err)
			}
		})
	}
}

// inMemorySession is a client session with an empty in-memory server.
func inMemorySession(t *testing.T) *mcp.ClientSession {
	t.Helper()
	st, ct := mcp.NewInMemoryTransports()
	impl := &mcp.Implementation{Name: "t", Version: "1"}
	if _, err := mcp.NewServer(impl, nil).Connect(context.Background(), st, nil); err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(impl, nil).Connect(context.Background(), ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// quietBackend is a Streamable HTTP backend answering with event streams
// whose tool "quiet" sends a progress notification, then nothing until
// the test ends.
func quietBackend(t *testing.T) Backend {
	t.Helper()
	release := make(chan struct{})
	server := mcp.NewServer(&mcp.Implementation{Name: "a", Version: "1"}, nil)
	server.AddTool(&mcp.Tool{Name: "quiet", InputSchema: map[string]any{"type": "object"}},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: req.Params.GetProgressToken(), Progress: 1})
			select {
			case <-ctx.Done():
			case <-release:
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "late"}}}, nil
		})
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // first: srv.Close waits for the handler
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return Backend{Name: "a", URL: u}
}
