package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestStdioConcurrentSessions opens 20 Go SDK sessions at once against the
// stdio backend — one child process each — and checks that every echo
// response answers its own request, and that one session's slow tool call
// does not hold up the others: every fast call completes before the slow
// call returns.
func TestStdioConcurrentSessions(t *testing.T) {
	t.Parallel()
	const (
		sessions      = 20
		echoesPerConn = 5
	)
	g := startGateway(t, stdioBackend(), gatewayOpts{admin: true, extra: "sessions: {idleTimeout: 5m}\n"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*callTimeout)
	defer cancel()

	// Connect every session first (each starts a child), so the timing
	// comparison below is about calls, not about process start-up.
	css := make([]*mcp.ClientSession, sessions)
	var wg sync.WaitGroup
	errs := make(chan error, sessions*(echoesPerConn+2))
	slowInFlight := make(chan struct{})
	var inFlightOnce sync.Once
	for i := range sessions {
		wg.Go(func() {
			var opts *mcp.ClientOptions
			if i == 0 {
				opts = &mcp.ClientOptions{ProgressNotificationHandler: func(context.Context, *mcp.ProgressNotificationClientRequest) {
					inFlightOnce.Do(func() { close(slowInFlight) })
				}}
			}
			c := mcp.NewClient(&mcp.Implementation{Name: fmt.Sprintf("e2e-conc-%02d", i), Version: "1"}, opts)
			cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: g.URL, MaxRetries: -1, DisableStandaloneSSE: true}, nil)
			if err != nil {
				errs <- fmt.Errorf("session %d: connect: %w", i, err)
				return
			}
			css[i] = cs
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, cs := range css {
			if cs != nil {
				cs.Close()
			}
		}
	})
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	slow := css[0]
	ids := map[string]bool{}
	for _, cs := range css {
		ids[cs.ID()] = true
	}
	if len(ids) != sessions {
		t.Fatalf("got %d distinct session ids for %d sessions", len(ids), sessions)
	}
	if d := g.readyz(t); *d.Backends[0].Sessions != sessions {
		t.Errorf("/readyz sessions = %d, want %d (one child per session)", *d.Backends[0].Sessions, sessions)
	}
	pids := map[int]bool{}
	for _, cs := range css {
		pids[g.childPID(t, cs.ID())] = true
	}
	if len(pids) != sessions {
		t.Errorf("%d distinct stdio child pids for %d sessions, want one child each", len(pids), sessions)
	}

	// Session 0 runs a ~3 s operation; once its first progress notification
	// shows it is in flight, the others echo.
	var slowEnd time.Time
	var mu sync.Mutex
	var fastEnds []time.Time
	slowDone := make(chan struct{})
	wg.Go(func() {
		defer close(slowDone)
		params := &mcp.CallToolParams{Name: "trigger-long-running-operation", Arguments: map[string]any{"duration": 3, "steps": 6}}
		params.SetProgressToken("slow")
		res, err := slow.CallTool(ctx, params)
		slowEnd = time.Now()
		if err != nil {
			errs <- fmt.Errorf("slow call: %w", err)
		} else if !strings.Contains(textOf(res), "Long running operation completed") {
			errs <- fmt.Errorf("slow call returned %q", textOf(res))
		}
	})
	select {
	case <-slowInFlight:
	case <-slowDone:
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		t.Fatal("the slow call returned before sending any progress notification")
	case <-ctx.Done():
		t.Fatal("no progress from the slow call")
	}
	for i := 1; i < sessions; i++ {
		wg.Go(func() {
			for j := range echoesPerConn {
				msg := fmt.Sprintf("session %02d (%s) call %d", i, css[i].ID(), j)
				res, err := css[i].CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": msg}})
				end := time.Now()
				if err != nil {
					errs <- fmt.Errorf("session %d call %d: %w", i, j, err)
					return
				}
				if got := textOf(res); got != "Echo: "+msg {
					errs <- fmt.Errorf("session %d call %d: got %q, want %q (a response crossed sessions?)", i, j, got, "Echo: "+msg)
				}
				mu.Lock()
				fastEnds = append(fastEnds, end)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	if want := (sessions - 1) * echoesPerConn; len(fastEnds) != want {
		t.Fatalf("%d echo calls completed, want %d", len(fastEnds), want)
	}
	late := 0
	var lastFast time.Time
	for _, e := range fastEnds {
		if !e.Before(slowEnd) {
			late++
		}
		if e.After(lastFast) {
			lastFast = e
		}
	}
	if late > 0 {
		t.Errorf("%d of %d echo calls completed after the slow call returned: the slow session held up the others", late, len(fastEnds))
	}
	t.Logf("last echo completed %v before the slow call returned", slowEnd.Sub(lastFast).Round(time.Millisecond))
}

// TestStdioDeleteThenReuse: after DELETE, the same session id is unknown
// (404), whatever the client sends next; the gateway logs the reason.
func TestStdioDeleteThenReuse(t *testing.T) {
	t.Parallel()
	g := startGateway(t, stdioBackend(), gatewayOpts{admin: true})
	sid := rawInitialize(t, g.URL, "2025-06-18")
	g.waitSessions(t, 1)

	resp := rawDo(t, http.MethodDelete, g.URL, nil, map[string]string{"Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-06-18"})
	if resp.status < 200 || resp.status >= 300 {
		t.Fatalf("DELETE: status %d, body %s", resp.status, resp.body)
	}
	g.waitSessions(t, 0)

	for _, c := range []struct {
		name, method, body string
	}{
		{"POST tools/list", http.MethodPost, `{"jsonrpc":"2.0","id":7,"method":"tools/list"}`},
		{"POST notification", http.MethodPost, `{"jsonrpc":"2.0","method":"notifications/initialized"}`},
		{"GET stream", http.MethodGet, ""},
		{"DELETE again", http.MethodDelete, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var body []byte
			if c.body != "" {
				body = []byte(c.body)
			}
			resp := rawDo(t, c.method, g.URL, body, map[string]string{"Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-06-18"})
			if resp.status != http.StatusNotFound {
				t.Errorf("%s with a deleted session id: status %d, want 404; body %s", c.name, resp.status, resp.body)
			}
			g.waitRequest(t, c.name+" → 404 session_not_found", func(e logEntry) bool {
				return e.str("http.method") == c.method && e.status() == http.StatusNotFound && e.str("reason") == "session_not_found"
			})
		})
	}
	// A new session still works.
	rawInitialize(t, g.URL, "2025-06-18")
}
