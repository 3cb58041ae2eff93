package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEmittedMetrics checks the OpenTelemetry-to-Prometheus names taken
// from the documentation's table, against the names mcpgate's /metrics
// serves (seen on a running gateway: mcp_server_operation_duration_seconds_bucket,
// mcpgate_authz_decisions_total, ...).
func TestEmittedMetrics(t *testing.T) {
	known, err := emittedMetrics("../../docs/telemetry.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"mcp_server_operation_duration_seconds_bucket",
		"mcp_server_operation_duration_seconds_count",
		"mcp_client_operation_duration_seconds_sum",
		"mcpgate_authz_decisions_total",
		"mcpgate_ratelimit_decisions_total",
		"mcpgate_ratelimit_store_fallbacks_total",
		"mcpgate_upstream_errors_total",
		"mcpgate_sessions_active",
	} {
		if !known[name] {
			t.Errorf("%s not among the documented metrics", name)
		}
	}
	for _, name := range []string{"mcp_server_operation_duration_bucket", "mcpgate_authz_decisions", "mcp_method_name"} {
		if known[name] {
			t.Errorf("%s taken as a metric", name)
		}
	}
}

func TestCheckDashboard(t *testing.T) {
	known := map[string]bool{"mcpgate_authz_decisions_total": true}
	cases := []struct {
		name, json, wantErr string
	}{
		{name: "known metric", json: `{"panels":[{"title":"a","targets":[{"expr":"sum by (mcp_method_name) (rate(mcpgate_authz_decisions_total{job=~\"$job\"}[5m]))"}]}]}`},
		{name: "unknown metric", json: `{"panels":[{"title":"a","targets":[{"expr":"rate(mcpgate_authz_decision_total{job=\"x\"}[5m])"}]}]}`, wantErr: "does not emit"},
		{name: "no selector", json: `{"panels":[{"title":"a","targets":[{"expr":"rate(mcpgate_authz_decisions_total[5m])"}]}]}`, wantErr: "selects no metric"},
		{name: "no queries", json: `{"panels":[]}`, wantErr: "no queries"},
		{name: "not JSON", json: `{"panels":[`, wantErr: "unexpected end"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkDashboard(write(t, "d.json", tc.json), known)
			check(t, err, tc.wantErr)
		})
	}
}

func TestCheckCollector(t *testing.T) {
	good, err := os.ReadFile("../otel-collector.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, old, new, wantErr string
	}{
		{name: "deploy/otel-collector.yaml"},
		{name: "no grpc", old: "      grpc:\n", new: "      grpcx:\n", wantErr: "no grpc"},
		{name: "batch before memory_limiter", old: "processors: [memory_limiter, batch]\n      exporters: [otlp/traces]", new: "processors: [batch, memory_limiter]\n      exporters: [otlp/traces]", wantErr: "memory_limiter first"},
		{name: "undefined exporter", old: "exporters: [otlp/traces]", new: "exporters: [otlp/jaeger]", wantErr: "not defined"},
		{name: "metrics not to prometheus", old: "exporters: [prometheus]", new: "exporters: [otlp/traces]", wantErr: "prometheus"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := string(good)
			if tc.old != "" {
				if !strings.Contains(in, tc.old) {
					t.Fatalf("otel-collector.yaml has no %q", tc.old)
				}
				in = strings.Replace(in, tc.old, tc.new, 1)
			}
			check(t, checkCollector(write(t, "c.yaml", in)), tc.wantErr)
		})
	}
}

func check(t *testing.T, err error, wantErr string) {
	t.Helper()
	switch {
	case wantErr == "" && err != nil:
		t.Fatalf("error: %v", err)
	case wantErr != "" && err == nil:
		t.Fatalf("passed, want an error with %q", wantErr)
	case wantErr != "" && !strings.Contains(err.Error(), wantErr):
		t.Fatalf("error %v, want one with %q", err, wantErr)
	}
}
