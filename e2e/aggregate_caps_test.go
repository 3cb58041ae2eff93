package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAggregateSessionCaps (issue 13 item 5): in aggregating mode every
// client session costs a session with every backend — a server-everything
// child for the stdio one — so anonymous initializes beyond
// aggregate.maxSessionsPerPrincipal get 503 with Retry-After, and sessions
// that never send notifications/initialized are closed (their children
// stopped) after aggregate.initializeTimeout, giving their places back.
func TestAggregateSessionCaps(t *testing.T) {
	t.Parallel()
	web := startEverythingHTTP(t)
	backends := fmt.Sprintf(`
  - name: local
    command: [%q, %q, "stdio"]
  - name: web
    url: %q
`, nodeBin, everythingJS, web)
	g := startGateway(t, backendSpec{kind: "aggregate", yaml: backends}, gatewayOpts{admin: true,
		extra: "aggregate: {maxSessions: 10, maxSessionsPerPrincipal: 2, initializeTimeout: 2s}\n"})
	ag := &authGateway{gateway: g}

	// sessions reports the backend sessions /readyz counts, per backend.
	sessions := func() map[string]int {
		out := map[string]int{}
		for _, b := range g.readyz(t).Backends {
			if b.Sessions != nil {
				out[b.Name] = *b.Sessions
			}
		}
		return out
	}

	for i := range 2 {
		if r := ag.post(t, "", "initialize", "", nil); r.status != http.StatusOK || r.header.Get("Mcp-Session-Id") == "" {
			t.Fatalf("initialize %d: status %d, body %s", i+1, r.status, r.body)
		}
	}
	if got := sessions(); got["local"] != 2 || got["web"] != 2 {
		t.Fatalf("backend sessions %v, want 2 each", got)
	}
	r := ag.post(t, "", "initialize", "", nil)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "5" || !strings.Contains(string(r.body), "too many sessions") {
		t.Fatalf("third anonymous initialize: status %d, Retry-After %q, body %s; want 503, 5, too many sessions", r.status, r.header.Get("Retry-After"), r.body)
	}
	g.waitRequest(t, "the refused initialize", func(e logEntry) bool {
		return e.str("reason") == "session_limit" && e.status() == http.StatusServiceUnavailable
	})
	if got := sessions(); got["local"] != 2 || got["web"] != 2 {
		t.Fatalf("after the refused initialize, backend sessions %v, want still 2 each", got)
	}

	// Neither session sent notifications/initialized: both are closed.
	eventually(t, 15*time.Second, "uninitialized sessions closed", func() bool {
		got := sessions()
		return got["local"] == 0 && got["web"] == 0
	})
	sid := ag.initSession(t, nil)
	if p := ag.ping(t, sid, nil); !isResult(p) {
		t.Fatalf("ping on a fresh session: status %d, body %s", p.status, p.body)
	}
	time.Sleep(3 * time.Second) // past initializeTimeout: an initialized session stays
	if p := ag.ping(t, sid, nil); !isResult(p) {
		t.Fatalf("ping on the initialized session after the bound: status %d, body %s", p.status, p.body)
	}
}
