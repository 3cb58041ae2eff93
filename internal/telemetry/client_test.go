package telemetry

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/record"
)

var traceparentRe = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-3]$`)

// clientRelay is a fake relay that makes a CLIENT span per op, the way
// httprelay and stdiorelay do, and hands the spans to check.
func clientRelay(tel *Telemetry, b *BackendInfo, edit func(*record.Record), check func([]ClientSpan, context.Context)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := record.FromContext(r.Context())
		rec.Backend = b.Name
		var cs []ClientSpan
		var ctx context.Context
		for i := range rec.Ops {
			var c ClientSpan
			ctx, c = tel.StartClient(r.Context(), b, &rec.Ops[i])
			cs = append(cs, c)
		}
		answer(edit)(w, r)
		if check != nil {
			check(cs, ctx)
		}
		for _, c := range cs {
			c.End()
		}
	}
}

// TestClientSpan pins the CLIENT span (docs/telemetry.md, "CLIENT spans")
// and its place under the SERVER span.
func TestClientSpan(t *testing.T) {
	u, _ := url.Parse("http://10.1.2.3:3001/mcp")
	tests := []struct {
		name     string
		backend  BackendInfo
		edit     func(*record.Record)
		want     map[string]string
		wantCode codes.Code
	}{{
		name:    "HTTP backend",
		backend: HTTPBackend(testBackend, u),
		edit:    func(*record.Record) {},
		want: map[string]string{
			"mcp.method.name": "tools/call", "jsonrpc.request.id": "1", "gen_ai.tool.name": "echo",
			"gen_ai.operation.name": "execute_tool", "mcp.protocol.version": "2025-06-18",
			"network.transport": "tcp", "network.protocol.name": "http",
			"server.address": "10.1.2.3", "server.port": "3001", "mcpgate.backend": "everything",
		},
	}, {
		name:    "stdio backend, tool error",
		backend: StdioBackend(testBackend),
		edit:    func(r *record.Record) { r.Ops[0].ToolError = true },
		want: map[string]string{
			"mcp.method.name": "tools/call", "jsonrpc.request.id": "1", "gen_ai.tool.name": "echo",
			"gen_ai.operation.name": "execute_tool", "mcp.protocol.version": "2025-06-18",
			"network.transport": "pipe", "mcpgate.backend": "everything", "error.type": "tool_error",
		},
		wantCode: codes.Error,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, InstrumentOptions{RecordClientAddress: true}, nil)
			h.serve(post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`, "Traceparent", httpTP),
				clientRelay(h.tel, &tc.backend, tc.edit, nil))
			spans := h.spans.Ended()
			if len(spans) != 2 {
				t.Fatalf("%d spans, want client + server", len(spans))
			}
			client, server := spans[0], spans[1]
			if client.SpanKind() != trace.SpanKindClient || client.Name() != "tools/call echo" {
				t.Errorf("client span %v %q", client.SpanKind(), client.Name())
			}
			if client.Parent().SpanID() != server.SpanContext().SpanID() || client.SpanContext().TraceID().String() != httpTID {
				t.Errorf("client span is not the server span's child")
			}
			diffAttrs(t, "client attributes", attrs(client.Attributes()), tc.want)
			if client.Status().Code != tc.wantCode {
				t.Errorf("status %v, want %v", client.Status().Code, tc.wantCode)
			}
		})
	}
}

// TestClientPropagation: the CLIENT span's context goes upstream in the W3C
// headers (replacing the caller's) and in params._meta.
func TestClientPropagation(t *testing.T) {
	h := newHarness(t, InstrumentOptions{}, nil)
	b := StdioBackend(testBackend)
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","_meta":{"traceparent":"` + metaTP + `","tracestate":"m=1"}}}`
	var hdr http.Header
	var spliced []byte
	var sc trace.SpanContext
	h.serve(post(body, "Traceparent", httpTP), clientRelay(h.tel, &b, func(*record.Record) {}, func(cs []ClientSpan, _ context.Context) {
		sc = cs[0].SpanContext()
		hdr = http.Header{"Traceparent": {httpTP}, "Tracestate": {"caller=1"}, "Baggage": {"user=alice"}}
		cs[0].Inject(hdr)
		msg, err := jsonrpc.Parse([]byte(body), jsonrpc.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		edits := msg.Messages[0].AppendSetMetaEdits(nil, []byte(body), cs[0].MetaKVs()...)
		if spliced, err = jsonrpc.Splice(nil, []byte(body), edits); err != nil {
			t.Fatal(err)
		}
	}))
	tp := hdr.Get("Traceparent")
	if !traceparentRe.MatchString(tp) || tp[36:52] != sc.SpanID().String() || tp[3:35] != metaTID {
		t.Errorf("traceparent header %q is not the client span %v", tp, sc.SpanID())
	}
	if got := hdr.Get("Tracestate"); got != "m=1" {
		t.Errorf("tracestate header %q, want the parent's m=1", got)
	}
	if hdr.Get("Baggage") != "user=alice" {
		t.Errorf("Inject touched baggage (the relay strips it, not telemetry)")
	}
	want := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","_meta":{"traceparent":"` + tp + `","tracestate":"m=1"}}}`
	if string(spliced) != want {
		t.Errorf("spliced\n%s\nwant\n%s", spliced, want)
	}
}

// TestClientMetrics pins mcp.client.operation.duration.
func TestClientMetrics(t *testing.T) {
	h := newHarness(t, InstrumentOptions{}, nil)
	u, _ := url.Parse("https://mcp.example.com/mcp")
	b := HTTPBackend(testBackend, u)
	h.serve(post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"nope"}}`), clientRelay(h.tel, &b, func(r *record.Record) {
		r.Ops[0].Error = record.RPCError{Code: -32601, Valid: true}
	}, nil))
	diffAttrs(t, "client metric", one(t, h.collect(t, MetricClientOperationDuration)), map[string]string{
		"mcp.method.name": "tools/call", "gen_ai.tool.name": "_OTHER", "gen_ai.operation.name": "execute_tool",
		"error.type": "-32601", "rpc.response.status_code": "-32601", "mcp.protocol.version": "2025-06-18",
		"network.transport": "tcp", "network.protocol.name": "http",
		"server.address": "mcp.example.com", "server.port": "443", "mcpgate.backend": "everything",
	})
}

// TestClientSpanOff: with no telemetry, or a no-op tracer, nothing is
// injected and the caller's context passes through untouched.
func TestClientSpanOff(t *testing.T) {
	noopTel, err := New(tracenoop.NewTracerProvider(), noop.NewMeterProvider(), InstrumentOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for name, tel := range map[string]*Telemetry{"nil": nil, "no-op providers": noopTel} {
		t.Run(name, func(t *testing.T) {
			rec := &record.Record{}
			op := &rec.NewOps(1)[0]
			ctx := record.NewContext(context.Background(), rec)
			// A remote parent in the context, which a no-op span would echo.
			ctx = trace.ContextWithRemoteSpanContext(ctx, remote(httpTP, ""))
			_, cs := tel.StartClient(ctx, nil, op)
			h := http.Header{"Traceparent": {httpTP}}
			cs.Inject(h)
			if h.Get("Traceparent") != httpTP {
				t.Errorf("traceparent rewritten to %q", h.Get("Traceparent"))
			}
			if kv := cs.MetaKVs(); kv != nil {
				t.Errorf("MetaKVs = %v", kv)
			}
			cs.End()
			tel.Catalog().Learn("x", "tools/list", []byte(`{"tools":[{"name":"a"}]}`))
			tel.Stage()(http.NotFoundHandler())
			tel.Reporter().Report(ctx, rec)
		})
	}
}

// TestTraceparentFormat checks the hand-written formatter against the
// propagator's parser.
func TestTraceparentFormat(t *testing.T) {
	for _, tp := range []string{httpTP, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"} {
		if got := traceparent(remote(tp, "")); got != tp {
			t.Errorf("traceparent(remote(%q)) = %q", tp, got)
		}
	}
}
