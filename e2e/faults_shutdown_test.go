package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// shutdownSlack is what an exit may take beyond timeouts.shutdown: the
// process's own exit and the test's view of it.
const shutdownSlack = 1500 * time.Millisecond

// TestFaultSIGTERMBound (issue 13 item 15): timeouts.shutdown bounds the
// whole exit, not only the drain. Everything after the drain is made slow
// at once: a call in flight outlasts the bound, and the OTLP collector
// accepts connections but never answers, so the span flush can only end by
// the deadline. Before the fix the drain took the whole bound and the
// child stop, audit flush and span flush each got 10 s more.
func TestFaultSIGTERMBound(t *testing.T) {
	t.Parallel()
	const shutdown = 4 * time.Second
	hole := startBlackhole(t)
	sink := filepath.Join(t.TempDir(), "audit.jsonl")
	g := startGatewayConfig(t, nil, gatewayConfig{
		admin: adminOn,
		log:   "{requests: errors}",
		extra: fmt.Sprintf(`timeouts: {shutdown: %s}
telemetry:
  serviceName: mcpgate-e2e-fault-bound
  traces: {exporter: otlp, endpoint: %q, protocol: http/protobuf, batchTimeout: 50ms, sampler: always_on}
  metrics: {exporter: none}
audit:
  enabled: true
  sink: %q
`, shutdown, hole.URL(), sink),
		backends: []backendSpec{stdioBackend()},
	}.String())
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	c := newStreamClient()
	defer c.CloseIdleConnections()
	sid, _, err := tryInit(c, g.URL, "1")
	if err != nil {
		t.Fatal(err)
	}
	st, err := openEventStream(ctx, c, g.URL, sid, slowBody("2", "bound", 60, 60))
	if err != nil {
		t.Fatal(err)
	}
	if before, ok := st.waitProgress(20 * time.Second); !ok {
		t.Fatalf("no progress notification within 20s; got:\n%s", describeMsgs(before))
	}
	// The spans of initialize are ended and their export hangs on the
	// collector.
	for end := time.Now().Add(10 * time.Second); hole.accepted() == 0; {
		if time.Now().After(end) {
			t.Fatal("the exporter did not connect to the collector within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}

	g.sigterm()
	termAt := time.Now()
	select {
	case <-g.done:
	case <-time.After(shutdown + 30*time.Second):
		t.Fatalf("mcpgate still running %v after SIGTERM", shutdown+30*time.Second)
	}
	took := time.Since(termAt)
	t.Logf("mcpgate exited %v after SIGTERM (timeouts.shutdown %v); the collector took %d connection(s)",
		took.Round(time.Millisecond), shutdown, hole.accepted())
	if took > shutdown+shutdownSlack {
		t.Errorf("exit took %v after SIGTERM, want at most timeouts.shutdown %v (+%v slack)", took.Round(time.Millisecond), shutdown, shutdownSlack)
	}
	if err := g.stop(); err != nil {
		t.Errorf("mcpgate did not exit with status 0: %v", err)
	}
	if !strings.Contains(g.Log.String(), `"msg":"stopped"`) {
		t.Errorf("no \"stopped\" line: the shutdown did not run to its end")
	}
	if _, ended := st.rest(5 * time.Second); !ended {
		t.Errorf("the call in flight was not ended by the shutdown")
	}
}
