package config

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The telemetry section: types, decoding, defaults and validation.
// docs/telemetry.md describes it.

// Telemetry configures traces and metrics. Empty values mean "the standard
// OTEL_* environment variable, else the default" (docs/telemetry.md lists
// both): the file beats the environment, which beats the default.
type Telemetry struct {
	ServiceName string           // serviceName: "" = OTEL_SERVICE_NAME, else mcpgate
	Traces      TelemetryTraces  // traces:
	Metrics     TelemetryMetrics // metrics:
	// RecordToolArguments adds the redacted tools/call arguments to spans.
	RecordToolArguments bool // recordToolArguments: default false
	// RecordClientAddress adds client.address/port to spans.
	RecordClientAddress bool // recordClientAddress: default true
	// ResourceFromEnv maps environment variable names to resource attribute
	// keys; only the variables named are read.
	ResourceFromEnv map[string]string // resourceFromEnv:
	// AttributeValueLengthLimit caps span attribute values (bytes); 0 =
	// OTEL_(SPAN_)ATTRIBUTE_VALUE_LENGTH_LIMIT, else 1024.
	AttributeValueLengthLimit int // attributeValueLengthLimit:
	// UserAttribution says which identity-derived attributes spans carry:
	// off (none), hashed (a keyed pseudonym) or raw (the subject). The
	// command line (--user-attribution) and MCPGATE_USER_ATTRIBUTION
	// override it; see SetUserAttribution.
	UserAttribution string // userAttribution: off | hashed | raw; default off
}

// TelemetryTraces configures span export.
type TelemetryTraces struct {
	Exporter     string            // exporter: otlp | console | none
	Endpoint     string            // endpoint: OTLP base URL
	Protocol     string            // protocol: grpc | http/protobuf
	Headers      map[string]string // headers: sent with every export
	Insecure     bool              // insecure: plain-text OTLP
	Sampler      string            // sampler: parentbased_always_on, …
	Ratio        float64           // ratio: of the traceidratio samplers; default 1
	QueueSize    int               // queueSize: spans waiting for export
	BatchTimeout time.Duration     // batchTimeout: longest wait before export
}

// TelemetryMetrics configures metric export.
type TelemetryMetrics struct {
	Exporter string            // exporter: prometheus | otlp | console | none
	Endpoint string            // endpoint: OTLP base URL
	Protocol string            // protocol: grpc | http/protobuf
	Headers  map[string]string // headers:
	Insecure bool              // insecure:
	Interval time.Duration     // interval: push interval of otlp and console
}

// Accepted values; internal/otelsetup accepts the same.
var (
	traceExporters  = []string{"otlp", "console", "none"}
	metricExporters = []string{"prometheus", "otlp", "console", "none"}
	otlpProtocols   = []string{"grpc", "http/protobuf"}
	traceSamplers   = []string{"parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio",
		"always_on", "always_off", "traceidratio"}
)

func (d *decoder) telemetry(t *Telemetry) func(*yaml.Node, string) {
	return func(n *yaml.Node, p string) {
		d.mapping(n, p, []field{
			{"serviceName", d.str(&t.ServiceName)},
			{"traces", func(n *yaml.Node, p string) {
				d.mapping(n, p, []field{
					{"exporter", d.str(&t.Traces.Exporter)},
					{"endpoint", d.str(&t.Traces.Endpoint)},
					{"protocol", d.str(&t.Traces.Protocol)},
					{"headers", d.strMap(&t.Traces.Headers)},
					{"insecure", d.boolean(&t.Traces.Insecure)},
					{"sampler", d.str(&t.Traces.Sampler)},
					{"ratio", d.ratio(&t.Traces.Ratio)},
					{"queueSize", d.integer(&t.Traces.QueueSize)},
					{"batchTimeout", d.duration(&t.Traces.BatchTimeout)},
				})
			}},
			{"metrics", func(n *yaml.Node, p string) {
				d.mapping(n, p, []field{
					{"exporter", d.str(&t.Metrics.Exporter)},
					{"endpoint", d.str(&t.Metrics.Endpoint)},
					{"protocol", d.str(&t.Metrics.Protocol)},
					{"headers", d.strMap(&t.Metrics.Headers)},
					{"insecure", d.boolean(&t.Metrics.Insecure)},
					{"interval", d.duration(&t.Metrics.Interval)},
				})
			}},
			{"recordToolArguments", d.boolean(&t.RecordToolArguments)},
			{"recordClientAddress", d.boolean(&t.RecordClientAddress)},
			{"resourceFromEnv", d.strMap(&t.ResourceFromEnv)},
			{"attributeValueLengthLimit", d.integer(&t.AttributeValueLengthLimit)},
			{"userAttribution", d.str(&t.UserAttribution)},
		})
	}
}

// ratio decodes a number from 0 to 1.
func (d *decoder) ratio(dst *float64) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, _, ok := d.scalar(n, path, "a number from 0 to 1")
		if !ok {
			return
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || (n.Tag != "!!int" && n.Tag != "!!float" && n.Tag != "!!str") || v < 0 || v > 1 {
			d.errorf(n.Line, path, "expected a number from 0 to 1, got %s", d.meta.quote(path, s))
			return
		}
		*dst = v
	}
}

func applyTelemetryDefaults(c *Config) {
	if !c.isSet("telemetry.recordClientAddress") {
		c.Telemetry.RecordClientAddress = true
	}
	if !c.isSet("telemetry.traces.ratio") {
		c.Telemetry.Traces.Ratio = 1
	}
	if !c.isSet("telemetry.userAttribution") {
		c.Telemetry.UserAttribution = "off"
	}
}

// userAttributionModes are the accepted telemetry.userAttribution values.
var userAttributionModes = []string{"off", "hashed", "raw"}

// SetUserAttribution overrides telemetry.userAttribution from outside the
// file — the --user-attribution flag or MCPGATE_USER_ATTRIBUTION, named by
// source in errors — and checks the result as Validate would.
func (c *Config) SetUserAttribution(mode, source string) error {
	if !slices.Contains(userAttributionModes, mode) {
		return fmt.Errorf("%s: unknown user attribution %q (valid: off, hashed, raw)", source, mode)
	}
	if mode == "hashed" && len(c.Pseudonymization.Keys) == 0 {
		return fmt.Errorf("%s: hashed user attribution needs a pseudonymization key: add pseudonymization.keys to the config file (mcpgate keygen makes a key)", source)
	}
	c.Telemetry.UserAttribution = mode
	return nil
}

// telemetry validates the telemetry section. Exporters, protocols and
// samplers left empty are resolved at start from the OTEL_* variables, which
// internal/otelsetup checks.
func (v *validator) telemetry(t *Telemetry) {
	oneOf := func(p, val string, allowed []string) {
		if val != "" && !slices.Contains(allowed, val) {
			v.errorf(p, "must be one of %s, got %s", strings.Join(allowed, ", "), v.m.quote(p, val))
		}
	}
	oneOf("telemetry.traces.exporter", t.Traces.Exporter, traceExporters)
	oneOf("telemetry.traces.protocol", t.Traces.Protocol, otlpProtocols)
	oneOf("telemetry.traces.sampler", t.Traces.Sampler, traceSamplers)
	oneOf("telemetry.metrics.exporter", t.Metrics.Exporter, metricExporters)
	oneOf("telemetry.metrics.protocol", t.Metrics.Protocol, otlpProtocols)
	oneOf("telemetry.userAttribution", t.UserAttribution, userAttributionModes)
	v.otlpEndpoint("telemetry.traces.endpoint", t.Traces.Endpoint)
	v.otlpEndpoint("telemetry.metrics.endpoint", t.Metrics.Endpoint)
	v.headers(t.Traces.Headers, "telemetry.traces.headers")
	v.headers(t.Metrics.Headers, "telemetry.metrics.headers")
	if t.Traces.QueueSize < 0 {
		v.errorf("telemetry.traces.queueSize", "must not be negative, got %d", t.Traces.QueueSize)
	}
	if t.AttributeValueLengthLimit < 0 {
		v.errorf("telemetry.attributeValueLengthLimit", "must not be negative, got %d", t.AttributeValueLengthLimit)
	}
	for _, name := range sortedKeys(t.ResourceFromEnv) {
		p := joinKey("telemetry.resourceFromEnv", name)
		switch {
		case !validEnvName(name):
			v.errorf(p, "%s is not an environment variable name (letters, digits, _)", shorten(name))
		case t.ResourceFromEnv[name] == "":
			v.errorf(p, "needs a resource attribute key, e.g. k8s.namespace.name")
		}
	}
}

// otlpEndpoint checks an OTLP endpoint: an absolute http or https URL.
func (v *validator) otlpEndpoint(p, s string) {
	if s == "" {
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.errorf(p, "must be an http or https URL such as http://127.0.0.1:4318, got %s", v.m.quote(p, s))
	}
}

func validEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
