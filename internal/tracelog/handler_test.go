package tracelog

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/observe"
	"github.com/mcpgate/mcpgate/internal/record"
	"github.com/mcpgate/mcpgate/internal/telemetry"
)

// TestHandler: log lines inside a traced request carry its ids — from the
// context inside the trace stage, from the record outside it (observe's
// per-request line) — and lines outside any request carry none.
func TestHandler(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tel, err := telemetry.New(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr)), metricnoop.NewMeterProvider(), telemetry.InstrumentOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var inner, outer context.Context
	relay := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner = r.Context()
		rec := record.FromContext(inner)
		outer = record.NewContext(context.Background(), rec) // what observe's reporters get
		rec.Ops[0].Answered = true
		w.WriteHeader(http.StatusOK)
	})
	h := observe.New(nil, tel.Reporter())(inspect.New(inspect.Options{})(tel.Stage()(relay)))
	req := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	ended := sr.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans ended, want the request's SERVER span", len(ended))
	}
	span := ended[0].SpanContext()

	var buf bytes.Buffer
	log := slog.New(Handler(slog.NewJSONHandler(&buf, nil)))
	want := `"trace_id":"` + span.TraceID().String() + `","span_id":"` + span.SpanID().String() + `"`
	tests := []struct {
		name   string
		log    func()
		wantID bool
	}{
		{name: "inside the trace stage", log: func() { log.InfoContext(inner, "x") }, wantID: true},
		{name: "with only the record", log: func() { log.InfoContext(outer, "x") }, wantID: true},
		{name: "in a group", log: func() { log.With("a", 1).WithGroup("g").InfoContext(outer, "x", "b", 2) }, wantID: true},
		{name: "outside a request", log: func() { log.With("a", 1).WithGroup("g").InfoContext(context.Background(), "plain") }},
		{name: "no context", log: func() { log.Info("plain") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			buf.Reset()
			tc.log()
			switch got := buf.String(); {
			case tc.wantID && !strings.Contains(got, want):
				t.Errorf("%s lacks %s", got, want)
			case !tc.wantID && strings.Contains(got, "trace_id"):
				t.Errorf("untraced line has ids: %s", got)
			}
		})
	}
}
