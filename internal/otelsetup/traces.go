package otelsetup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// Defaults the SDK does not share (it has no value length limit by default).
// The queue holds the spans of a collector outage (retry.go): 32768 are
// 30 s at about 1,000 spans/s, three times what the fault test's load
// makes (160 requests/s, a SERVER and a CLIENT span each); some 50 MB when
// full (a queued span takes about 1.6 KB, measured). The SDK's 2048
// lasted six seconds of that load. The batch processor's channel is
// allocated whole (16 bytes a slot), the spans only during an outage.
const (
	defaultValueLengthLimit = 1024
	defaultQueueSize        = 32768
)

func (p *Providers) setupTraces(ctx context.Context, opts *Options, exporter string, res *resource.Resource) error {
	if exporter == ExporterNone {
		p.tp = tracenoop.NewTracerProvider()
		return nil
	}
	exp, err := newSpanExporter(ctx, &opts.Traces, exporter)
	if err != nil {
		return err
	}
	queue := opts.Traces.QueueSize
	if queue <= 0 {
		queue = envInt("OTEL_BSP_MAX_QUEUE_SIZE", defaultQueueSize)
	}
	dropped, err := droppedCounter(p.mp)
	if err != nil {
		return err
	}
	cp := &countingProcessor{limit: int64(queue), dropped: dropped, spans: attribute.NewSet(
		keySignal.String(signalSpans), keyErrorType.String(dropQueueFull))}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	re := newRetryExporter(exp, cp, attribute.NewSet(
		keySignal.String(signalSpans), keyErrorType.String(dropExportError)), log, defaultRetryTiming)
	cp.retry = re
	// The batch processor's own queue is one span larger than our bound, so
	// that it never drops silently: we drop first, and count. The bound
	// covers the retry queue too (retry.go).
	bspOpts := []sdktrace.BatchSpanProcessorOption{sdktrace.WithMaxQueueSize(queue + 1)}
	if opts.Traces.BatchTimeout > 0 {
		bspOpts = append(bspOpts, sdktrace.WithBatchTimeout(opts.Traces.BatchTimeout))
	}
	cp.SpanProcessor = sdktrace.NewBatchSpanProcessor(re, bspOpts...)

	limits := sdktrace.NewSpanLimits() // reads the OTEL_*_LIMIT variables
	switch {
	case opts.AttributeValueLengthLimit > 0:
		limits.AttributeValueLengthLimit = opts.AttributeValueLengthLimit
	case os.Getenv("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT") == "" && os.Getenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT") == "":
		limits.AttributeValueLengthLimit = defaultValueLengthLimit
	}
	tpOpts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSpanProcessor(cp),
		sdktrace.WithRawSpanLimits(limits),
	}
	if s, err := sampler(&opts.Traces); err != nil {
		_ = exp.Shutdown(ctx)
		return err
	} else if s != nil {
		tpOpts = append(tpOpts, sdktrace.WithSampler(s))
	}
	p.sdkTP = sdktrace.NewTracerProvider(tpOpts...)
	p.tp = p.sdkTP
	return nil
}

func newSpanExporter(ctx context.Context, o *TracesOptions, exporter string) (sdktrace.SpanExporter, error) {
	if exporter == ExporterConsole {
		w := o.Writer
		if w == nil {
			w = os.Stdout
		}
		return stdouttrace.New(stdouttrace.WithWriter(w))
	}
	proto, err := protocol(o.Protocol, "TRACES")
	if err != nil {
		return nil, err
	}
	if proto == ProtocolGRPC {
		var opts []otlptracegrpc.Option
		if o.Endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpointURL(o.Endpoint))
		}
		if o.Insecure {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		if o.Headers != nil {
			opts = append(opts, otlptracegrpc.WithHeaders(o.Headers))
		}
		return otlptracegrpc.New(ctx, opts...)
	}
	var opts []otlptracehttp.Option
	if o.Endpoint != "" {
		u, err := signalURL(o.Endpoint, "/v1/traces")
		if err != nil {
			return nil, err
		}
		opts = append(opts, otlptracehttp.WithEndpointURL(u))
	}
	if o.Insecure {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	if o.Headers != nil {
		opts = append(opts, otlptracehttp.WithHeaders(o.Headers))
	}
	return otlptracehttp.New(ctx, opts...)
}

// sampler returns the configured sampler, or nil to leave the choice to
// OTEL_TRACES_SAMPLER and the SDK's default (parentbased_always_on).
func sampler(o *TracesOptions) (sdktrace.Sampler, error) {
	if o.Sampler != "" && (o.SamplerRatio < 0 || o.SamplerRatio > 1) {
		return nil, fmt.Errorf("telemetry: sampler ratio %v is outside [0, 1]", o.SamplerRatio)
	}
	switch o.Sampler {
	case "":
		return nil, nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(o.SamplerRatio), nil
	case "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.SamplerRatio)), nil
	}
	_, err := oneOf("sampler", o.Sampler, Samplers...)
	return nil, err
}

// countingProcessor bounds the spans waiting for export and counts what it
// drops. The SDK's batch processor drops silently when its queue is full,
// and its own drop metrics are an experiment behind OTEL_GO_X_OBSERVABILITY;
// counting here needs neither: a span is in flight from OnEnd until the
// retry exporter has delivered or dropped it.
type countingProcessor struct {
	sdktrace.SpanProcessor
	limit    int64
	inflight atomic.Int64
	dropped  metric.Int64Counter
	spans    attribute.Set  // {signal=spans, error.type=queue_full}
	retry    *retryExporter // nil in tests of the processor alone
}

func (p *countingProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return // the batch processor would ignore it too
	}
	if p.inflight.Add(1) > p.limit {
		p.inflight.Add(-1)
		p.dropped.Add(context.Background(), 1, metric.WithAttributeSet(p.spans))
		if p.retry != nil {
			p.retry.overflowed()
		}
		return
	}
	p.SpanProcessor.OnEnd(s)
}

// ForceFlush hands the batch processor's spans to the retry exporter and
// waits until it has delivered (or dropped) them.
func (p *countingProcessor) ForceFlush(ctx context.Context) error {
	err := p.SpanProcessor.ForceFlush(ctx)
	if p.retry != nil {
		err = errors.Join(err, p.retry.flush(ctx))
	}
	return err
}
