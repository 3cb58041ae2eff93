package e2e

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestAuditRejectedFlood (issue 13 item 7): a flood of unauthenticated
// requests must not write unbounded audit volume (it wrote about
// 2.5 MB/s). Per reason and second the first audit.rejectedPerSecond
// rejections are written in full and the rest folded into one
// rejected_summary with a count; every 401 is accounted for, the folded
// ones are counted by mcpgate.audit.rejected.folded, and the events of the
// authenticated requests made during the flood are all written.
func TestAuditRejectedFlood(t *testing.T) {
	t.Parallel()
	const (
		perSecond = 20
		workers   = 8
		maxFlood  = 40000           // requests, at most
		maxTime   = 3 * time.Second // and at most this long
		admitted  = 30              // authenticated calls during the flood
	)
	key := newAPIKey(t, "flood-test")
	sink := filepath.Join(t.TempDir(), "audit.jsonl")
	cfg := gatewayConfig{
		port:  freeClosedPort(t),
		admin: adminOn,
		log:   "{requests: errors}",
		extra: fmt.Sprintf(`telemetry: {metrics: {exporter: prometheus}}
audit:
  enabled: true
  sink: %q
  rejectedPerSecond: %d
`, sink, perSecond),
		backends: []backendSpec{stdioBackend()},
	}
	cfg.auth = fmt.Sprintf("\n  mode: [apiKey]\n  resource: %s\n  apiKeys:\n    %s", cfg.resource(), key.Entry)
	g := startGatewayConfig(t, nil, cfg.String())
	auth := map[string]string{"X-API-Key": key.Key}
	sid := openSession(t, g.URL, 1, "flood-client", auth)

	// The flood: unauthenticated tools/list, bounded in count and time.
	var sent, not401 atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	began := time.Now()
	for range workers {
		wg.Go(func() {
			c := &http.Client{Timeout: callTimeout}
			defer c.CloseIdleConnections()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if sent.Add(1) > maxFlood || time.Since(began) > maxTime {
					sent.Add(-1)
					return
				}
				req, _ := http.NewRequest(http.MethodPost, g.URL, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/json, text/event-stream")
				req.Header.Set("MCP-Protocol-Version", sessionProto)
				r, err := tryDoMCP(c, req)
				if err != nil || r.status != http.StatusUnauthorized {
					not401.Add(1)
				}
			}
		})
	}
	// Admitted requests while the flood runs: none may be folded.
	for i := range admitted {
		callEcho(t, g.URL, sid, strconv.Itoa(1000+i), auth)
	}
	wg.Wait()
	close(stop)
	elapsed := time.Since(began)
	n := sent.Load()
	if not401.Load() > 0 {
		t.Fatalf("%d of %d flood requests were not answered 401", not401.Load(), n)
	}
	text, _, err := scrapeOpenMetrics(g.Admin)
	if err != nil {
		t.Fatalf("scraping the self-metrics: %v", err)
	}
	foldedMetric, _ := promSample(text, "mcpgate_audit_rejected_folded_total")
	dropped, _ := promSample(text, "mcpgate_audit_dropped_total")
	if err := g.stop(); err != nil { // Close writes the last summaries
		t.Fatal(err)
	}

	events, data := readAuditLog(t, sink)
	full, summaries := 0, 0
	var folded int64
	longest := 0
	ok := map[string]bool{}
	for _, e := range events {
		longest = max(longest, len(e.line)+1)
		switch {
		case e.str("event") == "rejected" && e.str("error.type") == "unauthenticated":
			full++
		case e.str("event") == "rejected_summary" && e.str("error.type") == "unauthenticated":
			summaries++
			f, _ := e.get("folded").(float64)
			folded += int64(f)
			if e.str("outcome") != "denied" || e.get("http.status") != float64(401) || e.str("since") == "" {
				t.Errorf("summary %s: want outcome denied, http.status 401 and since", e.line)
			}
		case e.str("event") == "tool_call" && e.str("outcome") == "success":
			ok[fmt.Sprint(e.get("mcp.id"))] = true
		}
	}
	t.Logf("%d unauthenticated requests in %v (%.0f/s): %d audit bytes (%.1f per request, %.0f B/s), %d events in full, %d summaries folding %d",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), len(data), float64(len(data))/float64(n),
		float64(len(data))/elapsed.Seconds(), full, summaries, folded)

	// Every 401 is in the log: in full, or counted in a summary.
	if int64(full)+folded != n {
		t.Errorf("%d in full + %d folded = %d, want the %d requests sent", full, folded, int64(full)+folded, n)
	}
	if foldedMetric != float64(folded) {
		t.Errorf("mcpgate.audit.rejected.folded = %v, want the summaries' %d", foldedMetric, folded)
	}
	// Bounded by time, not by the flood: per second of flood (and one
	// window more, a window starts with its first event) at most
	// perSecond events in full and one summary.
	windows := int(elapsed/time.Second) + 2
	if full > perSecond*windows || summaries > windows {
		t.Errorf("%d events in full and %d summaries in %v, want at most %d and %d", full, summaries, elapsed, perSecond*windows, windows)
	}
	if limit := windows * (perSecond + 1) * longest; len(data) > limit+admitted*2*longest {
		t.Errorf("%d audit bytes for %v of flood, want at most %d", len(data), elapsed, limit)
	}
	if n < 20*perSecond {
		t.Errorf("only %d flood requests were made: not a flood, the test proves nothing", n)
	}
	for i := range admitted {
		if id := strconv.Itoa(1000 + i); !ok[id] {
			t.Errorf("the authenticated call %s during the flood has no success event", id)
		}
	}
	if dropped != 0 {
		t.Errorf("mcpgate.audit.dropped = %v, want 0", dropped)
	}
}
