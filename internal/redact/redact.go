package redact

import (
	"context"
	"fmt"
	"log/slog"
)

// Logger returns l logging through Handler(l.Handler(), f), or l itself
// when it already redacts: the configuration has one redaction function,
// and the gateway and its command both make sure their logger applies it.
func Logger(l *slog.Logger, f func(string) string) *slog.Logger {
	if _, ok := l.Handler().(*handler); ok {
		return l
	}
	return slog.New(Handler(l.Handler(), f))
}

// Handler returns h with every string of a record passed through f.
func Handler(h slog.Handler, f func(string) string) slog.Handler {
	return &handler{h: h, f: f}
}

type handler struct {
	h slog.Handler
	f func(string) string
}

func (r *handler) Enabled(ctx context.Context, l slog.Level) bool { return r.h.Enabled(ctx, l) }

func (r *handler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, r.f(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(r.attr(a))
		return true
	})
	return r.h.Handle(ctx, out)
}

func (r *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = r.attr(a)
	}
	return &handler{h: r.h.WithAttrs(red), f: r.f}
}

func (r *handler) WithGroup(name string) slog.Handler {
	return &handler{h: r.h.WithGroup(name), f: r.f}
}

func (r *handler) attr(a slog.Attr) slog.Attr {
	a.Value = r.value(a.Value)
	return a
}

func (r *handler) value(v slog.Value) slog.Value {
	v = v.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.StringValue(r.f(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]slog.Attr, len(g))
		for i, a := range g {
			red[i] = r.attr(a)
		}
		return slog.GroupValue(red...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.StringValue(r.f(x.Error()))
		case fmt.Stringer:
			return slog.StringValue(r.f(x.String()))
		case []string:
			red := make([]string, len(x))
			for i, s := range x {
				red[i] = r.f(s)
			}
			return slog.AnyValue(red)
		case []byte:
			return slog.StringValue(r.f(string(x)))
		default:
			// Anything else is formatted by the handler (JSON, %+v). It
			// keeps its structure unless its text holds something to
			// redact; then the redacted text replaces it.
			s := fmt.Sprintf("%+v", x)
			if red := r.f(s); red != s {
				return slog.StringValue(red)
			}
		}
	}
	return v
}
