package e2e

// Rate limits shared through a real Redis: two gateway processes in front
// of server-everything, one per-principal rule, one redis-server started
// here (skipped only when redis-server is not installed; .ci/run installs
// it).

import (
	"bufio"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/testredis"
)

// TestRateLimitsSharedThroughRedis: two gateways sharing one Redis admit
// the limit in all, not twice it; with Redis killed each falls back to its
// share (limit / replicas) in memory, every fallback counted on
// mcpgate.ratelimit.store.fallbacks and the outage logged once; with Redis
// back, the limit is shared again.
func TestRateLimitsSharedThroughRedis(t *testing.T) {
	const limit = 6 // per principal and hour; replicas: 2, so a share is 3
	rs := testredis.Start(t)
	key := newAPIKey(t, "rate-limited-bot")
	_, keyFile := writePseudonymKey(t, t.TempDir(), "rl")
	var gws [2]*gateway
	var sids [2]string
	for i := range gws {
		c := gatewayConfig{port: freeClosedPort(t), admin: adminOn, backends: []backendSpec{stdioBackend()}}
		c.auth = fmt.Sprintf("\n  mode: apiKey\n  resource: %s\n  apiKeys:\n    %s", c.resource(), key.Entry)
		c.extra = fmt.Sprintf(`pseudonymization:
  keys:
    - {id: k1, file: %q}
rateLimits:
  store: redis
  redis: {url: %q}
  replicas: 2
  rules:
    - {name: per-bot, per: principal, methods: [tools/call], limit: %d, window: 1h}
`, keyFile, rs.URL(), limit)
		gws[i] = startGatewayConfig(t, nil, c.String())
		sids[i] = openSession(t, gws[i].URL, 1, "e2e-ratelimit", map[string]string{"X-API-Key": key.Key})
	}
	id := 100
	// round sends n calls, alternating between the gateways, and returns
	// how many each admitted; every refusal must be a proper 429.
	round := func(t *testing.T, n int) [2]int {
		t.Helper()
		var admitted [2]int
		for i := range n {
			g := i % 2
			id++
			r := postMCP(t, gws[g].URL, sids[g], echoBody(strconv.Itoa(id), "rl"), map[string]string{"X-API-Key": key.Key})
			switch r.status {
			case http.StatusOK:
				admitted[g]++
			case http.StatusTooManyRequests:
				code, msg, ok := r.rpcError()
				if !ok || code != -32029 || !strings.Contains(msg, `rule "per-bot"`) || r.header.Get("Retry-After") == "" {
					t.Fatalf("call %d: 429 without the rate-limit error: code %d %q, Retry-After %q, body %s",
						id, code, msg, r.header.Get("Retry-After"), r.body)
				}
				if got := fmt.Sprint(r.msg["id"]); got != strconv.Itoa(id) {
					t.Fatalf("call %d: the error's id is %v", id, r.msg["id"])
				}
			default:
				t.Fatalf("call %d: status %d, body %s", id, r.status, r.body)
			}
		}
		return admitted
	}

	t.Run("shared: the limit in all, not twice it", func(t *testing.T) {
		a := round(t, 3*limit)
		if a[0]+a[1] != limit || a[0] == 0 || a[1] == 0 {
			t.Fatalf("the gateways admitted %v, want %d in all with both admitting", a, limit)
		}
		for _, g := range gws {
			if v := promValue(t, g, "mcpgate_ratelimit_decisions_total", `mcpgate_ratelimit_decision="limited"`); v == 0 {
				t.Errorf("no limited decision on %s/metrics", g.Admin)
			}
		}
		// The one shared bucket is keyed on the principal's pseudonym,
		// never on its subject.
		keys := rs.Keys(t)
		if len(keys) != 1 || !keyRe.MatchString(keys[0]) || strings.Contains(keys[0], "rate-limited-bot") {
			t.Errorf("Redis keys %q, want one rate:mcpgate:rl:per-bot:p:<pseudonym>", keys)
		}
	})

	t.Run("Redis killed: each its share, every fallback counted", func(t *testing.T) {
		rs.Stop()
		a := round(t, 3*limit)
		if a != [2]int{limit / 2, limit / 2} {
			t.Fatalf("during the outage the gateways admitted %v, want %d each (limit / replicas)", a, limit/2)
		}
		for i, g := range gws {
			// Every call was decided by the fallback: 3*limit/2 per gateway.
			if v := promValue(t, g, "mcpgate_ratelimit_store_fallbacks_total",
				`mcpgate_ratelimit_rule="per-bot"`, `mcpgate_ratelimit_on_store_failure="local"`); v != 3*limit/2 {
				t.Errorf("gateway %d: fallbacks %v, want %d", i, v, 3*limit/2)
			}
			if n := len(linesWith(g.Log.Lines(), "rate-limit store unreachable")); n != 1 {
				t.Errorf("gateway %d: %d outage warnings, want 1", i, n)
			}
			if v := promValue(t, g, "mcpgate_ratelimit_decisions_total", `mcpgate_ratelimit_decision="limited_fallback"`); v != limit {
				t.Errorf("gateway %d: limited_fallback decisions %v, want %d", i, v, limit)
			}
		}
	})

	t.Run("Redis back: shared again", func(t *testing.T) {
		rs.Start()
		// The limiter probes the store at most once a second.
		time.Sleep(1200 * time.Millisecond)
		// The restarted server has no buckets: the whole limit again, in
		// all.
		a := round(t, 3*limit)
		if a[0]+a[1] != limit {
			t.Fatalf("with Redis back the gateways admitted %v, want %d in all", a, limit)
		}
		for i, g := range gws {
			if n := len(linesWith(g.Log.Lines(), "rate-limit store reachable again")); n != 1 {
				t.Errorf("gateway %d: %d recovery lines, want 1", i, n)
			}
		}
	})
}

// keyRe is a per-principal bucket's Redis key: redis_rate's prefix, the
// rule, and the principal's keyed pseudonym (hex).
var keyRe = regexp.MustCompile(`^rate:mcpgate:rl:per-bot:p:[0-9a-f]{16,}$`)

// promValue is the value of the series name with every one of labels on
// g's admin /metrics (Prometheus text); 0 when there is none.
func promValue(t *testing.T, g *gateway, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get(g.Admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
next:
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(line, l) {
				continue next
			}
		}
		v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		return v
	}
	return 0
}
