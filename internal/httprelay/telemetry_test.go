package httprelay

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/metric/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/telemetry"
)

const callerTP = "00-11111111111111111111111111111111-aaaaaaaaaaaaaaaa-01"

func newTelemetry(t *testing.T) (*telemetry.Telemetry, *tracetest.SpanRecorder) {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tel, err := telemetry.New(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr)), noop.NewMeterProvider(), telemetry.InstrumentOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tel, sr
}

// upstream is what the backend received.
type upstream struct {
	header http.Header
	body   string
}

func traceBackend(t *testing.T, got chan<- upstream, reply string) *httptest.Server {
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- upstream{r.Header.Clone(), string(body)}
		if reply == "" {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, reply)
	}))
	t.Cleanup(b.Close)
	return b
}

// TestTraceContextUpstream: with telemetry, each message's CLIENT span goes
// upstream in params._meta, and the first one in the W3C headers, replacing
// what the caller sent; the caller's baggage never does.
func TestTraceContextUpstream(t *testing.T) {
	tel, sr := newTelemetry(t)
	got := make(chan upstream, 1)
	b := traceBackend(t, got, `[{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","id":2,"result":{}}]`)
	f := newFront(t, newRelay(t, b.URL, Options{Telemetry: tel}))
	body := `[{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"traceparent":"` + callerTP + `","x":1}}},` +
		`{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":2,"method":"tools/list"}]`
	// In a session (2025-03-26, batches allowed), so _meta may be created
	// where absent (mcpwire.TraceMeta; TestTraceMetaEraClassification has
	// the cases where it may not).
	post(t, f.URL, body, http.Header{"Traceparent": {callerTP}, "Tracestate": {"caller=1"}, "Baggage": {"user=alice"}, "Mcp-Session-Id": {"s1"}})
	s := <-got
	f.record(t)

	spans := sr.Ended()
	if len(spans) != 3 {
		t.Fatalf("%d CLIENT spans, want one per message (3)", len(spans))
	}
	tp := func(i int) string {
		sc := spans[i].SpanContext()
		return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"
	}
	for i, sp := range spans {
		if sp.SpanKind() != trace.SpanKindClient {
			t.Errorf("span %d kind %v", i, sp.SpanKind())
		}
	}
	if h := s.header.Get("Traceparent"); h != tp(0) {
		t.Errorf("traceparent header %q, want the first CLIENT span %q", h, tp(0))
	}
	if s.header.Get("Tracestate") != "" || s.header.Get("Baggage") != "" {
		t.Errorf("caller's tracestate/baggage forwarded: %v", s.header)
	}
	want := `[{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"traceparent":"` + tp(0) + `","x":1}}},` +
		`{"params":{"_meta":{"traceparent":"` + tp(1) + `"}},"jsonrpc":"2.0","method":"notifications/initialized"},` +
		`{"params":{"_meta":{"traceparent":"` + tp(2) + `"}},"jsonrpc":"2.0","id":2,"method":"tools/list"}]`
	if s.body != want {
		t.Errorf("body upstream\n%s\nwant\n%s", s.body, want)
	}
	if _, err := jsonrpc.Parse([]byte(s.body), jsonrpc.Limits{}); err != nil {
		t.Errorf("spliced body does not parse: %v", err)
	}
}

// TestNoTelemetryTransparent: without telemetry the body goes upstream byte
// for byte and the caller's traceparent passes through.
func TestNoTelemetryTransparent(t *testing.T) {
	got := make(chan upstream, 1)
	b := traceBackend(t, got, `{"jsonrpc":"2.0","id":7,"result":{}}`)
	f := newFront(t, newRelay(t, b.URL, Options{}))
	post(t, f.URL, toolsCall, http.Header{"Traceparent": {callerTP}})
	s := <-got
	f.record(t)
	if s.body != toolsCall {
		t.Errorf("body changed: %s", s.body)
	}
	if s.header.Get("Traceparent") != callerTP {
		t.Errorf("traceparent %q, want the caller's", s.header.Get("Traceparent"))
	}
}

// TestCatalogLearnsFromResponses: tools/list results, JSON or SSE, teach the
// catalog the backend's tool names.
func TestCatalogLearnsFromResponses(t *testing.T) {
	for _, sseReply := range []bool{false, true} {
		name := map[bool]string{false: "json", true: "sse"}[sseReply]
		t.Run(name, func(t *testing.T) {
			tel, _ := newTelemetry(t)
			result := `{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"lookup","inputSchema":{}}]}}`
			b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				if sseReply {
					w.Header().Set("Content-Type", "text/event-stream")
					_, _ = io.WriteString(w, "event: message\ndata: "+result+"\n\n")
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, result)
			}))
			defer b.Close()
			f := newFront(t, newRelay(t, b.URL, Options{Telemetry: tel}))
			resp := post(t, f.URL, `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`, nil)
			_, _ = io.Copy(io.Discard, resp.Body)
			f.record(t)
			if !tel.Catalog().KnownTool("search", "lookup") {
				t.Error("tool name not learned")
			}
		})
	}
}

// TestClientSpanOutcome: the CLIENT span ends with the backend's answer.
func TestClientSpanOutcome(t *testing.T) {
	tel, sr := newTelemetry(t)
	got := make(chan upstream, 1)
	b := traceBackend(t, got, `{"jsonrpc":"2.0","id":7,"error":{"code":-32602,"message":"bad"}}`)
	f := newFront(t, newRelay(t, b.URL, Options{Telemetry: tel}))
	post(t, f.URL, toolsCall, nil)
	<-got
	f.record(t)
	sp := sr.Ended()[0]
	a := map[string]string{}
	for _, kv := range sp.Attributes() {
		a[string(kv.Key)] = kv.Value.String()
	}
	if sp.Name() != "tools/call echo" || a["error.type"] != "-32602" || a["server.address"] != "127.0.0.1" ||
		!strings.HasPrefix(b.URL, "http://127.0.0.1:"+a["server.port"]) {
		t.Errorf("span %q attributes %v", sp.Name(), a)
	}
}
