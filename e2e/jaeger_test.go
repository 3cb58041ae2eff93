package e2e

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpgate/mcpgate/internal/testidp"
)

// TestJaegerHarness proves the harness: two spans exported from this process
// over OTLP/HTTP (a SERVER parent and a CLIENT child with a link and an
// error status) come back from Jaeger's query API with their relation,
// attributes, link and status.
func TestJaegerHarness(t *testing.T) {
	t.Parallel()
	j := startJaeger(t)
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()

	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(j.OTLPHTTPEndpoint()+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	service := "e2e-harness-" + testidp.RandomString(6)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service))),
	)
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tracer := tp.Tracer("e2e/harness")

	linked := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0xaa, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
		SpanID:     trace.SpanID{0xbb, 1, 2, 3, 4, 5, 6, 7},
		TraceFlags: trace.FlagsSampled,
		Remote:     true,
	})
	pctx, parent := tracer.Start(ctx, "tools/call echo", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("mcp.method.name", "tools/call"), attribute.Int("rpc.response.status_code", 200), attribute.Bool("e2e.flag", true)))
	_, child := tracer.Start(pctx, "backend call", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithLinks(trace.Link{SpanContext: linked, Attributes: []attribute.KeyValue{attribute.String("link.why", "ambient http span")}}),
		trace.WithAttributes(attribute.StringSlice("e2e.list", []string{"a", "b"})))
	child.SetStatus(codes.Error, "tool failed")
	time.Sleep(time.Millisecond)
	child.End()
	parent.End()
	if err := tp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}

	traces := j.Traces(service, 2)
	if len(traces) != 1 {
		t.Fatalf("got %d traces, want 1: %+v", len(traces), traces)
	}
	tr := traces[0]
	if want := parent.SpanContext().TraceID().String(); tr.TraceID != want {
		t.Errorf("trace id %s, want %s", tr.TraceID, want)
	}
	p := tr.Span(t, "tools/call echo")
	c := tr.Span(t, "backend call")
	if p.SpanID != parent.SpanContext().SpanID().String() || p.ParentSpanID != "" || p.Kind != "server" || p.Service != service || p.Scope != "e2e/harness" {
		t.Errorf("parent span: %+v", p)
	}
	if p.Attributes["mcp.method.name"] != "tools/call" || p.Attributes["rpc.response.status_code"] != "200" || p.Attributes["e2e.flag"] != "true" {
		t.Errorf("parent attributes: %v", p.Attributes)
	}
	if p.StatusCode != "unset" {
		t.Errorf("parent status %q, want unset", p.StatusCode)
	}
	if c.SpanID != child.SpanContext().SpanID().String() || c.ParentSpanID != p.SpanID || c.Kind != "client" {
		t.Errorf("child span: id %s parent %s kind %s; want id %s parent %s kind client",
			c.SpanID, c.ParentSpanID, c.Kind, child.SpanContext().SpanID(), p.SpanID)
	}
	if c.Attributes["e2e.list"] != `["a","b"]` {
		t.Errorf("child attribute e2e.list = %q", c.Attributes["e2e.list"])
	}
	if c.StatusCode != "error" || c.StatusMsg != "tool failed" {
		t.Errorf("child status %q %q, want error \"tool failed\"", c.StatusCode, c.StatusMsg)
	}
	if len(c.Links) != 1 || c.Links[0].TraceID != linked.TraceID().String() || c.Links[0].SpanID != linked.SpanID().String() ||
		c.Links[0].Attributes["link.why"] != "ambient http span" {
		t.Errorf("child links: %+v, want one to %s/%s with link.why", c.Links, linked.TraceID(), linked.SpanID())
	}
	if len(p.Links) != 0 {
		t.Errorf("parent links: %+v, want none", p.Links)
	}
}
