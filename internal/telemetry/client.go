package telemetry

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/record"
)

// BackendInfo describes a backend for CLIENT spans. Build it once per
// backend (HTTPBackend, StdioBackend) and share it.
type BackendInfo struct {
	Name      string // mcpgate.backend: the configured name
	Transport string // network.transport: "tcp" or "pipe"
	Protocol  string // network.protocol.name: "http" for HTTP backends
	Address   string // server.address (HTTP backends)
	Port      int    // server.port (HTTP backends)
}

// HTTPBackend describes a Streamable HTTP backend at u.
func HTTPBackend(name string, u *url.URL) BackendInfo {
	b := BackendInfo{Name: name, Transport: transportTCP, Protocol: protocolHTTP, Address: u.Hostname()}
	if p, err := strconv.Atoi(u.Port()); err == nil {
		b.Port = p
	} else if u.Scheme == "https" {
		b.Port = 443
	} else {
		b.Port = 80
	}
	return b
}

// StdioBackend describes a stdio backend.
func StdioBackend(name string) BackendInfo {
	return BackendInfo{Name: name, Transport: transportPipe}
}

// ClientSpan is one CLIENT span: a message the gateway sent to a backend.
// The zero ClientSpan (from a nil Telemetry) does nothing.
type ClientSpan struct {
	t     *Telemetry
	span  trace.Span
	rec   *record.Record
	op    *record.Op
	b     *BackendInfo
	start time.Time
}

// StartClient starts the CLIENT span of op (an element of the request
// record's Ops; nil for a request without messages, a GET stream or DELETE)
// sent to backend b, as a child of op's SERVER span. The returned context
// carries the span.
func (t *Telemetry) StartClient(ctx context.Context, b *BackendInfo, op *record.Op) (context.Context, ClientSpan) {
	if t == nil {
		return ctx, ClientSpan{}
	}
	if b == nil {
		b = &BackendInfo{}
	}
	rec := record.FromContext(ctx)
	now := time.Now()
	c := ClientSpan{t: t, rec: rec, op: op, b: b, start: now}
	if !t.tracing {
		return ctx, c
	}
	st := stateOf(rec)
	if st != nil {
		ctx = trace.ContextWithSpan(ctx, st.spanFor(rec, op))
	}
	name := httpMethodName("")
	if op != nil {
		name = t.clientSpanName(st, rec, op)
	} else if rec != nil {
		name = httpMethodName(rec.HTTPMethod)
	}
	ctx, c.span = t.tracer.Start(ctx, name, clientKind)
	return ctx, c
}

// clientSpanName is the CLIENT span's name of op: its admitted SERVER
// span's, as the trace stage kept it, or built the same way.
func (t *Telemetry) clientSpanName(st *reqState, rec *record.Record, op *record.Op) string {
	if st != nil {
		if n, ok := st.nameFor(rec, op); ok {
			return n
		}
	}
	return t.opSpanName(op, true)
}

// SpanContext returns the span's context: invalid for the zero ClientSpan
// and when tracing is off.
func (c ClientSpan) SpanContext() trace.SpanContext {
	if c.span == nil {
		return trace.SpanContext{}
	}
	return c.span.SpanContext()
}

// Inject replaces the W3C traceparent and tracestate headers in h with the
// span's. With no valid span (telemetry off) h is left as it is, so the
// gateway stays transparent to the caller's own context. Baggage is never
// written.
func (c ClientSpan) Inject(h http.Header) { injectHeaders(c.SpanContext(), h) }

// InjectContext is Inject for the span in ctx — the context StartClient
// returned — for code that has the outgoing request's context but not the
// ClientSpan (httprelay, which builds the upstream request's headers from
// the request's context).
func InjectContext(ctx context.Context, h http.Header) {
	injectHeaders(trace.SpanContextFromContext(ctx), h)
}

func injectHeaders(sc trace.SpanContext, h http.Header) {
	if !sc.IsValid() {
		return
	}
	h.Del("Traceparent")
	h.Del("Tracestate")
	h.Set("Traceparent", traceparent(sc))
	if ts := sc.TraceState().String(); ts != "" {
		h.Set("Tracestate", ts)
	}
}

// MetaKVs returns the params._meta members that carry the span's context
// (traceparent, and tracestate when there is one), for
// jsonrpc.Message.AppendSetMetaEdits; nil when there is no valid span.
func (c ClientSpan) MetaKVs() []jsonrpc.MetaKV {
	sc := c.SpanContext()
	if !sc.IsValid() {
		return nil
	}
	kv := []jsonrpc.MetaKV{{Key: "traceparent", Value: traceparent(sc)}}
	if ts := sc.TraceState().String(); ts != "" {
		kv = append(kv, jsonrpc.MetaKV{Key: "tracestate", Value: ts})
	}
	return kv
}

// traceparent formats sc as a W3C traceparent (version 00).
func traceparent(sc trace.SpanContext) string {
	var b [55]byte
	tid, sid := sc.TraceID(), sc.SpanID()
	b[0], b[1], b[2] = '0', '0', '-'
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	flags := [1]byte{byte(sc.TraceFlags() & (trace.FlagsSampled | trace.FlagsRandom))}
	hex.Encode(b[53:55], flags[:])
	return string(b[:])
}

// End ends the span with the outcome the record shows for its message (see
// opOutcome) and records mcp.client.operation.duration. Call it once the
// backend's answer has been relayed (or the call has failed).
func (c ClientSpan) End() {
	if c.t == nil {
		return
	}
	end := time.Now()
	rec := c.rec
	if rec == nil {
		rec = &record.Record{}
	}
	var o outcome
	if c.op != nil {
		o = opOutcome(rec, c.op)
	} else {
		o = requestOutcome(rec)
	}
	if c.span != nil && c.span.IsRecording() {
		buf := getAttrBuf()
		defer putAttrBuf(buf)
		kv := buf[:0]
		if c.op != nil {
			kv = appendOp(kv, c.op)
		} else {
			kv = append(kv, keyHTTPMethod.String(boundHTTPMethod(rec.HTTPMethod)), keyHTTPKind.String(httpKind(rec)))
		}
		if rec.ProtocolVersion != "" {
			kv = append(kv, keyMCPProtocolVersion.String(rec.ProtocolVersion))
		}
		kv = append(kv, keyNetworkTransport.String(c.b.Transport), keyBackend.String(c.b.Name))
		if c.b.Protocol != "" {
			kv = append(kv, keyNetworkProtocolName.String(c.b.Protocol))
		}
		if c.b.Address != "" {
			kv = append(kv, keyServerAddress.String(c.b.Address), keyServerPort.Int(c.b.Port))
		}
		kv = appendOutcome(kv, o)
		kv = c.t.attribution(kv, c.rec)
		c.span.SetAttributes(kv...)
		setStatus(c.span, o)
	}
	if c.span != nil {
		c.span.End()
	}
	if c.op != nil && (c.op.Kind == record.OpRequest || c.op.Kind == record.OpNotification) {
		a := opAttrs{
			version:       boundVersion(rec.ProtocolVersion),
			transport:     c.b.Transport,
			protocol:      c.b.Protocol,
			backend:       c.b.Name,
			serverAddress: c.b.Address,
			serverPort:    c.b.Port,
		}
		c.t.fillOp(&a, c.op, c.b.Name, o)
		c.t.inst.clientOp.Record(context.Background(), end.Sub(c.start).Seconds(), c.t.clientSets.options(&a)...)
	}
}
