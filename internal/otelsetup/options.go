package otelsetup

import (
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/mcpgate/mcpgate/internal/telemetry"
)

// Options configure Setup; they mirror the configuration's telemetry
// section. Zero fields take the defaults noted. Where a standard OTEL_*
// environment variable exists, the precedence is: a value set here (the
// config file) > the environment variable > the default.
type Options struct {
	// ServiceName is service.name; "" means OTEL_SERVICE_NAME (or a
	// service.name in OTEL_RESOURCE_ATTRIBUTES), else "mcpgate".
	ServiceName string
	// ServiceVersion is service.version (the build's version).
	ServiceVersion string

	Traces  TracesOptions
	Metrics MetricsOptions

	// RecordToolArguments: see telemetry.InstrumentOptions.
	RecordToolArguments bool
	// RecordClientAddress: see telemetry.InstrumentOptions (the configuration's
	// default is true).
	RecordClientAddress bool
	// ResourceFromEnv maps environment variable names to resource attribute
	// keys, e.g. {"POD_NAMESPACE": "k8s.namespace.name"}: only the variables
	// named here are read (opt-in), and unset or empty ones are skipped.
	ResourceFromEnv map[string]string
	// AttributeValueLengthLimit caps span attribute values, in bytes; 0
	// means OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT or
	// OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT, else 1024.
	AttributeValueLengthLimit int

	// Attribution: see telemetry.InstrumentOptions.
	Attribution telemetry.Attribution
	// RateLimitRules: see telemetry.InstrumentOptions.
	RateLimitRules []string
	// Logger receives exporter errors (rate-limited) and telemetry's own
	// problems; nil means slog.Default().
	Logger *slog.Logger
}

// TracesOptions configure span export.
type TracesOptions struct {
	// Exporter is otlp, console or none; "" means OTEL_TRACES_EXPORTER, else
	// otlp when OTEL_EXPORTER_OTLP_ENDPOINT or
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, else none — so no trace
	// leaves the process unless someone asked.
	Exporter string
	// Endpoint is the OTLP base URL (http://collector:4318; /v1/traces is
	// appended for http/protobuf unless the URL has a path); "" means the
	// OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT variables, else the exporter's
	// default (localhost:4318 or :4317).
	Endpoint string
	// Protocol is grpc or http/protobuf; "" means
	// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL,
	// else http/protobuf.
	Protocol string
	// Headers are sent with every export (e.g. an API key of a vendor);
	// nil means OTEL_EXPORTER_OTLP_(TRACES_)HEADERS.
	Headers map[string]string
	// Insecure sends OTLP over plain HTTP/gRPC even for a URL without a
	// scheme; false leaves it to the URL's scheme and OTEL_EXPORTER_OTLP_INSECURE.
	Insecure bool
	// Sampler is parentbased_always_on, parentbased_always_off,
	// parentbased_traceidratio, always_on, always_off or traceidratio; ""
	// means OTEL_TRACES_SAMPLER(_ARG), else parentbased_always_on.
	Sampler string
	// SamplerRatio is the ratio of the traceidratio samplers, in [0, 1]
	// (the configuration's default is 1).
	SamplerRatio float64
	// QueueSize bounds the spans waiting for export; past it they are
	// dropped and counted. 0 means OTEL_BSP_MAX_QUEUE_SIZE, else 32768.
	QueueSize int
	// BatchTimeout is the longest a span waits before it is exported; 0
	// means OTEL_BSP_SCHEDULE_DELAY, else 5s.
	BatchTimeout time.Duration
	// Writer receives the console exporter's output; nil means os.Stdout.
	Writer io.Writer
}

// MetricsOptions configure metric export.
type MetricsOptions struct {
	// Exporter is prometheus (served by PrometheusHandler, on the admin
	// listener), otlp, console or none; "" means OTEL_METRICS_EXPORTER, else
	// prometheus.
	Exporter string
	// Endpoint, Protocol, Headers and Insecure are as for traces, with the
	// METRICS variables; /v1/metrics is the appended path.
	Endpoint string
	Protocol string
	Headers  map[string]string
	Insecure bool
	// Interval is the push interval of otlp and console; 0 means
	// OTEL_METRIC_EXPORT_INTERVAL, else 60s.
	Interval time.Duration
	// Writer receives the console exporter's output; nil means os.Stdout.
	Writer io.Writer
}

// Exporter and protocol names.
const (
	ExporterOTLP       = "otlp"
	ExporterConsole    = "console"
	ExporterPrometheus = "prometheus"
	ExporterNone       = "none"

	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http/protobuf"
)

// Samplers lists the accepted Sampler values.
var Samplers = []string{
	"parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio",
	"always_on", "always_off", "traceidratio",
}

// tracesExporter resolves TracesOptions.Exporter.
func tracesExporter(o *TracesOptions) (string, error) {
	if o.Exporter != "" {
		return oneOf("traces exporter", o.Exporter, ExporterOTLP, ExporterConsole, ExporterNone)
	}
	if v := os.Getenv("OTEL_TRACES_EXPORTER"); v != "" {
		return oneOf("OTEL_TRACES_EXPORTER", strings.TrimSpace(strings.ToLower(v)), ExporterOTLP, ExporterConsole, ExporterNone)
	}
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" {
		return ExporterOTLP, nil
	}
	return ExporterNone, nil
}

// metricsExporter resolves MetricsOptions.Exporter.
func metricsExporter(o *MetricsOptions) (string, error) {
	if o.Exporter != "" {
		return oneOf("metrics exporter", o.Exporter, ExporterPrometheus, ExporterOTLP, ExporterConsole, ExporterNone)
	}
	if v := os.Getenv("OTEL_METRICS_EXPORTER"); v != "" {
		return oneOf("OTEL_METRICS_EXPORTER", strings.TrimSpace(strings.ToLower(v)), ExporterPrometheus, ExporterOTLP, ExporterConsole, ExporterNone)
	}
	return ExporterPrometheus, nil
}

// protocol resolves an OTLP protocol for signal ("TRACES" or "METRICS").
func protocol(configured, signal string) (string, error) {
	v := configured
	what := "protocol"
	if v == "" {
		for _, name := range []string{"OTEL_EXPORTER_OTLP_" + signal + "_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
			if v = strings.TrimSpace(os.Getenv(name)); v != "" {
				what = name
				break
			}
		}
	}
	if v == "" {
		return ProtocolHTTP, nil
	}
	return oneOf(what, v, ProtocolHTTP, ProtocolGRPC)
}

func oneOf(what, v string, allowed ...string) (string, error) {
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	return "", fmt.Errorf("telemetry: %s %q is not supported (use %s)", what, v, strings.Join(allowed, ", "))
}

// signalURL turns a configured OTLP/HTTP endpoint into the signal's URL: a
// base URL (no path, or "/") gets path appended, as
// OTEL_EXPORTER_OTLP_ENDPOINT does; a URL with a path is used as it is.
func signalURL(endpoint, path string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("telemetry: endpoint %q is not an absolute http(s) URL", endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = path
	}
	return u.String(), nil
}
