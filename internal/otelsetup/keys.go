package otelsetup

import "go.opentelemetry.io/otel/attribute"

// MetricTelemetryDropped counts what the export pipelines built here lose:
// spans refused because the queue was full, and spans and metric data
// points whose export failed. It is the only metric this package makes;
// the request path's are internal/telemetry's.
const MetricTelemetryDropped = "mcpgate.telemetry.dropped"

// Its attributes: which signal, and why.
const (
	keySignal    = attribute.Key("mcpgate.telemetry.signal")
	keyErrorType = attribute.Key("error.type")

	signalSpans     = "spans"
	signalMetrics   = "metrics"
	dropQueueFull   = "queue_full"
	dropExportError = "export_failed"
)
