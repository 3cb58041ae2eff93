package otelsetup

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/mcpgate/mcpgate/internal/telemetry"
)

// cardinalityLimit caps the series of one instrument: a last fence should a
// bounded set ever prove larger than meant (the SDK folds the excess into
// one overflow series).
const cardinalityLimit = 2000

func (p *Providers) setupMetrics(ctx context.Context, opts *Options, exporter string, res *resource.Resource) error {
	var reader sdkmetric.Reader
	switch exporter {
	case ExporterNone:
		p.mp = metricnoop.NewMeterProvider()
		return nil
	case ExporterPrometheus:
		reg := prometheus.NewRegistry()
		exp, err := otelprom.New(otelprom.WithRegisterer(reg),
			// Classic Prometheus names (mcp_server_operation_duration_seconds),
			// whatever the prometheus/common default of the day is.
			otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes))
		if err != nil {
			return err
		}
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		// OpenMetrics when the scraper asks for it: the format that can
		// carry exemplars, so that their absence can be checked.
		p.prom = promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
		reader = exp
	default:
		exp, err := newMetricExporter(ctx, &opts.Metrics, exporter)
		if err != nil {
			return err
		}
		ce := &countingMetricExporter{Exporter: exp}
		var ropts []sdkmetric.PeriodicReaderOption
		if opts.Metrics.Interval > 0 {
			ropts = append(ropts, sdkmetric.WithInterval(opts.Metrics.Interval))
		}
		reader = sdkmetric.NewPeriodicReader(ce, ropts...)
		defer func() {
			if c, err := droppedCounter(p.mp); err == nil {
				ce.dropped.Store(&c)
			}
		}()
	}
	p.sdkMP = sdkmetric.NewMeterProvider(
		sdkmetric.WithResource(res),
		sdkmetric.WithReader(reader),
		sdkmetric.WithView(views()...),
		// Exemplars would carry the attributes a view filtered out (the
		// trace-based default keeps them as FilteredAttributes); nothing
		// but the allowed attributes may reach a metric, so there are none.
		sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter),
		sdkmetric.WithCardinalityLimit(cardinalityLimit),
	)
	p.mp = p.sdkMP
	return nil
}

// views fence every instrument — the instrumentation's and
// mcpgate.telemetry.dropped — to its allowed attribute keys, and give the
// duration histograms the MCP conventions' buckets. Instruments the
// instrumentation fences itself, when it builds their attribute sets
// (telemetry.FencedAtSource: the operation-duration histograms, two
// recordings per request), get no filter: it would hash every attribute of
// every measurement again for nothing.
func views() []sdkmetric.View {
	vs := []sdkmetric.View{sdkmetric.NewView(sdkmetric.Instrument{Name: MetricTelemetryDropped},
		sdkmetric.Stream{AttributeFilter: attribute.NewAllowKeysFilter(keySignal, keyErrorType)})}
	for name, keys := range telemetry.AllowedKeys() {
		var s sdkmetric.Stream
		if !telemetry.FencedAtSource(name) {
			s.AttributeFilter = attribute.NewAllowKeysFilter(keys...)
		}
		if strings.HasSuffix(name, ".duration") {
			s.Aggregation = sdkmetric.AggregationExplicitBucketHistogram{Boundaries: telemetry.DurationBuckets}
		}
		vs = append(vs, sdkmetric.NewView(sdkmetric.Instrument{Name: name}, s))
	}
	return vs
}

func newMetricExporter(ctx context.Context, o *MetricsOptions, exporter string) (sdkmetric.Exporter, error) {
	if exporter == ExporterConsole {
		w := o.Writer
		if w == nil {
			w = os.Stdout
		}
		return stdoutmetric.New(stdoutmetric.WithWriter(w))
	}
	proto, err := protocol(o.Protocol, "METRICS")
	if err != nil {
		return nil, err
	}
	if proto == ProtocolGRPC {
		var opts []otlpmetricgrpc.Option
		if o.Endpoint != "" {
			opts = append(opts, otlpmetricgrpc.WithEndpointURL(o.Endpoint))
		}
		if o.Insecure {
			opts = append(opts, otlpmetricgrpc.WithInsecure())
		}
		if o.Headers != nil {
			opts = append(opts, otlpmetricgrpc.WithHeaders(o.Headers))
		}
		return otlpmetricgrpc.New(ctx, opts...)
	}
	var opts []otlpmetrichttp.Option
	if o.Endpoint != "" {
		u, err := signalURL(o.Endpoint, "/v1/metrics")
		if err != nil {
			return nil, err
		}
		opts = append(opts, otlpmetrichttp.WithEndpointURL(u))
	}
	if o.Insecure {
		opts = append(opts, otlpmetrichttp.WithInsecure())
	}
	if o.Headers != nil {
		opts = append(opts, otlpmetrichttp.WithHeaders(o.Headers))
	}
	return otlpmetrichttp.New(ctx, opts...)
}

// droppedCounter is mcpgate.telemetry.dropped, in the instrumentation's
// scope like every other mcpgate metric.
func droppedCounter(mp metric.MeterProvider) (metric.Int64Counter, error) {
	return mp.Meter(telemetry.ScopeName).Int64Counter(MetricTelemetryDropped, metric.WithUnit("{item}"),
		metric.WithDescription("Spans and metric data points that were dropped (queue full) or whose export failed."))
}

// countingMetricExporter counts the data points of failed exports. It is
// set up before the meter provider that holds its counter exists, hence the
// late (atomic) dropped.
type countingMetricExporter struct {
	sdkmetric.Exporter
	dropped atomic.Pointer[metric.Int64Counter]
}

func (e *countingMetricExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	err := e.Exporter.Export(ctx, rm)
	if c := e.dropped.Load(); err != nil && c != nil {
		(*c).Add(ctx, int64(dataPoints(rm)), metric.WithAttributeSet(attribute.NewSet(
			keySignal.String(signalMetrics), keyErrorType.String(dropExportError))))
	}
	return err
}

func dataPoints(rm *metricdata.ResourceMetrics) int {
	n := 0
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				n += len(d.DataPoints)
			case metricdata.Sum[float64]:
				n += len(d.DataPoints)
			case metricdata.Gauge[int64]:
				n += len(d.DataPoints)
			case metricdata.Gauge[float64]:
				n += len(d.DataPoints)
			case metricdata.Histogram[int64]:
				n += len(d.DataPoints)
			case metricdata.Histogram[float64]:
				n += len(d.DataPoints)
			case metricdata.ExponentialHistogram[int64]:
				n += len(d.DataPoints)
			case metricdata.ExponentialHistogram[float64]:
				n += len(d.DataPoints)
			default:
				n++
			}
		}
	}
	return n
}

// envInt reads a positive integer variable, or returns def.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(strings.TrimSpace(os.Getenv(name))); err == nil && n > 0 {
		return n
	}
	return def
}
