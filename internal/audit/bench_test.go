package audit

import (
	"context"
	"encoding/json"
	"io"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/mcpgate/mcpgate/internal/record"
)

func benchRecord() *record.Record {
	return &record.Record{Start: t0, HTTPMethod: "POST", Status: 200, Identity: alice, Backend: "search",
		ClientAddr: "192.0.2.1", ClientName: "claude-code", ClientVersion: "1.0.0", ProtocolVersion: "2025-06-18",
		SessionID: "3f0b1c9e-5d8a-4a7e-9f4e-2b1c0d9e8f7a", Ops: []record.Op{answeredOK(toolCall("7", "search"))}}
}

// BenchmarkReport is the per-request cost on the request's goroutine:
// building the event from the record, encoding it, and queueing it.
func BenchmarkReport(b *testing.B) {
	for _, mode := range []struct {
		name string
		opts ReportOptions
	}{
		{"raw", ReportOptions{}},
		{"hashed", ReportOptions{Principal: PrincipalHashed, Hash: func(string, string) (string, string) {
			return "0123456789abcdef0123456789abcdef", "k1"
		}}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			l, err := New(Options{Writer: io.Discard, QueueSize: 1 << 20})
			if err != nil {
				b.Fatal(err)
			}
			r, err := l.Reporter(mode.opts)
			if err != nil {
				b.Fatal(err)
			}
			ctx := trace.ContextWithSpanContext(context.Background(), testSC)
			rec := benchRecord()
			b.ReportAllocs()
			for b.Loop() {
				r.Report(ctx, rec)
			}
			b.StopTimer()
			closeLoggerB(b, l)
			b.ReportMetric(float64(l.Dropped()), "dropped")
		})
	}
}

func closeLoggerB(b *testing.B, l *Logger) {
	if err := l.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkEncode compares the hand-written encoder with encoding/json on
// the same event.
func BenchmarkEncode(b *testing.B) {
	e := fullEvent()
	e.Request, e.Response = nil, nil
	b.Run("AppendJSON", func(b *testing.B) {
		buf := make([]byte, 0, 1024)
		b.ReportAllocs()
		for b.Loop() {
			buf = e.AppendJSON(buf[:0])
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		type plain Event
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal((*plain)(e)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
