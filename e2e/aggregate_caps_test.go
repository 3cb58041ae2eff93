package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAggregateSessionCaps (issue 13 item 5): in aggregating mode every
// client session costs a session with every backend — a server-everything
// child for the stdio one — so anonymous initializes beyond
// aggregate.maxSessionsPerPrincipal get 503 with Retry-After, and sessions
// that never send notifications/initialized are closed (their children
// stopped) after aggregate.initializeTimeout, giving their places back.
// capsInitTimeout is aggregate.initializeTimeout there: long enough for
// the test's own requests on a busy host, short enough to wait for.
const capsInitTimeout = 8 * time.Second

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
		extra: fmt.Sprintf("aggregate: {maxSessions: 10, maxSessionsPerPrincipal: 2, initializeTimeout: %s}\n", capsInitTimeout)})
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

	// Both at once: each spawns a child, which takes seconds on a busy
	// host, and both must still be open when the third comes.
	var wg sync.WaitGroup
	replies := make([]reply, 2)
	for i := range replies {
		wg.Go(func() { replies[i] = ag.post(t, "", "initialize", "", nil) })
	}
	wg.Wait()
	for i, r := range replies {
		if r.status != http.StatusOK || r.header.Get("Mcp-Session-Id") == "" {
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
	eventually(t, capsInitTimeout+15*time.Second, "uninitialized sessions closed", func() bool {
		got := sessions()
		return got["local"] == 0 && got["web"] == 0
	})
	// Their places come back once their backend sessions are closed (a
	// child is given up to 2s to exit).
	var sid string
	eventually(t, 15*time.Second, "a place under the cap free again", func() bool {
		r := ag.post(t, "", "initialize", "", nil)
		if r.status == http.StatusServiceUnavailable {
			return false
		}
		if sid = r.header.Get("Mcp-Session-Id"); r.status != http.StatusOK || sid == "" {
			t.Fatalf("initialize: status %d, body %s", r.status, r.body)
		}
		return true
	})
	if n := ag.post(t, "", "notifications/initialized", sid, nil); n.status != http.StatusAccepted {
		t.Fatalf("notifications/initialized: status %d, body %s", n.status, n.body)
	}
	if p := ag.ping(t, sid, nil); !isResult(p) {
		t.Fatalf("ping on a fresh session: status %d, body %s", p.status, p.body)
	}
	time.Sleep(capsInitTimeout + time.Second) // an initialized session stays
	if p := ag.ping(t, sid, nil); !isResult(p) {
		t.Fatalf("ping on the initialized session after the bound: status %d, body %s", p.status, p.body)
	}
}
