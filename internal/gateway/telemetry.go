package gateway

import (
	"log/slog"

	"github.com/mcpgate/mcpgate/internal/config"
	"github.com/mcpgate/mcpgate/internal/otelsetup"
)

// telemetryOptions maps the configuration's telemetry section onto
// otelsetup.Setup's options (the same fields; empty ones leave the choice to
// the OTEL_* variables).
func telemetryOptions(cfg *config.Config, log *slog.Logger) otelsetup.Options {
	t := &cfg.Telemetry
	return otelsetup.Options{
		ServiceName:    t.ServiceName,
		ServiceVersion: Version,
		Traces: otelsetup.TracesOptions{
			Exporter:     t.Traces.Exporter,
			Endpoint:     t.Traces.Endpoint,
			Protocol:     t.Traces.Protocol,
			Headers:      t.Traces.Headers,
			Insecure:     t.Traces.Insecure,
			Sampler:      t.Traces.Sampler,
			SamplerRatio: t.Traces.Ratio,
			QueueSize:    t.Traces.QueueSize,
			BatchTimeout: t.Traces.BatchTimeout,
		},
		Metrics: otelsetup.MetricsOptions{
			Exporter: t.Metrics.Exporter,
			Endpoint: t.Metrics.Endpoint,
			Protocol: t.Metrics.Protocol,
			Headers:  t.Metrics.Headers,
			Insecure: t.Metrics.Insecure,
			Interval: t.Metrics.Interval,
		},
		RecordToolArguments:       t.RecordToolArguments,
		RecordClientAddress:       t.RecordClientAddress,
		ResourceFromEnv:           t.ResourceFromEnv,
		AttributeValueLengthLimit: t.AttributeValueLengthLimit,
		Logger:                    log,
	}
}
