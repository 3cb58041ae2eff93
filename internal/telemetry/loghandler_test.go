package telemetry

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/internal/record"
)

// TestLogHandler: log lines inside a traced request carry its ids — from the
// context inside the trace stage, from the record outside it (observe's
// per-request line) — and lines outside any request carry none.
func TestLogHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil)))
	h := newHarness(t, InstrumentOptions{}, nil)
	var inner, outer context.Context
	h.serve(post(`{"jsonrpc":"2.0","id":1,"method":"ping"}`, "Traceparent", httpTP), func(w http.ResponseWriter, r *http.Request) {
		inner = r.Context()
		rec := record.FromContext(inner)
		outer = record.NewContext(context.Background(), rec) // what observe's reporters get
		answer()(w, r)
	})
	span := h.spans.Ended()[0].SpanContext()
	for name, ctx := range map[string]context.Context{"inner": inner, "outer": outer} {
		buf.Reset()
		log.InfoContext(ctx, "x")
		want := `"trace_id":"` + span.TraceID().String() + `","span_id":"` + span.SpanID().String() + `"`
		if !strings.Contains(buf.String(), want) {
			t.Errorf("%s: %s lacks %s", name, buf.String(), want)
		}
	}
	buf.Reset()
	log.With("a", 1).WithGroup("g").InfoContext(context.Background(), "plain")
	if strings.Contains(buf.String(), "trace_id") {
		t.Errorf("untraced line has ids: %s", buf.String())
	}
}
