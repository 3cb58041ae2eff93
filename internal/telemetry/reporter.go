package telemetry

import (
	"context"
	"time"

	"github.com/mcpgate/mcpgate/internal/observe"
	"github.com/mcpgate/mcpgate/internal/record"
)

// Reporter returns the observe reporter that ends each request's SERVER
// spans and records its metrics. Spans of a request that never reached the
// trace stage — rejected before or by authn — are started here, as new roots
// linked to the caller's contexts. Every attribute is set here, from the
// record as the whole chain left it. Metrics are recorded whether or not the
// spans were sampled, so rejected requests always count.
func (t *Telemetry) Reporter() observe.Reporter {
	if t == nil {
		return observe.ReporterFunc(func(context.Context, *record.Record) {})
	}
	return reporter{t}
}

type reporter struct{ t *Telemetry }

func (r reporter) Report(ctx context.Context, rec *record.Record) { r.t.report(ctx, rec, time.Now()) }

func (t *Telemetry) report(ctx context.Context, rec *record.Record, end time.Time) {
	if t.tracing {
		t.endSpans(ctx, rec)
	}
	t.recordServer(ctx, rec, end.Sub(rec.Start).Seconds())
}

func (t *Telemetry) endSpans(ctx context.Context, rec *record.Record) {
	st := stateOf(rec)
	if st == nil {
		st = t.startRejected(ctx, rec)
	}
	if len(rec.Ops) == 0 || len(st.spans) != len(rec.Ops) {
		// A request without messages (or, defensively, one whose ops
		// changed after the stage): one span for the request.
		sp := st.spans[0]
		if sp.IsRecording() {
			t.finishServer(sp, rec, nil, st.admitted, "")
		}
		sp.End()
		for _, sp := range st.spans[1:] {
			sp.End()
		}
	} else {
		for i, sp := range st.spans {
			if sp.IsRecording() {
				var args string
				if st.args != nil {
					args = st.args[i]
				}
				t.finishServer(sp, rec, &rec.Ops[i], st.admitted, args)
			}
			sp.End()
		}
	}
}
