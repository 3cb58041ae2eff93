package otelsetup

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"

	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/mcpgate/mcpgate/internal/telemetry"
)

// Providers are the SDK pipelines Setup built. Shutdown flushes them.
type Providers struct {
	tp    trace.TracerProvider
	mp    metric.MeterProvider
	sdkTP *sdktrace.TracerProvider // nil when traces are off
	sdkMP *sdkmetric.MeterProvider // nil when metrics are off
	prom  http.Handler
	tel   *telemetry.Telemetry

	// TracesExporter and MetricsExporter are the exporters in use after
	// the configuration and OTEL_* variables were applied, for the
	// start-up log.
	TracesExporter, MetricsExporter string
}

// Setup builds the trace and metric pipelines opts describe and the
// instrumentation on top of them. Nothing it starts can block or fail a
// request: spans queue in a bounded batch processor (overflow is dropped and
// counted in mcpgate.telemetry.dropped), exports run in the background, and
// export errors go to the logger at a limited rate. Setup installs that
// logger as OpenTelemetry's global error handler.
func Setup(ctx context.Context, opts Options) (*Providers, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	setErrorHandler(log)
	tExp, err := tracesExporter(&opts.Traces)
	if err != nil {
		return nil, err
	}
	mExp, err := metricsExporter(&opts.Metrics)
	if err != nil {
		return nil, err
	}
	p := &Providers{TracesExporter: tExp, MetricsExporter: mExp}
	if tExp == ExporterNone && mExp == ExporterNone {
		// Everything off: a nil Telemetry costs the request path nothing.
		p.tp, p.mp = tracenoop.NewTracerProvider(), metricnoop.NewMeterProvider()
		return p, nil
	}
	res, err := newResource(ctx, &opts)
	if err != nil {
		return nil, err
	}
	if err := p.setupMetrics(ctx, &opts, mExp, res); err != nil {
		return nil, err
	}
	if err := p.setupTraces(ctx, &opts, tExp, res); err != nil {
		_ = p.Shutdown(ctx)
		return nil, err
	}
	p.tel, err = telemetry.New(p.tp, p.mp, telemetry.InstrumentOptions{
		RecordToolArguments: opts.RecordToolArguments,
		RecordClientAddress: opts.RecordClientAddress,
		Attribution:         opts.Attribution,
		RateLimitRules:      opts.RateLimitRules,
		Logger:              log,
	})
	if err != nil {
		_ = p.Shutdown(ctx)
		return nil, err
	}
	return p, nil
}

// Telemetry returns the request-path instrumentation; nil (which does
// nothing) when both traces and metrics are off.
func (p *Providers) Telemetry() *telemetry.Telemetry { return p.tel }

// PrometheusHandler serves the metrics in the Prometheus text format; nil
// unless the metrics exporter is prometheus.
func (p *Providers) PrometheusHandler() http.Handler { return p.prom }

// Shutdown flushes what is queued and stops the exporters, within ctx.
// Traces and metrics flush at once: a collector that is down keeps the
// span flush retrying until ctx ends, which must not leave the metrics'
// final export no time.
func (p *Providers) Shutdown(ctx context.Context) error {
	var tErr, mErr error
	var wg sync.WaitGroup
	if p.sdkTP != nil {
		wg.Go(func() { tErr = p.sdkTP.Shutdown(ctx) })
	}
	if p.sdkMP != nil {
		wg.Go(func() { mErr = p.sdkMP.Shutdown(ctx) })
	}
	wg.Wait()
	return errors.Join(tErr, mErr)
}
