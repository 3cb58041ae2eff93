package telemetry

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The parent rules of docs/telemetry.md ("Parents, links and sampling"). Only W3C trace context is read (no
// baggage, whose values could otherwise leak into attributes), and only to
// choose a parent or a link: nothing in it becomes an attribute.

// pair is a TextMapCarrier over one traceparent/tracestate pair, so that a
// value from params._meta and one from the HTTP headers parse the same way
// without building a map.
type pair struct{ traceparent, tracestate string }

func (p pair) Get(key string) string {
	switch key {
	case "traceparent":
		return p.traceparent
	case "tracestate":
		return p.tracestate
	}
	return ""
}
func (pair) Set(string, string) {}
func (pair) Keys() []string     { return []string{"traceparent", "tracestate"} }

// remote parses a W3C traceparent (and its tracestate); the zero SpanContext
// when it is absent or invalid.
func remote(traceparent, tracestate string) trace.SpanContext {
	if traceparent == "" {
		return trace.SpanContext{}
	}
	return trace.SpanContextFromContext(propagation.TraceContext{}.Extract(bgCtx, pair{traceparent, tracestate}))
}

func sameSpan(a, b trace.SpanContext) bool {
	return a.TraceID() == b.TraceID() && a.SpanID() == b.SpanID()
}

// admittedParent applies the rule for a request that passed authn: the
// message's _meta context is the parent when present, else the HTTP one;
// the other, when present and different, is linked.
func admittedParent(httpSC, metaSC trace.SpanContext) (trace.SpanContext, []trace.Link) {
	switch {
	case metaSC.IsValid():
		if httpSC.IsValid() && !sameSpan(httpSC, metaSC) {
			return metaSC, []trace.Link{link(httpSC, linkFromHTTP)}
		}
		return metaSC, nil
	case httpSC.IsValid():
		return httpSC, nil
	}
	return trace.SpanContext{}, nil
}

// rejectedLinks applies the rule for a request rejected before or by authn:
// a new root, linked to whatever the caller sent, so that someone who could
// not authenticate cannot place spans in (or sample) another trace, yet the
// attempt is still findable from the caller's side.
func rejectedLinks(httpSC, metaSC trace.SpanContext) []trace.Link {
	var links []trace.Link
	if metaSC.IsValid() {
		links = append(links, link(metaSC, linkFromMeta))
	}
	if httpSC.IsValid() && !(metaSC.IsValid() && sameSpan(httpSC, metaSC)) {
		links = append(links, link(httpSC, linkFromHTTP))
	}
	return links
}

func link(sc trace.SpanContext, from string) trace.Link {
	return trace.Link{SpanContext: sc, Attributes: []attribute.KeyValue{keyLinkSource.String(from)}}
}
