package telemetry

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/mcpgate/mcpgate/internal/record"
)

// discardExporter drops spans, so the benchmark charges the gateway's side
// only (as the load benchmark of docs/operations.md measures it).
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// benchTelemetry builds the instrumentation on the SDK; a nil sampler means
// a no-op tracer provider (tracing off), metrics false a no-op meter provider.
func benchTelemetry(b *testing.B, sampler sdktrace.Sampler, metrics bool) *Telemetry {
	var tp trace.TracerProvider = tracenoop.NewTracerProvider()
	if sampler != nil {
		sdk := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler),
			sdktrace.WithSpanProcessor(sdktrace.NewBatchSpanProcessor(discardExporter{})))
		b.Cleanup(func() { _ = sdk.Shutdown(context.Background()) })
		tp = sdk
	}
	var mp metric.MeterProvider = noop.NewMeterProvider()
	if metrics {
		sdk := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()),
			sdkmetric.WithView(views()...), sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))
		b.Cleanup(func() { _ = sdk.Shutdown(context.Background()) })
		mp = sdk
	}
	tel, err := New(tp, mp, InstrumentOptions{RecordClientAddress: true})
	if err != nil {
		b.Fatal(err)
	}
	tel.Catalog().Learn("everything", "tools/list", []byte(`{"tools":[{"name":"echo"}]}`))
	return tel
}

// benchRecord is a tools/call as inspect and the relay leave it.
func benchRecord() *record.Record {
	rec := &record.Record{
		Start: time.Now(), HTTPMethod: "POST", Proto: "1.1", ClientAddr: "192.0.2.10", ClientPort: 40000,
		TraceParent: httpTP, Status: 200, ProtocolVersion: "2025-06-18", SessionID: "9f1c0d2e", Backend: "everything",
	}
	op := &rec.NewOps(1)[0]
	op.Kind, op.Method, op.ID, op.Name, op.Answered = record.OpRequest, "tools/call", "7", "echo", true
	return rec
}

// BenchmarkRequest is the telemetry cost of one relayed tools/call: the
// SERVER span started by the stage, a CLIENT span with its traceparent
// (header and _meta), and the reporter ending both and recording metrics.
// "nil" is everything off (Setup returns a nil Telemetry) and so the cost
// of building the request record alone; "metrics_only" is the default
// configuration (no trace exporter, Prometheus metrics).
func BenchmarkRequest(b *testing.B) {
	for _, bc := range []struct {
		name string
		tel  func(b *testing.B) *Telemetry
	}{
		{"sampled", func(b *testing.B) *Telemetry { return benchTelemetry(b, sdktrace.AlwaysSample(), true) }},
		{"not_sampled", func(b *testing.B) *Telemetry { return benchTelemetry(b, sdktrace.NeverSample(), true) }},
		{"metrics_only", func(b *testing.B) *Telemetry { return benchTelemetry(b, nil, true) }},
		{"nil", func(*testing.B) *Telemetry { return nil }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tel := bc.tel(b)
			backend := StdioBackend("everything")
			b.ReportAllocs()
			for b.Loop() {
				rec := benchRecord()
				ctx := record.NewContext(context.Background(), rec)
				if tel != nil && tel.tracing {
					tel.startAdmitted(ctx, rec, nil, nil)
				}
				_, cs := tel.StartClient(ctx, &backend, &rec.Ops[0])
				_ = cs.MetaKVs()
				cs.End()
				tel.Reporter().Report(ctx, rec)
			}
		})
	}
}

// BenchmarkReporter is the reporter alone, for a request rejected by authn
// (whose spans it starts itself).
func BenchmarkReporter(b *testing.B) {
	for _, bc := range []struct {
		name    string
		sampler sdktrace.Sampler
	}{
		{"sampled", sdktrace.AlwaysSample()},
		{"not_sampled", sdktrace.NeverSample()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tel := benchTelemetry(b, bc.sampler, true)
			rep := tel.Reporter()
			b.ReportAllocs()
			for b.Loop() {
				rec := benchRecord()
				rec.Reason, rec.Status, rec.Backend = record.ReasonUnauthenticated, 401, ""
				rep.Report(context.Background(), rec)
			}
		})
	}
}
