package telemetry

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/mcpgate/mcpgate/internal/record"
)

// TestMetricsOnlyRequestDoesNotAllocate: with metrics on and tracing off —
// the default configuration — a relayed tools/call costs telemetry no
// allocation: the CLIENT operation's recording and the reporter's SERVER
// one take their attribute sets from the caches, which a failed or
// rejected call (other sets, and the failure counters) fills once.
func TestMetricsOnlyRequestDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()),
		sdkmetric.WithView(views()...), sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	tel, err := New(tracenoop.NewTracerProvider(), mp, InstrumentOptions{RecordClientAddress: true})
	if err != nil {
		t.Fatal(err)
	}
	tel.Catalog().Learn("everything", "tools/list", []byte(`{"tools":[{"name":"echo"}]}`))
	backend := StdioBackend("everything")
	rep := tel.Reporter()
	for _, tc := range []struct {
		name     string
		edit     func(*record.Record)
		rejected bool // no CLIENT operation
	}{
		{"success", func(*record.Record) {}, false},
		{"upstream failure", func(rec *record.Record) {
			rec.Reason, rec.Status, rec.Ops[0].Answered = record.ReasonUpstreamUnavailable, 502, false
		}, false},
		{"rejected by authn", func(rec *record.Record) {
			rec.Reason, rec.Status, rec.Backend, rec.Ops[0].Answered = record.ReasonUnauthenticated, 401, "", false
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := benchRecord()
			tc.edit(rec)
			ctx := record.NewContext(context.Background(), rec)
			request := func() {
				if !tc.rejected {
					_, cs := tel.StartClient(ctx, &backend, &rec.Ops[0])
					cs.End()
				}
				rep.Report(ctx, rec)
			}
			request() // fills the set caches
			if n := testing.AllocsPerRun(100, request); n != 0 {
				t.Errorf("%v allocations per request, want 0", n)
			}
		})
	}
}
