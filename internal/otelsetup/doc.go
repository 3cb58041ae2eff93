// Package otelsetup builds the OpenTelemetry SDK pipelines the gateway
// exports through, and the instrumentation (internal/telemetry) on top of
// them. It is the only package outside tests that imports the SDK.
//
// Setup resolves each setting with one precedence — the configuration
// (Options), then the standard OTEL_* variable, then the default — and
// builds:
//
//   - the resource: service.name, service.version, a service.instance.id
//     unique per process, OTEL_RESOURCE_ATTRIBUTES, and the variables the
//     configuration names (resource.go);
//   - traces (traces.go): an OTLP (gRPC or HTTP), console or no exporter,
//     the sampler, the span limits, and a span queue bounded by
//     traces.queueSize that spans wait in through a collector outage: the
//     retrying exporter (retry.go) keeps a batch until it is delivered and
//     the counting processor drops, and counts, what does not fit;
//   - metrics (metrics.go): a Prometheus handler for the admin listener, an
//     OTLP or console push, or none, with the instrumentation's allow-list
//     as views, exemplars off and a cardinality limit.
//
// Nothing it builds can block or fail a request: exports run in the
// background, what is dropped is counted in mcpgate.telemetry.dropped (the
// one metric this package makes), and export errors reach the log at a
// limited rate (errors.go). Providers.Shutdown flushes both signals at once
// within the caller's deadline, and gives up early on a collector that is
// down.
//
// The contrib module go.opentelemetry.io/contrib/exporters/autoexport is
// not used: it builds exporters from the OTEL_* variables alone, so the
// configuration's endpoint, protocol, headers and insecure flag could not
// take precedence over them, and its Prometheus reader serves on a listener
// of its own rather than the gateway's admin listener.
package otelsetup
