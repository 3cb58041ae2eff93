package otelsetup

import (
	"context"
	"fmt"
	"math"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// protoExporter is otlptrace.Exporter with a cheaper conversion of spans to
// OTLP messages, in front of the same clients (otlptracehttp.NewClient,
// otlptracegrpc.NewClient: endpoint, headers, TLS, compression, timeouts
// and their environment variables are theirs). The SDK's conversion
// (otlptrace's internal tracetransform) allocates three objects per
// attribute and about six per span — a third of all the objects the
// gateway allocated with 100 % tracing. Here a batch's spans, statuses,
// ids, attributes and values are each allocated as one array. The messages are the same
// (TestProtoSpansMatchSDK compares them with the SDK's).
type protoExporter struct {
	client otlptrace.Client

	stopOnce sync.Once
}

// newProtoExporter starts client and returns the exporter over it, as
// otlptrace.New does.
func newProtoExporter(ctx context.Context, client otlptrace.Client) (*protoExporter, error) {
	if err := client.Start(ctx); err != nil {
		return nil, err
	}
	return &protoExporter{client: client}, nil
}

func (e *protoExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	rss := protoSpans(spans)
	if len(rss) == 0 {
		return nil
	}
	if err := e.client.UploadTraces(ctx, rss); err != nil {
		return fmt.Errorf("traces export: %w", err)
	}
	return nil
}

func (e *protoExporter) Shutdown(ctx context.Context) error {
	var err error
	e.stopOnce.Do(func() { err = e.client.Stop(ctx) })
	return err
}

// protoArena hands out the messages of one batch from arrays sized for it.
// Attribute values of the scalar types come from here; slices and maps
// (which the gateway never sets) are built one by one.
type protoArena struct {
	spans    []tracepb.Span
	statuses []tracepb.Status
	ids      []byte // trace, span and parent span ids, 32 bytes a span
	kvPtrs   []*commonpb.KeyValue
	kvs      []commonpb.KeyValue
	values   []commonpb.AnyValue
	strs     []commonpb.AnyValue_StringValue
	ints     []commonpb.AnyValue_IntValue
	bools    []commonpb.AnyValue_BoolValue
	doubles  []commonpb.AnyValue_DoubleValue
}

func newProtoArena(spans []sdktrace.ReadOnlySpan) *protoArena {
	var n, attrs, strs, ints, bools, doubles int
	for _, sd := range spans {
		if sd == nil {
			continue
		}
		n++
		for _, kv := range sd.Attributes() {
			attrs++
			switch kv.Value.Type() {
			case attribute.STRING:
				strs++
			case attribute.INT64:
				ints++
			case attribute.BOOL:
				bools++
			case attribute.FLOAT64:
				doubles++
			}
		}
	}
	return &protoArena{
		spans:    make([]tracepb.Span, n),
		statuses: make([]tracepb.Status, n),
		ids:      make([]byte, 32*n),
		kvPtrs:   make([]*commonpb.KeyValue, attrs),
		kvs:      make([]commonpb.KeyValue, attrs),
		values:   make([]commonpb.AnyValue, attrs),
		strs:     make([]commonpb.AnyValue_StringValue, strs),
		ints:     make([]commonpb.AnyValue_IntValue, ints),
		bools:    make([]commonpb.AnyValue_BoolValue, bools),
		doubles:  make([]commonpb.AnyValue_DoubleValue, doubles),
	}
}

// keyValues converts a span's attributes, from the arena.
func (a *protoArena) keyValues(attrs []attribute.KeyValue) []*commonpb.KeyValue {
	if len(attrs) == 0 {
		return nil
	}
	out := a.kvPtrs[:len(attrs):len(attrs)]
	a.kvPtrs = a.kvPtrs[len(attrs):]
	for i, kv := range attrs {
		p, v := &a.kvs[0], &a.values[0]
		a.kvs, a.values = a.kvs[1:], a.values[1:]
		p.Key, p.Value = string(kv.Key), v
		switch kv.Value.Type() {
		case attribute.STRING:
			w := &a.strs[0]
			a.strs = a.strs[1:]
			w.StringValue = kv.Value.AsString()
			v.Value = w
		case attribute.INT64:
			w := &a.ints[0]
			a.ints = a.ints[1:]
			w.IntValue = kv.Value.AsInt64()
			v.Value = w
		case attribute.BOOL:
			w := &a.bools[0]
			a.bools = a.bools[1:]
			w.BoolValue = kv.Value.AsBool()
			v.Value = w
		case attribute.FLOAT64:
			w := &a.doubles[0]
			a.doubles = a.doubles[1:]
			w.DoubleValue = kv.Value.AsFloat64()
			v.Value = w
		default:
			v.Value = anyValue(kv.Value).Value
		}
		out[i] = p
	}
	return out
}

// protoSpans is tracetransform.Spans: the spans grouped by resource, then
// by instrumentation scope, in the order they come.
func protoSpans(sdl []sdktrace.ReadOnlySpan) []*tracepb.ResourceSpans {
	if len(sdl) == 0 {
		return nil
	}
	a := newProtoArena(sdl)
	type scopeKey struct {
		r  attribute.Distinct
		is instrumentation.Scope
	}
	var (
		rss []*tracepb.ResourceSpans
		rsm = make(map[attribute.Distinct]*tracepb.ResourceSpans, 1)
		ssm = make(map[scopeKey]*tracepb.ScopeSpans, 1)
	)
	for _, sd := range sdl {
		if sd == nil {
			continue
		}
		rKey := sd.Resource().Equivalent()
		scope := sd.InstrumentationScope()
		k := scopeKey{rKey, scope}
		ss, ok := ssm[k]
		if !ok {
			ss = &tracepb.ScopeSpans{
				Scope:     protoScope(scope),
				Spans:     make([]*tracepb.Span, 0, len(sdl)),
				SchemaUrl: scope.SchemaURL,
			}
			ssm[k] = ss
		}
		ss.Spans = append(ss.Spans, a.span(sd))
		rs, rOK := rsm[rKey]
		if !rOK {
			rs = &tracepb.ResourceSpans{
				Resource:   &resourcepb.Resource{Attributes: iterKeyValues(sd.Resource().Iter())},
				ScopeSpans: []*tracepb.ScopeSpans{ss},
				SchemaUrl:  sd.Resource().SchemaURL(),
			}
			rsm[rKey] = rs
			rss = append(rss, rs)
			continue
		}
		if !ok {
			rs.ScopeSpans = append(rs.ScopeSpans, ss)
		}
	}
	return rss
}

func (a *protoArena) span(sd sdktrace.ReadOnlySpan) *tracepb.Span {
	sc := sd.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	s, st := &a.spans[0], &a.statuses[0]
	a.spans, a.statuses = a.spans[1:], a.statuses[1:]
	status := sd.Status()
	switch status.Code {
	case codes.Ok:
		st.Code = tracepb.Status_STATUS_CODE_OK
	case codes.Error:
		st.Code = tracepb.Status_STATUS_CODE_ERROR
	default:
		st.Code = tracepb.Status_STATUS_CODE_UNSET
	}
	st.Message = status.Description
	ids := a.ids[:32:32]
	a.ids = a.ids[32:]
	copy(ids, tid[:])
	copy(ids[16:], sid[:])
	s.TraceId = ids[:16:16]
	s.SpanId = ids[16:24:24]
	s.TraceState = sc.TraceState().String()
	s.Status = st
	s.StartTimeUnixNano = uint64(max(0, sd.StartTime().UnixNano())) //nolint:gosec // clamped
	s.EndTimeUnixNano = uint64(max(0, sd.EndTime().UnixNano()))     //nolint:gosec // clamped
	s.Links = protoLinks(sd.Links())
	s.Kind = protoKind(sd.SpanKind())
	s.Name = sd.Name()
	s.Attributes = a.keyValues(sd.Attributes())
	s.Events = protoEvents(sd.Events())
	s.DroppedAttributesCount = clampUint32(sd.DroppedAttributes())
	s.DroppedEventsCount = clampUint32(sd.DroppedEvents())
	s.DroppedLinksCount = clampUint32(sd.DroppedLinks())
	parent := sd.Parent()
	if psid := parent.SpanID(); psid.IsValid() {
		copy(ids[24:], psid[:])
		s.ParentSpanId = ids[24:32:32]
	}
	s.Flags = spanFlags(sc.TraceFlags(), parent)
	return s
}

func clampUint32(v int) uint32 {
	if v < 0 {
		return 0
	}
	if int64(v) > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(v)
}

// spanFlags are the W3C flags with OTLP's "is the parent remote" bits.
func spanFlags(tf trace.TraceFlags, parent trace.SpanContext) uint32 {
	flags := uint32(tf) | uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK)
	if parent.IsRemote() {
		flags |= uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK)
	}
	return flags
}

func protoKind(k trace.SpanKind) tracepb.Span_SpanKind {
	switch k {
	case trace.SpanKindInternal:
		return tracepb.Span_SPAN_KIND_INTERNAL
	case trace.SpanKindClient:
		return tracepb.Span_SPAN_KIND_CLIENT
	case trace.SpanKindServer:
		return tracepb.Span_SPAN_KIND_SERVER
	case trace.SpanKindProducer:
		return tracepb.Span_SPAN_KIND_PRODUCER
	case trace.SpanKindConsumer:
		return tracepb.Span_SPAN_KIND_CONSUMER
	}
	return tracepb.Span_SPAN_KIND_UNSPECIFIED
}

func protoScope(il instrumentation.Scope) *commonpb.InstrumentationScope {
	if il == (instrumentation.Scope{}) {
		return nil
	}
	return &commonpb.InstrumentationScope{Name: il.Name, Version: il.Version, Attributes: iterKeyValues(il.Attributes.Iter())}
}

func protoLinks(links []sdktrace.Link) []*tracepb.Span_Link {
	if len(links) == 0 {
		return nil
	}
	out := make([]*tracepb.Span_Link, 0, len(links))
	for _, l := range links {
		tid, sid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
		out = append(out, &tracepb.Span_Link{
			TraceId:                tid[:],
			SpanId:                 sid[:],
			Attributes:             keyValues(l.Attributes),
			DroppedAttributesCount: clampUint32(l.DroppedAttributeCount),
			Flags:                  spanFlags(l.SpanContext.TraceFlags(), l.SpanContext),
		})
	}
	return out
}

func protoEvents(es []sdktrace.Event) []*tracepb.Span_Event {
	if len(es) == 0 {
		return nil
	}
	out := make([]*tracepb.Span_Event, len(es))
	for i := range es {
		out[i] = &tracepb.Span_Event{
			Name:                   es[i].Name,
			TimeUnixNano:           uint64(max(0, es[i].Time.UnixNano())), //nolint:gosec // clamped
			Attributes:             keyValues(es[i].Attributes),
			DroppedAttributesCount: clampUint32(es[i].DroppedAttributeCount),
		}
	}
	return out
}

// keyValues converts attributes one by one (links, events, nested values).
func keyValues(attrs []attribute.KeyValue) []*commonpb.KeyValue {
	if len(attrs) == 0 {
		return nil
	}
	out := make([]*commonpb.KeyValue, 0, len(attrs))
	for _, kv := range attrs {
		out = append(out, &commonpb.KeyValue{Key: string(kv.Key), Value: anyValue(kv.Value)})
	}
	return out
}

func iterKeyValues(it attribute.Iterator) []*commonpb.KeyValue {
	if it.Len() == 0 {
		return nil
	}
	out := make([]*commonpb.KeyValue, 0, it.Len())
	for it.Next() {
		kv := it.Attribute()
		out = append(out, &commonpb.KeyValue{Key: string(kv.Key), Value: anyValue(kv.Value)})
	}
	return out
}

// anyValue is tracetransform.Value.
func anyValue(v attribute.Value) *commonpb.AnyValue {
	av := new(commonpb.AnyValue)
	switch v.Type() {
	case attribute.BOOL:
		av.Value = &commonpb.AnyValue_BoolValue{BoolValue: v.AsBool()}
	case attribute.INT64:
		av.Value = &commonpb.AnyValue_IntValue{IntValue: v.AsInt64()}
	case attribute.FLOAT64:
		av.Value = &commonpb.AnyValue_DoubleValue{DoubleValue: v.AsFloat64()}
	case attribute.STRING:
		av.Value = &commonpb.AnyValue_StringValue{StringValue: v.AsString()}
	case attribute.BYTESLICE:
		av.Value = &commonpb.AnyValue_BytesValue{BytesValue: v.AsByteSlice()}
	case attribute.BOOLSLICE:
		vals := v.AsBoolSlice()
		arr := make([]*commonpb.AnyValue, len(vals))
		for i, b := range vals {
			arr[i] = &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: b}}
		}
		av.Value = &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: arr}}
	case attribute.INT64SLICE:
		vals := v.AsInt64Slice()
		arr := make([]*commonpb.AnyValue, len(vals))
		for i, n := range vals {
			arr[i] = &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: n}}
		}
		av.Value = &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: arr}}
	case attribute.FLOAT64SLICE:
		vals := v.AsFloat64Slice()
		arr := make([]*commonpb.AnyValue, len(vals))
		for i, f := range vals {
			arr[i] = &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: f}}
		}
		av.Value = &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: arr}}
	case attribute.STRINGSLICE:
		vals := v.AsStringSlice()
		arr := make([]*commonpb.AnyValue, len(vals))
		for i, s := range vals {
			arr[i] = &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
		}
		av.Value = &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: arr}}
	case attribute.SLICE:
		vals := v.AsSlice()
		arr := make([]*commonpb.AnyValue, len(vals))
		for i, e := range vals {
			arr[i] = anyValue(e)
		}
		av.Value = &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: arr}}
	case attribute.MAP:
		av.Value = &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: keyValues(v.AsMap())}}
	case attribute.EMPTY:
	default:
		av.Value = &commonpb.AnyValue_StringValue{StringValue: "INVALID"}
	}
	return av
}
