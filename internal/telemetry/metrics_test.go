package telemetry

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// TestOperationMetrics pins mcp.server.operation.duration's attributes to
// docs/telemetry.md ("Metrics"), written out.
func TestOperationMetrics(t *testing.T) {
	common := func(extra map[string]string) map[string]string {
		m := map[string]string{
			"mcp.protocol.version": "2025-06-18", "network.transport": "tcp",
			"network.protocol.name": "http", "network.protocol.version": "1.1", "mcpgate.backend": "everything",
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name  string
		body  string
		relay func(*record.Record)
		learn bool // the backend listed echo
		want  map[string]string
	}{
		{name: "listed tool", learn: true,
			body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`,
			want: common(map[string]string{"mcp.method.name": "tools/call", "gen_ai.tool.name": "echo", "gen_ai.operation.name": "execute_tool"})},
		{name: "unlisted tool",
			body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`,
			want: common(map[string]string{"mcp.method.name": "tools/call", "gen_ai.tool.name": "_OTHER", "gen_ai.operation.name": "execute_tool"})},
		{name: "tool error", learn: true,
			body:  `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`,
			relay: func(r *record.Record) { r.Ops[0].ToolError = true },
			want: common(map[string]string{"mcp.method.name": "tools/call", "gen_ai.tool.name": "echo",
				"gen_ai.operation.name": "execute_tool", "error.type": "tool_error"})},
		{name: "standard JSON-RPC error code",
			body:  `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
			relay: func(r *record.Record) { r.Ops[0].Error = record.RPCError{Code: -32602, Valid: true} },
			want:  common(map[string]string{"mcp.method.name": "tools/list", "error.type": "-32602", "rpc.response.status_code": "-32602"})},
		{name: "application error code",
			body:  `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
			relay: func(r *record.Record) { r.Ops[0].Error = record.RPCError{Code: 42, Valid: true} },
			want:  common(map[string]string{"mcp.method.name": "tools/list", "error.type": "_OTHER", "rpc.response.status_code": "_OTHER"})},
		{name: "gateway error in place of the backend's",
			body: `{"jsonrpc":"2.0","id":1,"method":"ping"}`,
			relay: func(r *record.Record) {
				r.Fail(record.ReasonUpstreamTimeout, "idle")
				r.Ops[0].Error = record.RPCError{Code: mcpwire.CodeGateway, Valid: true}
			},
			want: common(map[string]string{"mcp.method.name": "ping", "error.type": "upstream_timeout", "rpc.response.status_code": "-32000"})},
		{name: "notification",
			body: `{"jsonrpc":"2.0","method":"notifications/initialized"}`,
			want: common(map[string]string{"mcp.method.name": "notifications/initialized"})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, InstrumentOptions{}, nil)
			if tc.learn {
				h.tel.Catalog().Learn(testBackend, "tools/list", []byte(`{"tools":[{"name":"echo","inputSchema":{}}]}`))
			}
			edits := []func(*record.Record){}
			if tc.relay != nil {
				edits = append(edits, tc.relay)
			}
			h.serve(post(tc.body), answer(edits...))
			points := h.collect(t, MetricServerOperationDuration)
			if len(points) != 1 {
				t.Fatalf("%d points, want 1", len(points))
			}
			diffAttrs(t, "metric attributes", points[0], tc.want)
		})
	}
}

// TestRejectedRequestsCount: rejected requests count in metrics even when
// the sampler records no span at all.
func TestRejectedRequestsCount(t *testing.T) {
	h := newHarness(t, InstrumentOptions{}, sdktrace.NeverSample())
	for range 3 {
		h.serve(post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}`, rejectAuth, "1"), answer())
	}
	h.serve(post(`{`), answer())
	if n := len(h.spans.Ended()); n != 0 {
		t.Errorf("%d spans recorded with a never sampler", n)
	}
	diffAttrs(t, "auth failures", one(t, h.collect(t, MetricAuthFailures)), map[string]string{"error.type": "unauthenticated", "#value": "3"})
	ops := h.collect(t, MetricServerOperationDuration)
	want := []map[string]string{
		{"mcp.method.name": "tools/call", "gen_ai.tool.name": "_OTHER", "gen_ai.operation.name": "execute_tool",
			"error.type": "unauthenticated", "mcp.protocol.version": "2025-06-18",
			"network.transport": "tcp", "network.protocol.name": "http", "network.protocol.version": "1.1"},
		{"mcp.method.name": "_OTHER", "error.type": "parse_error", "mcp.protocol.version": "2025-06-18",
			"network.transport": "tcp", "network.protocol.name": "http", "network.protocol.version": "1.1"},
	}
	if len(ops) != len(want) {
		t.Fatalf("%d operation series, want %d: %v", len(ops), len(want), ops)
	}
	for _, w := range want {
		found := false
		for _, g := range ops {
			if fmt.Sprint(g) == fmt.Sprint(w) {
				found = true
			}
		}
		if !found {
			t.Errorf("no series %v in %v", w, ops)
		}
	}
}

// TestUpstreamErrors counts failures blamed on the backend.
func TestUpstreamErrors(t *testing.T) {
	h := newHarness(t, InstrumentOptions{}, nil)
	h.serve(post(`{"jsonrpc":"2.0","id":1,"method":"ping"}`), answer(func(r *record.Record) {
		r.Ops[0].Answered = false
		r.Fail(record.ReasonStreamClosed, "closed")
	}))
	diffAttrs(t, "upstream errors", one(t, h.collect(t, MetricUpstreamErrors)),
		map[string]string{"mcpgate.backend": "everything", "error.type": "stream_closed_without_response", "#value": "1"})
}

// TestMetricSeriesBounded sends 10,000 requests with distinct bogus tool
// names, methods, protocol versions, error codes, session ids, request ids
// and URIs, from an identified user, through the reporter: the number of
// series must not grow with them.
func TestMetricSeriesBounded(t *testing.T) {
	attribution := func(dst []attribute.KeyValue, _ *record.Record) []attribute.KeyValue {
		return append(dst, attribute.String("user.id", "alice"))
	}
	h := newHarness(t, InstrumentOptions{Attribution: attribution, RecordClientAddress: true}, nil)
	h.tel.Catalog().Learn(testBackend, "tools/list", []byte(`{"tools":[{"name":"echo"}]}`))
	rep := h.tel.Reporter()
	for i := range 10000 {
		rec := &record.Record{
			Start: time.Now(), HTTPMethod: "POST", Proto: fmt.Sprintf("9.%d", i), Status: 200,
			ProtocolVersion: fmt.Sprintf("2099-01-%d", i), SessionID: fmt.Sprint("s", i),
			ClientAddr: fmt.Sprintf("10.0.%d.%d", i/256, i%256), Backend: testBackend,
		}
		ops := rec.NewOps(3)
		ops[0] = record.Op{Kind: record.OpRequest, Method: "tools/call", ID: fmt.Sprint(i), Name: fmt.Sprint("bogus-", i),
			Answered: true, Error: record.RPCError{Code: int64(1000 + i), Message: fmt.Sprint("msg ", i), Valid: true}}
		ops[1] = record.Op{Kind: record.OpRequest, Method: fmt.Sprint("x/method-", i), ID: fmt.Sprint(`"`, i, `"`)}
		ops[2] = record.Op{Kind: record.OpRequest, Method: "resources/read", ID: "1", URI: fmt.Sprint("file:///", i), Answered: true}
		rep.Report(context.Background(), rec)
	}
	points := h.collect(t, MetricServerOperationDuration)
	if len(points) > 3 {
		t.Errorf("%d series after 10,000 distinct requests, want at most 3", len(points))
	}
	for _, p := range points {
		for k := range p {
			switch k {
			case "user.id", "mcp.session.id", "jsonrpc.request.id", "mcp.resource.uri", "client.address":
				t.Errorf("metric carries %s", k)
			}
		}
	}
}

// TestMetricKeysAllowed: every attribute of every data point is on its
// instrument's allow-list.
func TestMetricKeysAllowed(t *testing.T) {
	h := newHarness(t, InstrumentOptions{RateLimitRules: []string{"r"}}, nil)
	h.serve(post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`, mcpwire.HeaderSessionID, "s"),
		answer(func(rec *record.Record) {
			rec.Ops[0].RateLimit = record.RateLimit{Decision: record.RateLimitAllowed, Rule: 1}
		}))
	h.tel.RateLimitFallback("r", "closed")
	h.tel.SessionStarted(testBackend)
	h.tel.SessionEnded(testBackend, "2025-06-18", time.Now(), "")
	h.tel.StdioRestart(testBackend)
	h.tel.JWKSFetch(true)
	for name, keys := range allowedKeys {
		allowed := map[string]bool{"#value": true}
		for _, k := range keys {
			allowed[string(k)] = true
		}
		for _, p := range h.collect(t, name) {
			for k := range p {
				if !allowed[k] {
					t.Errorf("%s carries %s", name, k)
				}
			}
		}
	}
}

// TestSelfMetrics pins the self-metrics' attributes.
func TestSelfMetrics(t *testing.T) {
	h := newHarness(t, InstrumentOptions{}, nil)
	h.tel.SessionStarted(testBackend)
	h.tel.SessionStarted(testBackend)
	h.tel.SessionEnded(testBackend, "2025-06-18", time.Now().Add(-time.Second), string(record.ReasonUpstreamUnavailable))
	h.tel.StdioRestart(testBackend)
	h.tel.JWKSFetch(true)
	h.tel.JWKSFetch(false)
	diffAttrs(t, "active", one(t, h.collect(t, MetricSessionsActive)), map[string]string{"mcpgate.backend": "everything", "#value": "1"})
	diffAttrs(t, "session", one(t, h.collect(t, MetricServerSessionDuration)), map[string]string{
		"mcpgate.backend": "everything", "network.transport": "tcp", "mcp.protocol.version": "2025-06-18",
		"error.type": "upstream_unavailable"})
	diffAttrs(t, "restarts", one(t, h.collect(t, MetricStdioRestarts)), map[string]string{"mcpgate.backend": "everything", "#value": "1"})
	if n := len(h.collect(t, MetricJWKSFetches)); n != 2 {
		t.Errorf("%d JWKS series, want 2 (success, failure)", n)
	}
	var nilTel *Telemetry // all safe on nil
	nilTel.SessionStarted("x")
	nilTel.SessionEnded("x", "", time.Now(), "")
	nilTel.StdioRestart("x")
	nilTel.JWKSFetch(true)
}

func one(t *testing.T, points []map[string]string) map[string]string {
	t.Helper()
	if len(points) != 1 {
		t.Fatalf("%d points, want 1: %v", len(points), points)
	}
	return points[0]
}

// TestOperationSetsFenced: the operation-duration histograms have no view
// filter (FencedAtSource), so their attribute sets must come out of the
// cache already cut to the instrument's allow-list: a server recording
// never carries server.address, a client one never network.protocol.version.
func TestOperationSetsFenced(t *testing.T) {
	a := opAttrs{method: "tools/call", transport: "tcp", protocol: "http", httpVersion: "1.1",
		backend: "everything", serverAddress: "127.0.0.1", serverPort: 8080}
	for _, tc := range []struct {
		name    string
		metric  string
		dropped attribute.Key
	}{
		{"server", MetricServerOperationDuration, keyServerAddress},
		{"server port", MetricServerOperationDuration, keyServerPort},
		{"client", MetricClientOperationDuration, keyNetworkProtocolVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !FencedAtSource(tc.metric) {
				t.Fatalf("%s is not fenced at the source", tc.metric)
			}
			c := newSetCache(tc.metric)
			for range 2 { // built, then from the cache
				set := metric.NewRecordConfig(c.options(&a)).Attributes()
				if set.HasValue(tc.dropped) {
					t.Errorf("%s carries %s", tc.metric, tc.dropped)
				}
				if !set.HasValue(keyMCPMethod) || !set.HasValue(keyBackend) {
					t.Errorf("%s lost an allowed key: %v", tc.metric, set.ToSlice())
				}
			}
		})
	}
}
