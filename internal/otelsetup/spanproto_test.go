package otelsetup

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
)

// captureClient is an otlptrace.Client that keeps what it is given.
type captureClient struct {
	got            [][]*tracepb.ResourceSpans
	started, stops int
	err            error
}

func (c *captureClient) Start(context.Context) error { c.started++; return nil }
func (c *captureClient) Stop(context.Context) error  { c.stops++; return nil }
func (c *captureClient) UploadTraces(_ context.Context, rss []*tracepb.ResourceSpans) error {
	c.got = append(c.got, rss)
	return c.err
}

// protoTestSpans covers every field the conversion touches: both kinds of
// parent, every attribute type, links and events with attributes, each
// status, dropped counts, two scopes and two resources.
func protoTestSpans() []sdktrace.ReadOnlySpan {
	tid := trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	sc := func(sid byte, remote bool) trace.SpanContext {
		ts, _ := trace.ParseTraceState("gw=1,other=x")
		return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{sid}, TraceFlags: trace.FlagsSampled,
			TraceState: ts, Remote: remote})
	}
	res := resource.NewWithAttributes("https://opentelemetry.io/schemas/1.26.0",
		attribute.String("service.name", "mcpgate"), attribute.Int("n", 3))
	other := resource.NewSchemaless(attribute.String("service.name", "other"))
	scope := instrumentation.Scope{Name: "github.com/mcpgate/mcpgate/internal/telemetry", Version: "v1",
		SchemaURL: "https://example.com/s", Attributes: attribute.NewSet(attribute.Bool("x", true))}
	start := time.Unix(1700000000, 123)
	attrs := []attribute.KeyValue{
		attribute.String("mcp.method.name", "tools/call"), attribute.Int("http.response.status_code", 200),
		attribute.Bool("b", true), attribute.Float64("f", 1.5), attribute.StringSlice("ss", []string{"a", "b"}),
		attribute.Int64Slice("is", []int64{1, 2}), attribute.BoolSlice("bs", []bool{true}),
		attribute.Float64Slice("fs", []float64{0.5}), attribute.Map("m", attribute.String("k", "v")),
		attribute.Slice("sl", attribute.StringValue("x"), attribute.IntValue(2)),
		{Key: "bytes", Value: attribute.ByteSliceValue([]byte("raw"))},
		{Key: "empty"},
		attribute.String("", "no key"),
	}
	stubs := tracetest.SpanStubs{
		{
			Name: "tools/call echo", SpanContext: sc(1, false), Parent: sc(9, true), SpanKind: trace.SpanKindServer,
			StartTime: start, EndTime: start.Add(time.Millisecond), Attributes: attrs,
			Links: []sdktrace.Link{{SpanContext: sc(8, true), Attributes: []attribute.KeyValue{attribute.String("mcpgate.link.source", "http")},
				DroppedAttributeCount: 1}},
			Events:            []sdktrace.Event{{Name: "e", Time: start, Attributes: []attribute.KeyValue{attribute.Int("i", 1)}, DroppedAttributeCount: 2}},
			Status:            sdktrace.Status{Code: codes.Error, Description: "upstream_unavailable"},
			DroppedAttributes: 3, DroppedEvents: 4, DroppedLinks: 5,
			Resource: res, InstrumentationScope: scope,
		},
		{
			Name: "tools/call echo", SpanContext: sc(2, false), Parent: sc(1, false), SpanKind: trace.SpanKindClient,
			StartTime: start, EndTime: start.Add(2 * time.Millisecond),
			Attributes: []attribute.KeyValue{attribute.String("server.address", "127.0.0.1"), attribute.Int("server.port", 8080)},
			Status:     sdktrace.Status{Code: codes.Ok}, Resource: res, InstrumentationScope: scope,
		},
		{Name: "GET", SpanContext: sc(3, false), SpanKind: trace.SpanKindInternal, StartTime: time.Unix(0, 0).Add(-time.Hour),
			Resource: res, InstrumentationScope: instrumentation.Scope{}},
		{Name: "p", SpanContext: sc(4, false), SpanKind: trace.SpanKindProducer, Resource: other,
			InstrumentationScope: instrumentation.Scope{Name: "s2"}},
		{Name: "c", SpanContext: sc(5, false), SpanKind: trace.SpanKindConsumer, Resource: res, InstrumentationScope: scope},
	}
	spans := stubs.Snapshots()
	return append(spans[:2:2], append([]sdktrace.ReadOnlySpan{nil}, spans[2:]...)...)
}

// sortedText is rss in the protobuf text format, one entry per resource,
// sorted: the SDK orders resources as a map iterates.
func sortedText(t *testing.T, rss []*tracepb.ResourceSpans) []string {
	t.Helper()
	var out []string
	for _, rs := range rss {
		b, err := prototext.MarshalOptions{Multiline: true}.Marshal(rs)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	slices.Sort(out)
	return out
}

// TestProtoSpansMatchSDK: the exporter sends the messages the SDK's own
// OTLP exporter would, field for field.
func TestProtoSpansMatchSDK(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spans []sdktrace.ReadOnlySpan
	}{
		{"every field", protoTestSpans()},
		{"one span", protoTestSpans()[1:2]},
		{"only nil", []sdktrace.ReadOnlySpan{nil}},
		{"none", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sdk := &captureClient{}
			if err := otlptrace.NewUnstarted(sdk).ExportSpans(context.Background(), tc.spans); err != nil {
				t.Fatal(err)
			}
			ours := &captureClient{}
			exp, err := newProtoExporter(context.Background(), ours)
			if err != nil {
				t.Fatal(err)
			}
			if err := exp.ExportSpans(context.Background(), tc.spans); err != nil {
				t.Fatal(err)
			}
			if len(ours.got) != len(sdk.got) {
				t.Fatalf("%d uploads, the SDK's exporter %d", len(ours.got), len(sdk.got))
			}
			for i := range sdk.got {
				want, got := sortedText(t, sdk.got[i]), sortedText(t, ours.got[i])
				if !slices.Equal(got, want) {
					t.Errorf("upload %d differs from the SDK's:\n got: %s\nwant: %s", i, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				for j := range want {
					// Wire bytes too (deterministic marshalling).
					wb, _ := proto.MarshalOptions{Deterministic: true}.Marshal(find(t, sdk.got[i], want[j]))
					gb, _ := proto.MarshalOptions{Deterministic: true}.Marshal(find(t, ours.got[i], want[j]))
					if string(wb) != string(gb) {
						t.Errorf("upload %d resource %d: wire bytes differ", i, j)
					}
				}
			}
		})
	}
}

func find(t *testing.T, rss []*tracepb.ResourceSpans, text string) *tracepb.ResourceSpans {
	t.Helper()
	for _, rs := range rss {
		if s := sortedText(t, []*tracepb.ResourceSpans{rs}); s[0] == text {
			return rs
		}
	}
	t.Fatalf("no resource spans %s", text)
	return nil
}

// TestProtoExporterLifecycle: started once by the constructor, stopped
// once however often Shutdown is called, and an upload's error is
// returned as the SDK's exporter returns it.
func TestProtoExporterLifecycle(t *testing.T) {
	c := &captureClient{err: errors.New("refused")}
	exp, err := newProtoExporter(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	err = exp.ExportSpans(context.Background(), protoTestSpans()[:1])
	if err == nil || err.Error() != "traces export: refused" || !errors.Is(err, c.err) {
		t.Errorf("export error %v, want traces export: refused", err)
	}
	for range 2 {
		if err := exp.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if c.started != 1 || c.stops != 1 {
		t.Errorf("started %d, stopped %d times; want 1, 1", c.started, c.stops)
	}
}

// BenchmarkProtoSpans compares the conversion of a batch of 512 spans like
// the gateway's (a SERVER span's attributes) with the SDK's.
func BenchmarkProtoSpans(b *testing.B) {
	one := protoTestSpans()[1]
	stub := tracetest.SpanStubFromReadOnlySpan(one)
	for i := range 12 {
		stub.Attributes = append(stub.Attributes, attribute.String("k"+string(rune('a'+i)), "value"))
	}
	spans := make([]sdktrace.ReadOnlySpan, 512)
	for i := range spans {
		spans[i] = tracetest.SpanStubs{stub}.Snapshots()[0]
	}
	b.Run("sdk", func(b *testing.B) {
		exp := otlptrace.NewUnstarted(&discardClient{})
		b.ReportAllocs()
		for b.Loop() {
			_ = exp.ExportSpans(context.Background(), spans)
		}
	})
	b.Run("ours", func(b *testing.B) {
		exp := &protoExporter{client: &discardClient{}}
		b.ReportAllocs()
		for b.Loop() {
			_ = exp.ExportSpans(context.Background(), spans)
		}
	})
}

// discardClient marshals what it is given, as the real clients do, and
// drops it.
type discardClient struct{}

func (discardClient) Start(context.Context) error { return nil }
func (discardClient) Stop(context.Context) error  { return nil }
func (discardClient) UploadTraces(_ context.Context, rss []*tracepb.ResourceSpans) error {
	for _, rs := range rss {
		if _, err := proto.Marshal(rs); err != nil {
			return err
		}
	}
	return nil
}
