package stdiorelay

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/telemetry"
)

func newTelemetry(t *testing.T) (*telemetry.Telemetry, *tracetest.SpanRecorder, *sdkmetric.ManualReader) {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	reader := sdkmetric.NewManualReader()
	tel, err := telemetry.New(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr)),
		sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)), telemetry.InstrumentOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tel, sr, reader
}

// TestTraceContextToChild: each message written to a child carries its
// CLIENT span's traceparent in params._meta — with a session's own child and
// with the shared child, whose id and progress-token rewrites it must
// coexist with.
func TestTraceContextToChild(t *testing.T) {
	for _, iso := range []Isolation{IsolationSession, IsolationShared} {
		t.Run(string(iso), func(t *testing.T) {
			tel, sr, _ := newTelemetry(t)
			h := newHarness(t, Options{Telemetry: tel, Isolation: iso})
			sid := h.initialize()
			resp := h.post(sid, acceptJSON, callBody(5, "traceparent", nil, "tok"))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			var m rpcMsg
			decode(t, resp, &m)
			got := m.text(t)
			var call trace.SpanContext
			for _, s := range sr.Ended() {
				if s.Name() == "tools/call traceparent" {
					call = s.SpanContext()
					if s.SpanKind() != trace.SpanKindClient {
						t.Errorf("kind %v", s.SpanKind())
					}
					for _, kv := range s.Attributes() {
						if kv.Key == "network.transport" && kv.Value.AsString() != "pipe" {
							t.Errorf("network.transport %q", kv.Value.AsString())
						}
					}
				}
			}
			want := fmt.Sprintf("00-%s-%s-01", call.TraceID(), call.SpanID())
			if got != want {
				t.Errorf("child saw traceparent %q, want the CLIENT span's %q", got, want)
			}
		})
	}
}

// TestTraceMetaToChild (issue 12, item 1): the child sees only the body, so
// the rule of mcpwire.TraceMeta decides alone — initialize reaches it
// without the _meta the client did not send (a dual-era server would take
// that for a stateless request), and a 2026-07-28 request's trace context
// goes into the _meta it carries.
func TestTraceMetaToChild(t *testing.T) {
	for _, iso := range []Isolation{IsolationSession, IsolationShared} {
		t.Run(string(iso), func(t *testing.T) {
			tel, sr, _ := newTelemetry(t)
			h := newHarness(t, Options{Telemetry: tel, Isolation: iso})
			sid := h.initialize()
			if got := h.call(sid, 1, "initmeta", nil).text(t); got != "" {
				t.Errorf("initialize reached the child with params._meta %s, which the client did not send", got)
			}

			body := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"traceparent","arguments":{},` +
				`"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`
			resp := h.post("", acceptJSON, body, mcpwire.HeaderProtocolVersion, "2026-07-28",
				mcpwire.HeaderMethod, "tools/call", mcpwire.HeaderName, "traceparent")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("stateless call: status %d: %s", resp.StatusCode, readAll(t, resp))
			}
			var m rpcMsg
			decode(t, resp, &m)
			got := m.text(t)
			want := ""
			for _, s := range sr.Ended() {
				if s.Name() == "tools/call traceparent" {
					want = fmt.Sprintf("00-%s-%s-01", s.SpanContext().TraceID(), s.SpanContext().SpanID())
				}
			}
			if want == "" || got != want {
				t.Errorf("stateless request's _meta.traceparent %q, want the CLIENT span's %q", got, want)
			}
		})
	}
}

// TestSessionMetrics: a session counts in mcpgate.sessions.active while it
// lasts and in mcp.server.session.duration when it ends.
func TestSessionMetrics(t *testing.T) {
	tel, _, reader := newTelemetry(t)
	h := newHarness(t, Options{Telemetry: tel, Name: "fake"})
	sid := h.initialize()
	if got := sum(t, reader, telemetry.MetricSessionsActive); got != 1 {
		t.Errorf("active %d, want 1", got)
	}
	resp := h.do(context.Background(), http.MethodDelete, sid, "", "")
	resp.Body.Close()
	if got := sum(t, reader, telemetry.MetricSessionsActive); got != 0 {
		t.Errorf("active %d after DELETE, want 0", got)
	}
	if n := count(t, reader, telemetry.MetricServerSessionDuration); n != 1 {
		t.Errorf("%d session durations recorded, want 1", n)
	}
}

func collect(t *testing.T, r *sdkmetric.ManualReader, name string) metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m.Data
			}
		}
	}
	return nil
}

func sum(t *testing.T, r *sdkmetric.ManualReader, name string) int64 {
	t.Helper()
	var n int64
	if d, ok := collect(t, r, name).(metricdata.Sum[int64]); ok {
		for _, dp := range d.DataPoints {
			n += dp.Value
		}
	}
	return n
}

func count(t *testing.T, r *sdkmetric.ManualReader, name string) uint64 {
	t.Helper()
	var n uint64
	if d, ok := collect(t, r, name).(metricdata.Histogram[float64]); ok {
		for _, dp := range d.DataPoints {
			n += dp.Count
		}
	}
	return n
}

// TestCatalogLearnsFromChild: a tools/list result from the child teaches the
// catalog its tool names.
func TestCatalogLearnsFromChild(t *testing.T) {
	tel, _, _ := newTelemetry(t)
	h := newHarness(t, Options{Telemetry: tel, Name: "fake"})
	sid := h.initialize()
	resp := h.post(sid, acceptJSON, `{"jsonrpc":"2.0","id":9,"method":"tools/list"}`)
	readAll(t, resp)
	if !tel.Catalog().KnownTool("fake", "echo") {
		t.Error("echo not learned from tools/list")
	}
}
