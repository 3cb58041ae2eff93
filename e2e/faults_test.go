package e2e

// Fault tests: a real gateway process while one of its real peers fails —
// an HTTP backend killed in the middle of a streamed call, a stdio child
// killed under its session, the trace collector killed and restarted under
// load — and the gateway itself told to stop (SIGTERM) under load. Each
// asserts what docs/operations.md ("Failure behaviour", "Signals and
// shutdown") and docs/protocol.md promise: the failure reaches exactly the
// requests it concerns, as a JSON-RPC error, the gateway keeps serving
// everyone else, and nothing it completed is lost.
//
// Covered elsewhere, so not repeated here: an identity provider down at
// start and later (auth_test.go, TestAuthIdPDownAtStart), an audit sink that
// cannot be opened or fails while serving (audit_test.go, TestAuditSink),
// SIGTERM right after a burst and with audit events queued (TestAuditSink),
// an OTLP endpoint that hangs or refuses from the start
// (TestTelemetryNeverBlocks), an HTTP backend unreachable from the start
// (TestBackendUnreachable), and an aggregated backend stopped and restarted
// between calls (TestAggregate).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/testidp"
)

// TestFaultHTTPBackendKilledMidStream: server-everything over Streamable
// HTTP is killed (SIGKILL) while a long tools/call streams progress over SSE
// through the gateway. The call gets one JSON-RPC error event (-32000,
// naming the backend) and its stream then ends cleanly; the session's next
// request gets a 502 with a JSON-RPC error while the backend is down; once
// the backend is started again at the same address, a new session's calls
// (a plain one and a streamed one) succeed through the same gateway process.
func TestFaultHTTPBackendKilledMidStream(t *testing.T) {
	t.Parallel()
	be := startEverythingHTTPOn(t, 0)
	g := startGateway(t, httpBackend(be.URL()), gatewayOpts{})
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	c := newStreamClient()
	defer c.CloseIdleConnections()

	sid, _, err := tryInit(c, g.URL, "1")
	if err != nil {
		t.Fatal(err)
	}
	// 30 steps of a second: the call is certainly still streaming when the
	// backend dies, and would not end on its own within the bounds below.
	st, err := openEventStream(ctx, c, g.URL, sid, slowBody("2", "slow-2", 30, 30))
	if err != nil {
		t.Fatalf("tools/call trigger-long-running-operation: %v", err)
	}
	if before, ok := st.waitProgress(20 * time.Second); !ok {
		t.Fatalf("no progress notification on the call's stream within 20s; got:\n%s", describeMsgs(before))
	}
	be.kill(t)

	msgs, ended := st.rest(15 * time.Second)
	if !ended {
		t.Fatalf("the call's stream was still open 15s after its backend was killed; got:\n%s", describeMsgs(msgs))
	}
	if st.err != nil || st.unterminated != "" {
		t.Errorf("the call's stream ended with a read error (%v) or inside an event (%q), want a clean end after the error event", st.err, st.unterminated)
	}
	resp, n := responseTo(msgs, "2")
	switch {
	case n != 1:
		t.Errorf("%d responses to the call after the kill, want exactly one JSON-RPC error; got:\n%s", n, describeMsgs(msgs))
	case resp.Error == nil || resp.Error.Code != -32000 || !strings.Contains(resp.Error.Message, `backend "everything"`):
		t.Errorf("the call's response after the kill: %s; want a JSON-RPC error -32000 naming backend \"everything\"", resp.Raw)
	default:
		t.Logf("the broken call got: %s", resp.Raw)
	}
	if e := g.waitRequest(t, "the broken call", func(e logEntry) bool { return e.str("jsonrpc.id") == "2" }); e != nil &&
		e.str("reason") != "upstream_unavailable" {
		t.Errorf("the broken call is logged with reason %q, want upstream_unavailable: %v", e.str("reason"), e)
	}

	// While the backend is down: the next request fails at once, with a
	// JSON-RPC error naming the backend (docs/operations.md).
	r, down, err := postMsgs(c, g.URL, sid, echoBody("3", "while down"), 30*time.Second)
	if err != nil {
		t.Fatalf("tools/call while the backend is down: %v", err)
	}
	if m, n := responseTo(down, "3"); r.status != http.StatusBadGateway || n != 1 || m.Error == nil || m.Error.Code != -32000 ||
		!strings.Contains(m.Error.Message, "everything") {
		t.Errorf("tools/call while the backend is down: status %d, body %s; want 502 with a JSON-RPC error -32000 naming the backend", r.status, tail(r.body, 500))
	}

	// Back at the same address: a new session works end to end, through
	// the same gateway process (its cleanup asserts a clean exit, so it
	// has not crashed meanwhile).
	be2 := startEverythingHTTPOn(t, be.port)
	sid2, _, err := tryInit(c, g.URL, "11")
	if err != nil {
		t.Fatalf("a new session after the backend came back at %s: %v", be2.Addr(), err)
	}
	if err := tryEcho(c, g.URL, sid2, "12", "back again", 30*time.Second); err != nil {
		t.Errorf("tools/call echo after the backend came back: %v", err)
	}
	st2, err := openEventStream(ctx, c, g.URL, sid2, slowBody("13", "slow-13", 1, 2))
	if err != nil {
		t.Fatalf("a streamed call after the backend came back: %v", err)
	}
	msgs, ended = st2.rest(30 * time.Second)
	if m, n := responseTo(msgs, "13"); !ended || st2.err != nil || n != 1 || m.Error != nil ||
		!strings.Contains(string(m.Result), "Long running operation completed") {
		t.Errorf("a streamed call after the backend came back: ended %v (%v), messages:\n%s", ended, st2.err, describeMsgs(msgs))
	}
}

// TestFaultStdioChildKilled: two sessions on server-everything over stdio
// (isolation: session, one child each). One session's child is killed
// (SIGKILL) while a call of that session is in flight: that call gets a
// JSON-RPC error (-32000) and its stream ends, the session is gone (404 on
// its next request), the other session keeps working with its own child,
// and a new session gets a new child — after the start back-off a quick
// death causes, during which initialize may be answered 503 with
// Retry-After (docs/protocol.md).
func TestFaultStdioChildKilled(t *testing.T) {
	t.Parallel()
	backend := backendSpec{kind: "stdio", yaml: fmt.Sprintf(`
  - name: everything
    command: [%q, %q, "stdio"]
    isolation: session
`, nodeBin, everythingJS)}
	g := startGateway(t, backend, gatewayOpts{admin: true})
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	c := newStreamClient()
	defer c.CloseIdleConnections()

	sidA, _, err := tryInit(c, g.URL, "1")
	if err != nil {
		t.Fatal(err)
	}
	sidB, _, err := tryInit(c, g.URL, "2")
	if err != nil {
		t.Fatal(err)
	}
	g.waitSessions(t, 2)
	pidA, pidB := g.childPID(t, sidA), g.childPID(t, sidB)
	if pidA == pidB {
		t.Fatalf("both sessions are served by pid %d, want one child each", pidA)
	}

	st, err := openEventStream(ctx, c, g.URL, sidA, slowBody("3", "slow-3", 30, 30))
	if err != nil {
		t.Fatalf("tools/call trigger-long-running-operation on session A: %v", err)
	}
	if before, ok := st.waitProgress(20 * time.Second); !ok {
		t.Fatalf("no progress notification on session A's call within 20s; got:\n%s", describeMsgs(before))
	}
	if err := syscall.Kill(pidA, syscall.SIGKILL); err != nil {
		t.Fatalf("killing session A's child (pid %d): %v", pidA, err)
	}

	// The call in flight learns it failed; its stream ends.
	msgs, ended := st.rest(15 * time.Second)
	if !ended {
		t.Fatalf("session A's call was still open 15s after its child was killed; got:\n%s", describeMsgs(msgs))
	}
	if st.err != nil || st.unterminated != "" {
		t.Errorf("session A's call ended with a read error (%v) or inside an event (%q), want a clean end after the error", st.err, st.unterminated)
	}
	if m, n := responseTo(msgs, "3"); n != 1 || m.Error == nil || m.Error.Code != -32000 {
		t.Errorf("session A's call after its child died: %d response(s), want one JSON-RPC error -32000; got:\n%s", n, describeMsgs(msgs))
	} else {
		t.Logf("the call in flight got: %s", m.Raw)
	}
	waitProcessGone(t, pidA, "session A's killed child")

	// Session A is gone: 404 with a JSON-RPC error.
	r, gone, err := postMsgs(c, g.URL, sidA, echoBody("4", "after the kill"), 30*time.Second)
	if err != nil {
		t.Fatalf("tools/call on session A after its child died: %v", err)
	}
	if m, n := responseTo(gone, "4"); r.status != http.StatusNotFound || n != 1 || m.Error == nil {
		t.Errorf("tools/call on session A after its child died: status %d, body %s; want 404 with a JSON-RPC error", r.status, tail(r.body, 500))
	}
	if e := g.waitRequest(t, "session A's request after the kill", func(e logEntry) bool { return e.str("jsonrpc.id") == "4" }); e != nil &&
		e.str("reason") != "session_not_found" {
		t.Errorf("session A's request after the kill is logged with reason %q, want session_not_found", e.str("reason"))
	}

	// Session B never noticed.
	if err := tryEcho(c, g.URL, sidB, "5", "B still works", 30*time.Second); err != nil {
		t.Errorf("session B after session A's child died: %v", err)
	}
	if err := syscall.Kill(pidB, 0); err != nil {
		t.Errorf("session B's child (pid %d) is gone too: %v", pidB, err)
	}
	g.waitSessions(t, 1)

	// A new session gets a new child. A child that died this young counts
	// as a failed start, so starts may back off first: then initialize is
	// answered 503 with Retry-After, and the client retries as told.
	var sidC string
	refusals := 0
	for deadline := time.Now().Add(30 * time.Second); ; {
		var r rawResponse
		sidC, r, err = tryInit(c, g.URL, strconv.Itoa(6+refusals))
		if err == nil {
			break
		}
		if r.status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("a new session after the child died: %v", err)
		}
		ra, convErr := strconv.Atoi(r.header.Get("Retry-After"))
		if convErr != nil || ra < 1 {
			t.Fatalf("initialize refused with 503 during the back-off without a valid Retry-After (%q): %s", r.header.Get("Retry-After"), tail(r.body, 300))
		}
		refusals++
		time.Sleep(min(time.Duration(ra)*time.Second, 5*time.Second))
	}
	t.Logf("the new session started after %d refusal(s) (503 + Retry-After) during the start back-off", refusals)
	if err := tryEcho(c, g.URL, sidC, "20", "a new child", 30*time.Second); err != nil {
		t.Errorf("the new session's call: %v", err)
	}
	if pidC := g.childPID(t, sidC); pidC == pidA || pidC == pidB {
		t.Errorf("the new session is served by pid %d, want a new child (A was %d, B %d)", pidC, pidA, pidB)
	}
	g.waitSessions(t, 2)
}

// TestFaultCollectorKilledAndRestarted (issue 13 item 14): a gateway
// exporting traces over OTLP http/protobuf to a real Jaeger serves constant
// echo load (4 sessions) while Jaeger is killed (SIGKILL), stays down for
// collectorOutage, and is started again on the same OTLP port. Not one
// request fails at any point, and not one span is lost: every request made
// after the kill — while Jaeger was down, while it restarted, and after —
// has its SERVER span in the new Jaeger, and the gateway counted no span
// dropped. (Jaeger keeps spans in memory, so those it had before the kill
// are gone with it.) The outage is logged once, and its end once.
func TestFaultCollectorKilledAndRestarted(t *testing.T) {
	t.Parallel()
	const (
		workers = 4
		pause   = 20 * time.Millisecond // between one worker's calls: bounded load
		after   = 3 * time.Second
	)
	j := startJaeger(t)
	service := "mcpgate-e2e-fault-collector-" + testidp.RandomString(6)
	// The default queueSize: it must hold the spans of a 30 s outage of
	// this load.
	g := startGatewayConfig(t, nil, gatewayConfig{
		admin: adminOn,
		log:   "{requests: errors}",
		extra: fmt.Sprintf(`telemetry:
  serviceName: %s
  traces: {exporter: otlp, endpoint: %q, protocol: http/protobuf, batchTimeout: 100ms}
  metrics: {exporter: prometheus}
`, service, j.OTLPHTTPEndpoint()),
		backends: []backendSpec{stdioBackend()},
	}.String())
	c := newStreamClient()
	defer c.CloseIdleConnections()
	began := time.Now()
	var sids []string
	for i := range workers {
		sid, _, err := tryInit(c, g.URL, strconv.Itoa(i+1))
		if err != nil {
			t.Fatal(err)
		}
		sids = append(sids, sid)
	}

	// Phase 0: load, and proof that spans reach the first Jaeger.
	load := startEchoLoad(g.URL, sids, pause, false)
	defer load.finish()
	waitEchoSpan(t, j, service, began, "the first Jaeger")

	// Phase 1: the collector dies; load goes on.
	killed := time.Now()
	load.phase.Store(1)
	j.proc.kill(t)
	if refused, err := connRefused(j.otlpHTTP); !refused {
		t.Fatalf("the OTLP port %s still accepts connections after Jaeger was killed (%v)", j.otlpHTTP, err)
	}
	time.Sleep(collectorOutage)

	// Phase 2: the collector comes back on the same ports; load goes on
	// until the exporter has reached it with the queued spans.
	load.phase.Store(2)
	restarted := time.Now()
	j.restart(t)
	waitEchoSpan(t, j, service, began, "the restarted Jaeger")
	reached := time.Since(restarted)

	// Phase 3: load goes on against the new Jaeger.
	load.phase.Store(3)
	time.Sleep(after)
	results := load.finish()
	ended := time.Now()

	perPhase := make([]int, 4)
	failed := 0
	var afterKill []string // requests that began after the kill: all must be traced
	for _, r := range results {
		perPhase[r.phase]++
		if r.err != nil {
			if failed++; failed <= 10 {
				t.Errorf("request %s (phase %d) failed: %v", r.id, r.phase, r.err)
			}
			continue
		}
		if r.phase >= 1 {
			afterKill = append(afterKill, r.id)
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d requests failed; want none while the collector was down or restarting", failed, len(results))
	}
	t.Logf("requests per phase (up, down %v, restarting, after): %v; the exporter reached the new Jaeger %v after its restart",
		collectorOutage, perPhase, reached.Round(time.Millisecond))
	for p, n := range perPhase {
		if n == 0 {
			t.Errorf("no request was made in phase %d: the load did not run throughout", p)
		}
	}

	// Every request made after the kill has its SERVER span in the new
	// Jaeger.
	deadline := time.Now().Add(jaegerQueryTimeout)
	var missing []string
	for {
		byID, err := serverSpansIn(j, service, killed.Add(-time.Second), ended.Add(time.Second), "tools/call echo")
		missing = missing[:0]
		for _, id := range afterKill {
			if _, ok := byID[id]; !ok {
				missing = append(missing, id)
			}
		}
		if err == nil && len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v the new Jaeger lacks the SERVER spans of %d of the %d requests made after the collector was killed (last error %v), e.g. ids %v",
				jaegerQueryTimeout, len(missing), len(afterKill), err, missing[:min(len(missing), 10)])
		}
		time.Sleep(500 * time.Millisecond)
	}
	text, _, err := scrapeOpenMetrics(g.Admin)
	if err != nil {
		t.Fatalf("scraping the self-metrics: %v", err)
	}
	full, _ := promSample(text, "mcpgate_telemetry_dropped_total", `error_type="queue_full"`, `mcpgate_telemetry_signal="spans"`)
	failedExp, _ := promSample(text, "mcpgate_telemetry_dropped_total", `error_type="export_failed"`, `mcpgate_telemetry_signal="spans"`)
	t.Logf("%d requests after the kill, all traced in the new Jaeger; spans dropped: %v queue_full, %v export_failed",
		len(afterKill), full, failedExp)
	if full != 0 || failedExp != 0 {
		t.Errorf("spans dropped during a %v outage: %v queue_full, %v export_failed; want none", collectorOutage, full, failedExp)
	}
	log := g.Log.String()
	if n := strings.Count(log, "span export failing"); n != 1 {
		t.Errorf("%d \"span export failing\" lines for one outage, want 1", n)
	}
	if n := strings.Count(log, "span export recovered"); n != 1 {
		t.Errorf("%d \"span export recovered\" lines for one outage, want 1", n)
	}
}

// collectorOutage is how long TestFaultCollectorKilledAndRestarted keeps
// the collector down: the longest outage the default queue must bridge
// without losing a span.
const collectorOutage = 30 * time.Second

// serverSpansIn is serverSpans over the traces that
// started in [from, to], queried in windows narrow enough that the
// answer's trace limit never hides one.
func serverSpansIn(j *jaeger, service string, from, to time.Time, name string) (map[string]Span, error) {
	const step = 5 * time.Second
	all := map[string]Span{}
	for w := from; w.Before(to); w = w.Add(step) {
		spans, traces, err := j.spansIn(service, w, w.Add(step), 5000)
		if err != nil {
			return all, err
		}
		if traces >= 5000 {
			return all, fmt.Errorf("window %v+%v holds 5000 traces or more: narrow it", w, step)
		}
		maps.Copy(all, serverSpans(spans, name))
	}
	return all, nil
}

// isConnError reports whether err is a connection the peer refused,
// closed or reset — what a client sees when a draining server has closed
// its listener and its idle connections — as opposed to, say, a timeout.
func isConnError(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "server closed idle connection")
}

// waitEchoSpan waits (bounded by jaegerQueryTimeout) until j holds a
// SERVER span "tools/call echo" of service that started at or after since.
func waitEchoSpan(t *testing.T, j *jaeger, service string, since time.Time, what string) {
	t.Helper()
	deadline := time.Now().Add(jaegerQueryTimeout)
	for {
		spans, err := spansSince(j, service, since)
		if err == nil && len(serverSpans(spans, "tools/call echo")) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no \"tools/call echo\" SERVER span of %s reached %s within %v (last error %v)", service, what, jaegerQueryTimeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFaultSIGTERMDrain: SIGTERM while slow calls are in flight (three
// sessions, each in a 6 s operation streaming progress) and echo load runs
// (three more sessions). Per docs/operations.md: during the drain new
// connections are refused and the admin /readyz answers 503 with draining
// true, while the slow calls run to completion with their results; the
// process exits 0 within timeouts.shutdown; every request that completed
// has exactly one audit event, with outcome success, and its SERVER span
// is in Jaeger. Echo requests that raced the drain may fail, but only by
// connection (the listener is gone), never with a wrong answer.
//
// audit_test.go's "SIGTERM after a burst" and "SIGTERM with events queued"
// already cover a SIGTERM after the requests completed; this covers
// requests still in flight, the spans, and the refused connections.
func TestFaultSIGTERMDrain(t *testing.T) {
	t.Parallel()
	const (
		slowCalls = 3
		loaders   = 3
		slowSecs  = 6                // long enough to check the drain while they run
		shutdown  = 20 * time.Second // timeouts.shutdown
	)
	j := startJaeger(t)
	service := "mcpgate-e2e-fault-drain-" + testidp.RandomString(6)
	// Every telemetry key an OTEL_* variable could change is pinned in the
	// file (startGatewayEnv also drops the test's OTEL_* variables).
	sink := filepath.Join(t.TempDir(), "audit.jsonl")
	g := startGatewayConfig(t, nil, gatewayConfig{
		admin: adminOn,
		log:   "{requests: errors}",
		extra: fmt.Sprintf(`timeouts: {shutdown: %s}
telemetry:
  serviceName: %s
  traces: {exporter: otlp, endpoint: %q, protocol: http/protobuf, batchTimeout: 50ms, sampler: parentbased_always_on, queueSize: 2048}
audit:
  enabled: true
  sink: %q
`, shutdown, service, j.OTLPHTTPEndpoint(), sink),
		backends: []backendSpec{stdioBackend()},
	}.String())
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	c := newStreamClient()
	defer c.CloseIdleConnections()

	// Completed requests by JSON-RPC id: each must have its audit event.
	completed := map[string]string{} // id → what
	var slowSids, loadSids []string
	for i := range slowCalls + loaders {
		id := strconv.Itoa(i + 1)
		sid, _, err := tryInit(c, g.URL, id)
		if err != nil {
			t.Fatal(err)
		}
		completed[id] = "initialize " + id
		if i < slowCalls {
			slowSids = append(slowSids, sid)
		} else {
			loadSids = append(loadSids, sid)
		}
	}

	// Load first, so that requests are certainly arriving at SIGTERM; a
	// worker stops at its first failure, which from then on is the closed
	// listener.
	load := startEchoLoad(g.URL, loadSids, 50*time.Millisecond, true)
	defer load.finish()
	streams := make([]*eventStream, slowCalls)
	for i, sid := range slowSids {
		id := strconv.Itoa(100 + i)
		st, err := openEventStream(ctx, c, g.URL, sid, slowBody(id, "drain-"+id, slowSecs, slowSecs))
		if err != nil {
			t.Fatalf("slow call %s: %v", id, err)
		}
		streams[i] = st
	}
	for i, st := range streams {
		if before, ok := st.waitProgress(20 * time.Second); !ok {
			t.Fatalf("slow call %d: no progress notification within 20s; got:\n%s", 100+i, describeMsgs(before))
		}
	}
	if load.count() == 0 {
		t.Fatal("no echo request completed before SIGTERM: the load is not running")
	}

	g.sigterm()
	termAt := time.Now()
	if _, ok := g.Log.waitFor(10*time.Second, func(l string) bool { return strings.Contains(l, `"msg":"draining"`) }); !ok {
		t.Fatalf("no \"draining\" line within 10s of SIGTERM")
	}

	// During the drain: new connections refused, /readyz 503 — checked
	// while the slow calls are still in flight, or the checks prove
	// nothing about the drain.
	public := strings.TrimPrefix(g.Base, "http://")
	refused := false
	var dialErr error
	for end := time.Now().Add(5 * time.Second); !refused && time.Now().Before(end); {
		if refused, dialErr = connRefused(public); !refused {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !refused {
		t.Errorf("new connections to %s are still accepted (or fail otherwise: %v) during the drain, want them refused", public, dialErr)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(g.Admin + "/readyz")
	if err != nil {
		t.Errorf("admin /readyz during the drain: %v", err)
	} else {
		var d readyDetail
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if json.Unmarshal(b, &d) != nil || resp.StatusCode != http.StatusServiceUnavailable || !d.Draining {
			t.Errorf("admin /readyz during the drain: %d %s; want 503 with draining true", resp.StatusCode, tail(string(b), 300))
		}
	}
	for i, st := range streams {
		if st.ended() {
			t.Errorf("slow call %d had already ended when the drain was checked: the checks above did not run during the drain", 100+i)
		}
	}

	// The calls in flight complete, with their results.
	slowDone := 0
	for i, st := range streams {
		id := strconv.Itoa(100 + i)
		msgs, ended := st.rest(shutdown)
		m, n := responseTo(msgs, id)
		if !ended || st.err != nil || n != 1 || m.Error != nil || !strings.Contains(string(m.Result), "Long running operation completed") {
			t.Errorf("slow call %s during the drain: ended %v (%v), want its result; got:\n%s", id, ended, st.err, describeMsgs(msgs))
			continue
		}
		completed[id] = "slow call " + id
		slowDone++
	}

	// The process exits 0 within timeouts.shutdown of the signal: the one
	// bound the drain, the child stops and the flushes share
	// (TestFaultSIGTERMBound makes each of them slow).
	select {
	case <-g.done:
		t.Logf("mcpgate exited %v after SIGTERM", time.Since(termAt).Round(time.Millisecond))
	case <-time.After(time.Until(termAt.Add(shutdown + shutdownSlack))):
		t.Errorf("mcpgate still running %v after SIGTERM (timeouts.shutdown %v + %v slack)", shutdown+shutdownSlack, shutdown, shutdownSlack)
	}
	if err := g.stop(); err != nil {
		t.Fatalf("mcpgate did not exit with status 0: %v", err)
	}
	if refused, err := connRefused(public); !refused {
		t.Errorf("after the exit, connections to %s are not refused: %v", public, err)
	}

	// The load: everything before the signal succeeded; a failure after it
	// is a connection the drain refused or closed, never an answer.
	results := load.finish()
	late := 0
	for _, r := range results {
		var bad *badReply
		switch {
		case r.err == nil:
			completed[r.id] = "echo " + r.id
		case r.at.Before(termAt):
			t.Errorf("echo %s failed before SIGTERM: %v", r.id, r.err)
		case errors.As(r.err, &bad):
			t.Errorf("echo %s got an answer other than its result during the drain (docs: new connections are refused, requests in flight finish): %v", r.id, r.err)
		case !isConnError(r.err):
			t.Errorf("echo %s failed during the drain other than by its connection (refused, closed or reset): %v", r.id, r.err)
		default:
			late++
		}
	}
	t.Logf("%d echo calls completed, %d refused by the drain; %d of %d slow calls completed", len(results)-late, late, slowDone, slowCalls)

	// Every completed request: one audit event, success, and its SERVER
	// span in Jaeger.
	events, _ := readAuditLog(t, sink)
	byID := eventsByID(t, events)
	var mine []auditEvent
	for id, what := range completed {
		e, ok := byID[id]
		if !ok {
			t.Errorf("%s completed but has no audit event", what)
			continue
		}
		if e.str("outcome") != "success" {
			t.Errorf("%s: audit event %s, want outcome success", what, e.line)
		}
		mine = append(mine, e)
	}
	deadline := time.Now().Add(jaegerQueryTimeout)
	for {
		spans, err := spansSince(j, service, termAt.Add(-10*time.Minute))
		byID := map[string]Span{}
		for _, s := range spans {
			byID[s.SpanID] = s
		}
		var missing []string
		for _, e := range mine {
			if s, ok := byID[e.str("spanId")]; !ok || s.TraceID != e.str("traceId") || s.Kind != "server" {
				missing = append(missing, fmt.Sprintf("%v (%s/%s)", e.get("mcp.id"), e.str("traceId"), e.str("spanId")))
			}
		}
		if err == nil && len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v Jaeger lacks the SERVER spans of %d of %d completed requests (last error %v), e.g. %v",
				jaegerQueryTimeout, len(missing), len(mine), err, missing[:min(len(missing), 10)])
		}
		time.Sleep(250 * time.Millisecond)
	}
}
