package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestMetricsOnAdmin: with the default configuration (metrics exporter
// prometheus) the admin listener serves /metrics, which counts even a
// request the gateway rejected itself, and the public listener does not.
func TestMetricsOnAdmin(t *testing.T) {
	for _, k := range []string{"OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"} {
		t.Setenv(k, "")
	}
	g := newGateway(t, upstreamConfig(t, "http://127.0.0.1:1/mcp"), nil)
	req := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(`{"jsonrpc":`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	g.Handler().ServeHTTP(httptest.NewRecorder(), req)

	w := httptest.NewRecorder()
	g.adminMux().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(w.Body)
	if w.Code != http.StatusOK || !strings.Contains(string(body), `mcp_server_operation_duration_seconds_count{`) ||
		!strings.Contains(string(body), `error_type="parse_error"`) {
		t.Errorf("admin /metrics: %d\n%s", w.Code, body)
	}
	w = httptest.NewRecorder()
	g.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code == http.StatusOK {
		t.Error("the public listener serves /metrics")
	}
	if g.otel.TracesExporter != "none" {
		t.Errorf("traces exporter %q without configuration or OTEL_* variables, want none", g.otel.TracesExporter)
	}
}
