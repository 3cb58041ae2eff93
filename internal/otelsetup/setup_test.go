package otelsetup

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/mcpgate/mcpgate/internal/record"
)

// clearOTELEnv unsets the variables the resolution reads, for the test.
func clearOTELEnv(t *testing.T) {
	for _, k := range []string{
		"OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
		"OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER",
	} {
		t.Setenv(k, "")
	}
}

// TestExporterPrecedence: config file > OTEL_* variables > default (none
// for traces, prometheus for metrics).
func TestExporterPrecedence(t *testing.T) {
	tests := []struct {
		name                string
		env                 map[string]string
		traces, metrics     string // configured
		wantTraces, wantMet string
		wantErr             bool
	}{
		{name: "defaults", wantTraces: "none", wantMet: "prometheus"},
		{name: "OTLP endpoint variable turns traces on", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"},
			wantTraces: "otlp", wantMet: "prometheus"},
		{name: "per-signal endpoint variable too", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"},
			wantTraces: "otlp", wantMet: "prometheus"},
		{name: "exporter variables", env: map[string]string{"OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "otlp"},
			wantTraces: "console", wantMet: "otlp"},
		{name: "config beats variables", env: map[string]string{"OTEL_TRACES_EXPORTER": "console", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"},
			traces: "none", metrics: "none", wantTraces: "none", wantMet: "none"},
		{name: "unsupported variable", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, wantErr: true},
		{name: "unsupported config", metrics: "statsd", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clearOTELEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			tr, err1 := tracesExporter(&TracesOptions{Exporter: tc.traces})
			me, err2 := metricsExporter(&MetricsOptions{Exporter: tc.metrics})
			if tc.wantErr {
				if err1 == nil && err2 == nil {
					t.Fatal("no error")
				}
				return
			}
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if tr != tc.wantTraces || me != tc.wantMet {
				t.Errorf("traces %q metrics %q, want %q %q", tr, me, tc.wantTraces, tc.wantMet)
			}
		})
	}
}

func TestProtocolPrecedence(t *testing.T) {
	clearOTELEnv(t)
	if p, _ := protocol("", "TRACES"); p != ProtocolHTTP {
		t.Errorf("default %q", p)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	if p, _ := protocol("", "TRACES"); p != ProtocolGRPC {
		t.Errorf("from OTEL_EXPORTER_OTLP_PROTOCOL: %q", p)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
	if p, _ := protocol("", "TRACES"); p != ProtocolHTTP {
		t.Errorf("the per-signal variable should win: %q", p)
	}
	if p, _ := protocol("grpc", "TRACES"); p != ProtocolGRPC {
		t.Errorf("config should win: %q", p)
	}
	if _, err := protocol("http/json", "TRACES"); err == nil {
		t.Error("http/json accepted")
	}
}

func TestSignalURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://c:4318":               "http://c:4318/v1/traces",
		"http://c:4318/":              "http://c:4318/v1/traces",
		"https://c/otlp/v1/traces":    "https://c/otlp/v1/traces",
		"https://api.vendor.io/v1/tx": "https://api.vendor.io/v1/tx",
	} {
		if got, err := signalURL(in, "/v1/traces"); err != nil || got != want {
			t.Errorf("signalURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := signalURL("collector:4318", "/v1/traces"); err == nil {
		t.Error("a URL without scheme accepted")
	}
}

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestResource(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		opts     Options
		wantName string
		wantID   string // "" means a fresh UUID
		want     map[string]string
	}{
		{name: "default name", wantName: "mcpgate"},
		{name: "OTEL_SERVICE_NAME", env: map[string]string{"OTEL_SERVICE_NAME": "gw-eu"}, wantName: "gw-eu"},
		{name: "config beats OTEL_SERVICE_NAME", env: map[string]string{"OTEL_SERVICE_NAME": "gw-eu"},
			opts: Options{ServiceName: "edge", ServiceVersion: "1.2.3"}, wantName: "edge", want: map[string]string{"service.version": "1.2.3"}},
		{name: "instance id from OTEL_RESOURCE_ATTRIBUTES", env: map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "service.instance.id=pod-7,deployment.environment.name=prod"},
			wantName: "mcpgate", wantID: "pod-7", want: map[string]string{"deployment.environment.name": "prod"}},
		{name: "resourceFromEnv is an allow-list", env: map[string]string{"POD_NAMESPACE": "mcp", "SECRET_TOKEN": "x"},
			opts:     Options{ResourceFromEnv: map[string]string{"POD_NAMESPACE": "k8s.namespace.name", "UNSET_VAR": "x.y"}},
			wantName: "mcpgate", want: map[string]string{"k8s.namespace.name": "mcp"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clearOTELEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			res, err := newResource(context.Background(), &tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := attrs(res.Attributes())
			if got["service.name"] != tc.wantName {
				t.Errorf("service.name %q, want %q", got["service.name"], tc.wantName)
			}
			if id := got["service.instance.id"]; (tc.wantID == "" && !uuidRe.MatchString(id)) || (tc.wantID != "" && id != tc.wantID) {
				t.Errorf("service.instance.id %q", id)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			if _, ok := got["x.y"]; ok {
				t.Error("unset variable became an attribute")
			}
			for k, v := range got {
				if v == "x" && k != "x.y" {
					t.Errorf("a variable outside the allow-list leaked as %s", k)
				}
			}
		})
	}
}

// TestSetupPrometheus: the default metrics exporter serves classic
// Prometheus names with the MCP buckets, and only allowed labels.
func TestSetupPrometheus(t *testing.T) {
	clearOTELEnv(t)
	p, err := Setup(context.Background(), Options{ServiceVersion: "test", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	if p.TracesExporter != "none" || p.MetricsExporter != "prometheus" || p.PrometheusHandler() == nil {
		t.Fatalf("exporters %q %q, handler %v", p.TracesExporter, p.MetricsExporter, p.PrometheusHandler())
	}
	rec := &record.Record{Start: time.Now(), HTTPMethod: "POST", Proto: "1.1", Status: 200, Backend: "b", SessionID: "secret-session"}
	op := &rec.NewOps(1)[0]
	op.Kind, op.Method, op.ID, op.Answered = record.OpRequest, "tools/list", "1", true
	p.Telemetry().Reporter().Report(context.Background(), rec)

	w := httptest.NewRecorder()
	p.PrometheusHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	body := w.Body.String()
	for _, want := range []string{
		`mcp_server_operation_duration_seconds_bucket{`,
		`le="0.01"`, `le="300"`,
		`mcp_method_name="tools/list"`,
		`mcpgate_backend="b"`,
		`target_info{`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, "secret-session") || strings.Contains(body, "jsonrpc_request_id") {
		t.Error("/metrics carries a session or request id")
	}
}

// TestSetupConsoleFlushesOnShutdown: spans queued in the batch processor
// reach the exporter on Shutdown.
func TestSetupConsoleFlushesOnShutdown(t *testing.T) {
	clearOTELEnv(t)
	var buf syncBuffer
	p, err := Setup(context.Background(), Options{
		Traces:  TracesOptions{Exporter: "console", Writer: &buf, BatchTimeout: time.Hour},
		Metrics: MetricsOptions{Exporter: "none"},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, sp := p.tp.Tracer("test").Start(context.Background(), "flushed-on-shutdown")
	sp.End()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "flushed-on-shutdown") {
		t.Errorf("span not flushed: %q", buf.String())
	}
}

// TestSetupOTLPHTTP exports to a fake collector: the configured base URL
// gets /v1/traces, the configured headers are sent.
func TestSetupOTLPHTTP(t *testing.T) {
	clearOTELEnv(t)
	var mu sync.Mutex
	var paths []string
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		if r.URL.Path == "/v1/traces" {
			auth = r.Header.Get("X-Api-Key")
		}
		mu.Unlock()
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	p, err := Setup(context.Background(), Options{
		Traces:  TracesOptions{Exporter: "otlp", Endpoint: srv.URL, Headers: map[string]string{"X-Api-Key": "k"}},
		Metrics: MetricsOptions{Exporter: "otlp", Endpoint: srv.URL, Interval: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, sp := p.tp.Tracer("test").Start(context.Background(), "exported")
	sp.End()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(paths, " ") != "/v1/traces /v1/metrics" && strings.Join(paths, " ") != "/v1/metrics /v1/traces" {
		t.Errorf("paths %q", paths)
	}
	if auth != "k" {
		t.Errorf("headers not sent (X-Api-Key %q)", auth)
	}
}

func TestSetupErrors(t *testing.T) {
	clearOTELEnv(t)
	for name, opts := range map[string]Options{
		"bad exporter": {Traces: TracesOptions{Exporter: "jaeger"}},
		"bad sampler":  {Traces: TracesOptions{Exporter: "console", Sampler: "sometimes", Writer: io.Discard}},
		"bad ratio":    {Traces: TracesOptions{Exporter: "console", Sampler: "traceidratio", SamplerRatio: 2, Writer: io.Discard}},
		"bad endpoint": {Traces: TracesOptions{Exporter: "otlp", Endpoint: "collector:4318"}},
	} {
		t.Run(name, func(t *testing.T) {
			if p, err := Setup(context.Background(), opts); err == nil {
				p.Shutdown(context.Background())
				t.Error("no error")
			}
		})
	}
}

func TestErrorLogLimited(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(0, 0)
	l := &limitedErrorLog{log: slog.New(slog.NewTextHandler(&buf, nil)), now: func() time.Time { return now }}
	for range 12 {
		l.Handle(io.ErrUnexpectedEOF)
	}
	if n := strings.Count(buf.String(), "telemetry export error"); n != errorLogBurst {
		t.Errorf("%d lines in one window, want %d", n, errorLogBurst)
	}
	now = now.Add(errorLogEvery)
	buf.Reset()
	l.Handle(io.ErrUnexpectedEOF)
	if !strings.Contains(buf.String(), "suppressed_since_last=7") {
		t.Errorf("next window's line %q lacks the suppressed count", buf.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// attrs flattens attributes into key → value text, for literal comparison.
func attrs(kv []attribute.KeyValue) map[string]string {
	m := make(map[string]string, len(kv))
	for _, a := range kv {
		m[string(a.Key)] = a.Value.String()
	}
	return m
}
