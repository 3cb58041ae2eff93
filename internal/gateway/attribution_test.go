package gateway

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpgate/mcpgate/internal/attribution"
	"github.com/mcpgate/mcpgate/internal/authn"
	"github.com/mcpgate/mcpgate/internal/httprelay"
	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/observe"
	"github.com/mcpgate/mcpgate/internal/record"
	"github.com/mcpgate/mcpgate/internal/telemetry"
)

// TestAttributionIndependentOfStageOrder: identity-derived attributes are
// set from the record when spans end, so they are right whether authn runs
// inside observe (the gateway's order) or outside it (an embedder's custom
// chain) — on the SERVER span and on the CLIENT span alike.
func TestAttributionIndependentOfStageOrder(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{"content":[]}}`)
	}))
	defer backend.Close()
	const key = "mcpg_attribution-test-key"
	auth, err := authn.New(authn.Options{
		APIKeys:  []authn.APIKey{{Subject: "alice", SHA256: authn.Digest(key)}},
		Resource: "http://127.0.0.1/mcp",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer auth.Close()
	attr, err := attribution.New(attribution.Raw, nil)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		order func(observe, authn, rest Stage) []Stage
	}{
		{"authn inside observe", func(o, a, rest Stage) []Stage {
			return []Stage{o, {"inspect", inspect.New(inspect.Options{})}, a, rest}
		}},
		{"authn outside observe", func(o, a, rest Stage) []Stage {
			return []Stage{a, o, {"inspect", inspect.New(inspect.Options{})}, rest}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spans := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			tel, err := telemetry.New(tp, mp, telemetry.InstrumentOptions{
				Attribution: func(dst []attribute.KeyValue, rec *record.Record) []attribute.KeyValue {
					return attr.Append(dst, rec.Identity)
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(backend.URL + "/mcp")
			relay, err := httprelay.New(httprelay.Options{Name: "b", URL: u, Telemetry: tel})
			if err != nil {
				t.Fatal(err)
			}
			stages := tt.order(
				Stage{"observe", observe.New(nil, tel.Reporter())},
				Stage{"authn", auth.Middleware()},
				Stage{"trace", tel.Stage()},
			)
			front := httptest.NewServer(Chain(relay, stages...))
			defer front.Close()

			req, _ := http.NewRequest("POST", front.URL+"/mcp", strings.NewReader(
				`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{}}}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("X-API-Key", key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			// Spans end in observe's reporter, after the response is sent:
			// Close waits for the handler to return.
			front.Close()
			tp.ForceFlush(context.Background())

			kinds := map[trace.SpanKind]bool{}
			for _, s := range spans.Ended() {
				got := ""
				for _, kv := range s.Attributes() {
					if kv.Key == "user.id" {
						got = kv.Value.AsString()
					}
				}
				if got != "alice" {
					t.Errorf("%s span %q: user.id %q, want alice", s.SpanKind(), s.Name(), got)
				}
				kinds[s.SpanKind()] = true
			}
			if !kinds[trace.SpanKindServer] || !kinds[trace.SpanKindClient] {
				t.Fatalf("span kinds %v, want a SERVER and a CLIENT span", kinds)
			}
		})
	}
}
