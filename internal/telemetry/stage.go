package telemetry

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mcpgate/mcpgate/internal/credmask"
	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/record"
)

var bgCtx = context.Background()

// Span start options that never change, built once: each one built per call
// is an allocation.
var (
	serverKind = trace.WithSpanKind(trace.SpanKindServer)
	clientKind = trace.WithSpanKind(trace.SpanKindClient)
	newRoot    = trace.WithNewRoot()
)

// Stage returns the "trace" stage. It belongs right after authn: a request
// that reaches it was admitted, so the trace context its caller sent may
// parent its SERVER spans (one per JSON-RPC message, or one for a request
// without messages), which it starts at the record's start time. The spans
// stay on the record until the Reporter ends them; the first also goes into
// the request context, so that log lines of the inner stages carry its ids.
// Nothing is set on them yet: attributes come from the record at the end.
func (t *Telemetry) Stage() func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if t == nil || !t.tracing {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			rec := record.FromContext(ctx)
			if rec == nil || stateKey.Get(rec) != nil {
				next.ServeHTTP(w, r)
				return
			}
			st := t.startAdmitted(ctx, rec, inspect.FromContext(ctx), r.Header)
			next.ServeHTTP(w, r.WithContext(trace.ContextWithSpan(ctx, st.spans[0])))
		})
	}
}

func (t *Telemetry) startAdmitted(ctx context.Context, rec *record.Record, in *inspect.Request, h http.Header) *reqState {
	tp, ts := rec.TraceParent, rec.TraceState
	if tp == "" {
		tp, ts = h.Get("Traceparent"), h.Get("Tracestate")
	}
	httpSC := remote(tp, ts)
	st := newState(rec, true)
	if len(rec.Ops) == 0 {
		parent, links := admittedParent(httpSC, trace.SpanContext{})
		st.spans[0] = t.startServer(ctx, st, httpMethodName(rec.HTTPMethod), parent, links, rec.Start)
		return st
	}
	if n := len(rec.Ops); n > 1 {
		st.names = make([]string, n)
	} else {
		st.names = st.oneName[:]
	}
	for i := range rec.Ops {
		op := &rec.Ops[i]
		var m *jsonrpc.Message
		if in != nil && i < len(in.Body.Messages) {
			m = &in.Body.Messages[i]
			if op.TraceParent == "" {
				op.TraceParent, op.TraceState = m.Traceparent, m.Tracestate
			}
		}
		parent, links := admittedParent(httpSC, remote(op.TraceParent, op.TraceState))
		name := t.opSpanName(op, true)
		st.names[i] = name
		st.spans[i] = t.startServer(ctx, st, name, parent, links, rec.Start)
		if t.opts.RecordToolArguments && op.Method == "tools/call" && m != nil && st.spans[i].IsRecording() {
			if args := toolArguments(in.Raw, m); args != nil {
				if st.args == nil {
					st.args = make([]string, len(rec.Ops))
				}
				st.args[i] = credmask.RedactJSON(args, t.opts.ToolArgumentsLimit)
			}
		}
	}
	return st
}

// startRejected starts the spans of a request that never reached the trace
// stage: new roots, linked to the contexts the caller sent.
func (t *Telemetry) startRejected(ctx context.Context, rec *record.Record) *reqState {
	httpSC := remote(rec.TraceParent, rec.TraceState)
	st := newState(rec, false)
	if len(rec.Ops) == 0 {
		st.spans[0] = t.startServer(ctx, st, httpMethodName(rec.HTTPMethod), trace.SpanContext{}, rejectedLinks(httpSC, trace.SpanContext{}), rec.Start)
		return st
	}
	for i := range rec.Ops {
		op := &rec.Ops[i]
		links := rejectedLinks(httpSC, remote(op.TraceParent, op.TraceState))
		st.spans[i] = t.startServer(ctx, st, t.opSpanName(op, false), trace.SpanContext{}, links, rec.Start)
	}
	return st
}

// startServer starts one SERVER span under parent, or as a new root when
// parent is invalid (whatever span ctx may hold: the rules decide the
// parent, not the context the request happened to arrive with). st lends
// its option list.
func (t *Telemetry) startServer(ctx context.Context, st *reqState, name string, parent trace.SpanContext, links []trace.Link, start time.Time) trace.Span {
	opts := st.startOpts[:0]
	defer clear(st.startOpts[:]) // holds the links until the next span
	opts = append(opts, serverKind, trace.WithTimestamp(start))
	if parent.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, parent)
	} else {
		opts = append(opts, newRoot)
	}
	if len(links) > 0 {
		opts = append(opts, trace.WithLinks(links...))
	}
	_, sp := t.tracer.Start(ctx, name, opts...)
	return sp
}

// toolArguments returns params.arguments of a tools/call message, or nil.
// Arguments are recorded only on opt-in, so decoding them with
// encoding/json on this path costs nothing by default. A map keeps member
// names exact: encoding/json would match a struct field case-insensitively.
func toolArguments(raw []byte, m *jsonrpc.Message) []byte {
	if !m.Params.Present() {
		return nil
	}
	var params map[string]json.RawMessage
	if json.Unmarshal(m.Params.Bytes(raw), &params) != nil {
		return nil
	}
	return params["arguments"]
}
