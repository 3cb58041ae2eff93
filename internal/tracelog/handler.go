package tracelog

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"

	"github.com/mcpgate/mcpgate/internal/record"
	"github.com/mcpgate/mcpgate/internal/telemetry"
)

// Handler wraps h so that every record logged with a context inside a
// traced request carries trace_id and span_id: the span in the context, or
// else the first SERVER span on the request's record (which is how observe's
// per-request line, logged outside the traced stages, joins its trace).
// Attributes added under a WithGroup are nested like any other.
func Handler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ h slog.Handler }

func (l logHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return l.h.Enabled(ctx, level)
}

func (l logHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		sc := trace.SpanContextFromContext(ctx)
		if !sc.IsValid() {
			sc = telemetry.ServerSpanContext(record.FromContext(ctx), -1)
		}
		if sc.IsValid() {
			r = r.Clone()
			r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
		}
	}
	return l.h.Handle(ctx, r)
}

func (l logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{l.h.WithAttrs(attrs)}
}
func (l logHandler) WithGroup(name string) slog.Handler { return logHandler{l.h.WithGroup(name)} }
