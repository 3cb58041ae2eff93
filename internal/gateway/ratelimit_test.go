package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/config"
	"github.com/mcpgate/mcpgate/internal/testredis"
)

// testKey is a pseudonymization key (32 bytes of 0x07, base64).
const testKey = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="

// rateLimitedGateway is a relay to a backend that counts the calls it
// gets, with head and the rateLimits section rl.
func rateLimitedGateway(t *testing.T, rl string, logs io.Writer) (*Gateway, *atomic.Int64) {
	t.Helper()
	var reached atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		reached.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{"content":[]}}`)
	}))
	t.Cleanup(backend.Close)
	t.Setenv("MCPGATE_TEST_PSEUDONYM_KEY", testKey)
	src := "listen: 127.0.0.1:0\nadmin: {listen: \"127.0.0.1:0\"}\nallowedHosts: [example.com]\n" +
		"backends:\n  - {name: b, url: \"" + backend.URL + "/mcp\"}\n" +
		"auth: {mode: anonymous}\n" +
		"pseudonymization: {keys: [{id: k1, env: MCPGATE_TEST_PSEUDONYM_KEY}]}\n" + rl
	cfg, err := config.Parse("mcpgate.yaml", []byte(src), config.Lookup{})
	if err != nil {
		t.Fatal(err)
	}
	var log *slog.Logger
	if logs != nil {
		log = newLogger(logs)
	}
	return newGateway(t, cfg, log), &reached
}

func toolCallFrom(addr string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"echo"}}`))
	req.RemoteAddr = addr
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-06-18")
	return req
}

func scrape(t *testing.T, g *Gateway) string {
	t.Helper()
	w := httptest.NewRecorder()
	g.adminMux().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("/metrics: %d", w.Code)
	}
	return w.Body.String()
}

// metricValue is the value of the Prometheus series whose name is name and
// whose labels include every one of labels; 0 when there is none.
func metricValue(text, name string, labels ...string) float64 {
	sc := bufio.NewScanner(strings.NewReader(text))
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

// TestRateLimitsThroughTheGateway: the wired stage limits anonymous
// callers by address, answers 429 with Retry-After and the request's id,
// keeps the rejected call from the backend, counts the decisions by rule
// and decision, and logs the reason.
func TestRateLimitsThroughTheGateway(t *testing.T) {
	for _, k := range []string{"OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		t.Setenv(k, "")
	}
	var logs logBuf
	g, reached := rateLimitedGateway(t, "rateLimits:\n  rules:\n    - {name: per-caller, per: principal, methods: [tools/call], limit: 2, window: 1h}\n", &logs)
	tests := []struct {
		name       string
		addr       string
		wantStatus int
	}{
		{"first from A", "198.51.100.1:1000", http.StatusOK},
		{"second from A", "198.51.100.1:1001", http.StatusOK},
		{"third from A is limited", "198.51.100.1:1002", http.StatusTooManyRequests},
		{"B has its own bucket", "198.51.100.2:1000", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := reached.Load()
			w := httptest.NewRecorder()
			g.Handler().ServeHTTP(w, toolCallFrom(tc.addr))
			if w.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.wantStatus, w.Body)
			}
			if tc.wantStatus == http.StatusOK {
				if reached.Load() != before+1 {
					t.Fatal("the admitted call did not reach the backend")
				}
				return
			}
			if reached.Load() != before {
				t.Fatal("the limited call reached the backend")
			}
			// 2 an hour: the next slot is 30 minutes away (less the
			// milliseconds the test took).
			if ra := w.Header().Get("Retry-After"); ra != "1800" {
				t.Errorf("Retry-After %q, want 1800", ra)
			}
			body := w.Body.String()
			if !strings.Contains(body, `"id":42`) || !strings.Contains(body, `"code":-32029`) ||
				!strings.Contains(body, "retry after 1800s") {
				t.Errorf("body %s", body)
			}
			// The milliseconds the test took come off the delay, and a
			// fast run takes none.
			var resp struct {
				Error struct {
					Data struct {
						RetryAfterMs int64 `json:"retryAfterMs"`
					} `json:"data"`
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(body), &resp); err != nil {
				t.Fatal(err)
			}
			if ms := resp.Error.Data.RetryAfterMs; ms < 1_790_000 || ms > 1_800_000 {
				t.Errorf("retryAfterMs %d, want within 10 s under 1,800,000", ms)
			}
		})
	}
	m := scrape(t, g)
	if v := metricValue(m, "mcpgate_ratelimit_decisions_total", `mcpgate_ratelimit_rule="per-caller"`, `mcpgate_ratelimit_decision="allowed"`); v != 3 {
		t.Errorf("allowed decisions %v, want 3\n%s", v, m)
	}
	if v := metricValue(m, "mcpgate_ratelimit_decisions_total", `mcpgate_ratelimit_decision="limited"`); v != 1 {
		t.Errorf("limited decisions %v, want 1", v)
	}
	lines := logs.requests(t)
	if len(lines) != 1 || lines[0]["reason"] != "rate_limited" {
		t.Errorf("request log lines %v, want one with reason rate_limited", lines)
	}
}

// TestRateLimitsRedisUnreachableAtStart: a Redis that cannot be reached
// does not stop the gateway from starting; the outage is logged once, at
// start, and onStoreFailure (local, one replica: the whole limit) decides
// meanwhile, each decision counted on mcpgate.ratelimit.store.fallbacks.
func TestRateLimitsRedisUnreachableAtStart(t *testing.T) {
	for _, k := range []string{"OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		t.Setenv(k, "")
	}
	var logs logBuf
	g, reached := rateLimitedGateway(t, "rateLimits:\n  store: redis\n  redis: {url: \"redis://127.0.0.1:1/0\"}\n"+
		"  rules:\n    - {name: all, per: global, methods: [tools/call], limit: 1, window: 1h}\n", &logs)
	codes := []int{}
	for range 3 {
		w := httptest.NewRecorder()
		g.Handler().ServeHTTP(w, toolCallFrom("198.51.100.1:1000"))
		codes = append(codes, w.Code)
	}
	if fmt.Sprint(codes) != "[200 429 429]" || reached.Load() != 1 {
		t.Fatalf("statuses %v, %d reached the backend; want [200 429 429] and 1", codes, reached.Load())
	}
	logs.mu.Lock()
	text := logs.b.String()
	logs.mu.Unlock()
	if n := strings.Count(text, "rate-limit store unreachable"); n != 1 {
		t.Errorf("%d outage warnings, want 1:\n%s", n, text)
	}
	m := scrape(t, g)
	if v := metricValue(m, "mcpgate_ratelimit_store_fallbacks_total", `mcpgate_ratelimit_rule="all"`, `mcpgate_ratelimit_on_store_failure="local"`); v != 3 {
		t.Errorf("fallbacks %v, want 3\n%s", v, m)
	}
	if v := metricValue(m, "mcpgate_ratelimit_decisions_total", `mcpgate_ratelimit_decision="limited_fallback"`); v != 2 {
		t.Errorf("limited_fallback decisions %v, want 2", v)
	}
}

// TestRateLimitsRedisReleased: the Redis client's connections are closed
// when a later step of New fails (the undo list) and when the gateway
// shuts down — counted on the server, a real redis-server.
func TestRateLimitsRedisReleased(t *testing.T) {
	srv := testredis.Start(t)
	rl := "rateLimits:\n  store: redis\n  redis: {url: \"" + srv.URL() + "\"}\n" +
		"  rules:\n    - {name: all, per: global, methods: [tools/call], limit: 10, window: 1m}\n"
	head := "listen: 127.0.0.1:0\nadmin: {listen: \"\"}\nbackends:\n  - {name: a, url: \"http://127.0.0.1:1/mcp\"}\n" +
		"auth: {mode: anonymous}\n" + rl
	base := srv.Clients(t)

	t.Run("a failed New", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "missing.pem")
		cfg, err := config.Parse("mcpgate.yaml", []byte(head+"tls: {certFile: "+missing+", keyFile: "+missing+"}\n"), config.Lookup{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := New(cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "missing.pem") {
			t.Fatalf("New = %v, want the certificate's error", err)
		}
		waitClients(t, srv, base)
	})
	t.Run("shutdown", func(t *testing.T) {
		cfg, err := config.Parse("mcpgate.yaml", []byte(head), config.Lookup{})
		if err != nil {
			t.Fatal(err)
		}
		g, err := New(cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if n := srv.Clients(t); n <= base {
			t.Fatalf("%d clients after New, want more than %d (the start-up check connects)", n, base)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- g.Run(ctx, nil) }()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		waitClients(t, srv, base)
	})
}

// waitClients waits until at most n clients are connected to s.
func waitClients(t *testing.T, s *testredis.Server, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.Clients(t) > n {
		if time.Now().After(deadline) {
			t.Fatalf("%d Redis clients still connected, want %d: the client was not closed", s.Clients(t), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
