package telemetry

import (
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpgate/mcpgate/internal/record"
)

// reqState is what telemetry keeps about one request, in its slot on the
// record (stateKey) rather than in the context: the reporter runs in
// observe, outside the stage that started the spans, and sees the record but
// none of the inner contexts.
type reqState struct {
	// spans holds one SERVER span per rec.Ops entry, in order, or a single
	// one for a request that carried no JSON-RPC message.
	spans []trace.Span
	one   [1]trace.Span
	// admitted is set when the trace stage started the spans: the request
	// passed authn, so the caller's trace context could be the parent.
	admitted bool
	// args holds the redacted tool arguments per op (opt-in), else nil.
	args []string
	// names holds the admitted SERVER spans' names per op, which are their
	// CLIENT spans' names too (built once: a name with a target is a
	// concatenation); nil for the spans of a rejected request.
	names   []string
	oneName [1]string
	// startOpts is startServer's option list, reused for each span: the
	// state is on the heap already, a slice of its own would be one more
	// allocation per span (tracer.Start does not keep it).
	startOpts [4]trace.SpanStartOption
}

// stateKey is telemetry's slot on every record.
var stateKey = record.NewKey[reqState]()

func stateOf(rec *record.Record) *reqState { return stateKey.Get(rec) }

// newState sizes the span slice for rec.
func newState(rec *record.Record, admitted bool) *reqState {
	st := &reqState{admitted: admitted}
	if n := len(rec.Ops); n > 1 {
		st.spans = make([]trace.Span, n)
	} else {
		st.spans = st.one[:]
	}
	stateKey.Set(rec, st)
	return st
}

// nameFor returns the span name of op (an element of rec.Ops) kept by
// the trace stage, if it kept one.
func (st *reqState) nameFor(rec *record.Record, op *record.Op) (string, bool) {
	if len(st.names) != len(rec.Ops) {
		return "", false
	}
	for i := range rec.Ops {
		if &rec.Ops[i] == op {
			return st.names[i], st.names[i] != ""
		}
	}
	return "", false
}

// spanFor returns the SERVER span of op (an element of rec.Ops), or the
// request's first span when op is nil or not one of rec's.
func (st *reqState) spanFor(rec *record.Record, op *record.Op) trace.Span {
	if op != nil && len(rec.Ops) == len(st.spans) {
		for i := range rec.Ops {
			if &rec.Ops[i] == op {
				return st.spans[i]
			}
		}
	}
	return st.spans[0]
}

// ServerSpanContext returns the context of the SERVER span of message i of
// rec (i < 0, or a request without messages: the request's first span), for
// what records the request elsewhere and must join its trace — the audit
// log's traceId and spanId. It is valid once the trace stage or the Reporter
// has started the span (report after the Reporter), whether or not the span
// is sampled, and invalid when tracing is off.
func ServerSpanContext(rec *record.Record, i int) trace.SpanContext {
	st := stateOf(rec)
	if st == nil || len(st.spans) == 0 {
		return trace.SpanContext{}
	}
	sp := st.spans[0]
	if i >= 0 && i < len(st.spans) && len(st.spans) == len(rec.Ops) {
		sp = st.spans[i]
	}
	if sp == nil {
		return trace.SpanContext{}
	}
	return sp.SpanContext()
}
