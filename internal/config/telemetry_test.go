package config

import (
	"strings"
	"testing"
)

func TestTelemetryDefaults(t *testing.T) {
	c, err := Parse("mcpgate.yaml", []byte(minimalURL), fakeLookup(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Telemetry{RecordClientAddress: true, Traces: TelemetryTraces{Ratio: 1}}
	got := c.Telemetry
	if got.ServiceName != "" || got.Traces.Exporter != "" || got.Metrics.Exporter != "" || !got.RecordClientAddress ||
		got.RecordToolArguments || got.Traces.Ratio != want.Traces.Ratio || got.AttributeValueLengthLimit != 0 {
		t.Errorf("defaults %+v, want %+v (exporters empty: the OTEL_* variables decide)", got, want)
	}
}

func TestTelemetryErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"unknown exporter", "telemetry:\n  traces:\n    exporter: jaeger\n",
			`mcpgate.yaml:3: telemetry.traces.exporter: must be one of otlp, console, none, got "jaeger"`},
		{"unknown metrics exporter", "telemetry:\n  metrics: {exporter: statsd}\n",
			`mcpgate.yaml:2: telemetry.metrics.exporter: must be one of prometheus, otlp, console, none, got "statsd"`},
		{"unknown protocol", "telemetry:\n  traces: {protocol: http/json}\n",
			`mcpgate.yaml:2: telemetry.traces.protocol: must be one of grpc, http/protobuf, got "http/json"`},
		{"unknown sampler", "telemetry:\n  traces:\n    sampler: sometimes\n",
			`mcpgate.yaml:3: telemetry.traces.sampler: must be one of parentbased_always_on, parentbased_always_off, parentbased_traceidratio, always_on, always_off, traceidratio, got "sometimes"`},
		{"ratio out of range", "telemetry:\n  traces:\n    ratio: 1.5\n",
			`mcpgate.yaml:3: telemetry.traces.ratio: expected a number from 0 to 1, got "1.5"`},
		{"ratio not a number", "telemetry:\n  traces:\n    ratio: half\n",
			`mcpgate.yaml:3: telemetry.traces.ratio: expected a number from 0 to 1, got "half"`},
		{"endpoint without scheme", "telemetry:\n  traces:\n    endpoint: collector:4318\n",
			`mcpgate.yaml:3: telemetry.traces.endpoint: must be an http or https URL such as http://127.0.0.1:4318, got "collector:4318"`},
		{"bad header", "telemetry:\n  traces:\n    headers:\n      \"bad header\": x\n",
			`mcpgate.yaml:4: telemetry.traces.headers["bad header"]: invalid header name "bad header"`},
		{"negative queue", "telemetry:\n  traces:\n    queueSize: -1\n",
			`mcpgate.yaml:3: telemetry.traces.queueSize: must not be negative, got -1`},
		{"bad env name", "telemetry:\n  resourceFromEnv:\n    POD-NS: k8s.namespace.name\n",
			`mcpgate.yaml:3: telemetry.resourceFromEnv.POD-NS: "POD-NS" is not an environment variable name (letters, digits, _)`},
		{"unknown key", "telemetry:\n  userAttrib: raw\n",
			`mcpgate.yaml:2: telemetry: unknown key "userAttrib"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("mcpgate.yaml", []byte(tc.src+minimalURL), fakeLookup(nil, nil))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error\n%v\nwant it to contain\n%s", err, tc.want)
			}
		})
	}
}
