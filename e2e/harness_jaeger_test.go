package e2e

// Jaeger harness for the end-to-end trace tests.
//
// startJaeger(t) runs a real Jaeger v2 (v1.76.0, an OpenTelemetry Collector
// distribution) for one test, and Traces reads back what reached it through
// Jaeger's query API, so a test can assert on spans exactly as a user would
// see them in Jaeger:
//
//	j := startJaeger(t)
//	// point the exporter at it, e.g. for a gateway process:
//	//   OTEL_EXPORTER_OTLP_ENDPOINT=<j.OTLPHTTPEndpoint()>  (http/protobuf), or
//	//   OTEL_EXPORTER_OTLP_ENDPOINT=<j.OTLPGRPCEndpoint()>  with OTEL_EXPORTER_OTLP_PROTOCOL=grpc
//	// or in-process: otlptracehttp.WithEndpointURL(j.OTLPHTTPEndpoint() + "/v1/traces")
//	traces := j.Traces("mcpgate", 2) // waits (bounded) until ≥ 2 spans of service mcpgate arrived
//
// The binary comes from MCPGATE_JAEGER, which scripts/test.sh sets after
// building it once into ~/.cache/mcpgate/bin (ensure_jaeger in
// scripts/lib.sh; the build takes about 11 minutes on a fresh machine). When
// it is unset or missing, startJaeger FAILS the test — it never skips.
//
// Each instance gets its own configuration file in a temporary directory:
// in-memory storage, an OTLP receiver (gRPC and HTTP) and the query
// extension (HTTP API and gRPC), each on a free 127.0.0.1 port, a health
// check extension used to wait for readiness, and no self-telemetry (no
// metrics listener, no traces of Jaeger's own query service). Nothing
// listens on anything but loopback. It is stopped (SIGTERM, then SIGKILL)
// at the test's cleanup; the fault tests kill it (j.proc.kill) and start it
// again on the same ports (j.restart).
//
// Traces queries the API v3 (/api/v3/traces), which returns the stored spans
// as OTLP, so kinds, links, status and attribute types survive; the result
// is flattened into the small Trace/Span types below (attribute values
// rendered as strings: 42, true, 1.5, ["a","b"]).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	jaegerStartTimeout = 30 * time.Second
	// jaegerQueryTimeout bounds the wait for spans to become queryable.
	jaegerQueryTimeout = 30 * time.Second
)

// jaeger is a running Jaeger instance. Its ports are fixed for its life,
// so that it can be killed and started again with the OTLP receiver at the
// same address (the gateway's exporter keeps its endpoint).
type jaeger struct {
	t        *testing.T
	otlpHTTP string // 127.0.0.1:PORT
	otlpGRPC string
	query    string // http://127.0.0.1:PORT

	bin, cfgPath, dir string
	healthURL         string
	proc              *proc // the current process; replaced by restart
}

// Trace is one trace as Jaeger stores it.
type Trace struct {
	TraceID string // 32 hex digits
	Spans   []Span
}

// Span is one span, flattened from OTLP.
type Span struct {
	TraceID      string
	SpanID       string // 16 hex digits
	ParentSpanID string // "" for a root span
	Name         string
	Kind         string // "internal", "server", "client", "producer", "consumer" or "unspecified"
	Service      string // the resource's service.name
	Scope        string // instrumentation scope name
	Attributes   map[string]string
	Resource     map[string]string
	Links        []Link
	Events       []string // event names
	StatusCode   string   // "unset", "ok" or "error"
	StatusMsg    string
	Start, End   time.Time
}

// Link is a span link.
type Link struct {
	TraceID, SpanID string
	Attributes      map[string]string
}

// Span returns the span of t named name, failing the test when there is not
// exactly one.
func (tr Trace) Span(t *testing.T, name string) Span {
	t.Helper()
	var found []Span
	for _, s := range tr.Spans {
		if s.Name == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("trace %s has %d spans named %q; spans: %v", tr.TraceID, len(found), name, tr.names())
	}
	return found[0]
}

func (tr Trace) names() []string {
	var n []string
	for _, s := range tr.Spans {
		n = append(n, s.Name)
	}
	return n
}

// jaegerBinary returns MCPGATE_JAEGER, or the binary scripts/test.sh
// builds into the cache when the variable is unset, failing the test when
// neither is usable.
func jaegerBinary(t *testing.T) string {
	t.Helper()
	const how = "run the tests with scripts/test.sh (it builds Jaeger once and sets MCPGATE_JAEGER), " +
		"or build it yourself: (cd tools/jaeger && go build -o ~/.cache/mcpgate/bin/jaeger-v1.76.0 github.com/jaegertracing/jaeger/cmd/jaeger) " +
		"and export MCPGATE_JAEGER=~/.cache/mcpgate/bin/jaeger-v1.76.0"
	bin := os.Getenv("MCPGATE_JAEGER")
	if bin == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatalf("MCPGATE_JAEGER is not set and there is no home directory: the trace tests need a Jaeger binary; %s", how)
		}
		bin = filepath.Join(home, ".cache", "mcpgate", "bin", "jaeger-v1.76.0")
	}
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		t.Fatalf("MCPGATE_JAEGER=%s is not an executable file (%v); %s", bin, err, how)
	}
	return bin
}

const jaegerConfig = `service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: []
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:%d
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
  jaeger_query:
    enable_tracing: false
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:%d
    grpc:
      endpoint: 127.0.0.1:%d
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
      http:
        endpoint: 127.0.0.1:%d
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`

// startJaeger starts Jaeger and waits until it is healthy and its query API
// answers. The ports are picked free just before the start; a start that
// loses a port to another process is retried with new ones. It is stopped
// (SIGTERM, then SIGKILL) at the test's cleanup.
func startJaeger(t *testing.T) *jaeger {
	t.Helper()
	bin := jaegerBinary(t)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		health, qHTTP, qGRPC, oGRPC, oHTTP := freeClosedPort(t), freeClosedPort(t), freeClosedPort(t), freeClosedPort(t), freeClosedPort(t)
		dir := t.TempDir()
		j := &jaeger{
			t:         t,
			otlpHTTP:  fmt.Sprintf("127.0.0.1:%d", oHTTP),
			otlpGRPC:  fmt.Sprintf("127.0.0.1:%d", oGRPC),
			query:     fmt.Sprintf("http://127.0.0.1:%d", qHTTP),
			bin:       bin,
			dir:       dir,
			cfgPath:   filepath.Join(dir, "jaeger.yaml"),
			healthURL: fmt.Sprintf("http://127.0.0.1:%d/status", health),
		}
		if err := os.WriteFile(j.cfgPath, fmt.Appendf(nil, jaegerConfig, health, qHTTP, qGRPC, oGRPC, oHTTP), 0o600); err != nil {
			t.Fatal(err)
		}
		if lastErr = j.start(); lastErr == nil {
			t.Cleanup(func() {
				j.proc.halt()
				if t.Failed() {
					t.Logf("jaeger log:\n%s", tail(j.proc.Log.String(), 4000))
				}
			})
			return j
		}
	}
	t.Fatal(lastErr)
	return nil
}

// start runs the Jaeger process with the fixed configuration and waits
// until it is healthy and its query API answers.
func (j *jaeger) start() error {
	cmd := exec.Command(j.bin, "--config", "file:"+j.cfgPath)
	cmd.Dir = j.dir
	p, err := startProc(cmd)
	if err != nil {
		return err
	}
	j.proc = p
	deadline := time.Now().Add(jaegerStartTimeout)
	for {
		if p.exited() {
			return fmt.Errorf("jaeger exited during start-up:\n%s", tail(p.Log.String(), 4000))
		}
		if j.ready() {
			return nil
		}
		if time.Now().After(deadline) {
			p.halt()
			return fmt.Errorf("jaeger was not ready within %v:\n%s", jaegerStartTimeout, tail(p.Log.String(), 4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// restart starts Jaeger again on the same ports after j.proc.kill; a start
// that fails (a port not yet free) is retried, bounded.
func (j *jaeger) restart(t *testing.T) {
	t.Helper()
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = j.start(); err == nil {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("jaeger did not start again on the same ports: %v", err)
}

// ready: the health check reports healthy and the query API answers.
func (j *jaeger) ready() bool {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get(j.healthURL)
	if err != nil {
		return false
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"healthy":true`)) {
		return false
	}
	resp, err = c.Get(j.query + "/api/v3/services")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// OTLPHTTPEndpoint is the base URL of the OTLP/HTTP receiver,
// http://127.0.0.1:PORT: a value for OTEL_EXPORTER_OTLP_ENDPOINT (the
// exporters append /v1/traces); otlptracehttp.WithEndpointURL wants
// OTLPHTTPEndpoint()+"/v1/traces".
func (j *jaeger) OTLPHTTPEndpoint() string { return "http://" + j.otlpHTTP }

// OTLPGRPCEndpoint is the OTLP/gRPC receiver as http://127.0.0.1:PORT: a
// value for OTEL_EXPORTER_OTLP_ENDPOINT with OTEL_EXPORTER_OTLP_PROTOCOL=grpc
// (the http scheme means no TLS); otlptracegrpc.WithEndpoint wants the
// host:port of OTLPGRPCAddr with WithInsecure.
func (j *jaeger) OTLPGRPCEndpoint() string { return "http://" + j.otlpGRPC }

// OTLPGRPCAddr is the OTLP/gRPC receiver's 127.0.0.1:PORT.
func (j *jaeger) OTLPGRPCAddr() string { return j.otlpGRPC }

// QueryURL is the base URL of Jaeger's HTTP query API (and UI).
func (j *jaeger) QueryURL() string { return j.query }

// Traces returns the traces of service (by resource service.name) stored
// in the last hour, polling until they hold at least minSpans spans in
// total; it fails the test when they do not within jaegerQueryTimeout.
// Spans are sorted by start time within a trace, traces by their first
// span's start.
func (j *jaeger) Traces(service string, minSpans int) []Trace {
	j.t.Helper()
	deadline := time.Now().Add(jaegerQueryTimeout)
	var (
		got     []Trace
		n       int
		lastErr error
	)
	for {
		got, lastErr = j.queryTraces(service)
		n = 0
		for _, tr := range got {
			n += len(tr.Spans)
		}
		if lastErr == nil && n >= minSpans {
			return got
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	j.t.Fatalf("jaeger: %d span(s) of service %q after %v, want at least %d (last error: %v)",
		n, service, jaegerQueryTimeout, minSpans, lastErr)
	return nil
}

// queryTraces makes one API v3 query. No traces yet is not an error.
func (j *jaeger) queryTraces(service string) ([]Trace, error) {
	body, err := j.queryRaw(service)
	if err != nil || body == nil {
		return nil, err
	}
	return parseOTLPTraces(body)
}

// queryRaw makes one API v3 query and returns Jaeger's answer unparsed
// (OTLP JSON), for tests that search all of it; nil, nil while nothing is
// stored.
func (j *jaeger) queryRaw(service string) ([]byte, error) {
	return j.querySince(service, time.Now().Add(-time.Hour), 1000)
}

// querySince is queryRaw for the traces of service that started at or
// after since, at most limit of them: a narrow window keeps the answer's
// trace limit from hiding recent spans behind older ones.
func (j *jaeger) querySince(service string, since time.Time, limit int) ([]byte, error) {
	return j.queryWindow(service, since, time.Now().Add(time.Minute), limit)
}

// queryWindow is querySince for the traces that started in [from, to].
func (j *jaeger) queryWindow(service string, from, to time.Time, limit int) ([]byte, error) {
	q := url.Values{
		"query.service_name":   {service},
		"query.start_time_min": {from.UTC().Format(time.RFC3339Nano)},
		"query.start_time_max": {to.UTC().Format(time.RFC3339Nano)},
		"query.num_traces":     {strconv.Itoa(limit)},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.query+"/api/v3/traces?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil // "trace not found": nothing stored yet
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v3/traces: %d %s", resp.StatusCode, tail(string(body), 500))
	}
	return body, nil
}

// otlpDoc is the API v3 answer: OTLP JSON (ExportTraceServiceRequest
// shape) under "result".
type otlpDoc struct {
	Result struct {
		ResourceSpans []struct {
			Resource struct {
				Attributes []otlpKV `json:"attributes"`
			} `json:"resource"`
			ScopeSpans []struct {
				Scope struct {
					Name string `json:"name"`
				} `json:"scope"`
				Spans []struct {
					TraceID           string          `json:"traceId"`
					SpanID            string          `json:"spanId"`
					ParentSpanID      string          `json:"parentSpanId"`
					Name              string          `json:"name"`
					Kind              json.RawMessage `json:"kind"`
					StartTimeUnixNano json.RawMessage `json:"startTimeUnixNano"`
					EndTimeUnixNano   json.RawMessage `json:"endTimeUnixNano"`
					Attributes        []otlpKV        `json:"attributes"`
					Events            []struct {
						Name string `json:"name"`
					} `json:"events"`
					Links []struct {
						TraceID    string   `json:"traceId"`
						SpanID     string   `json:"spanId"`
						Attributes []otlpKV `json:"attributes"`
					} `json:"links"`
					Status struct {
						Code    json.RawMessage `json:"code"`
						Message string          `json:"message"`
					} `json:"status"`
				} `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	} `json:"result"`
}

type otlpKV struct {
	Key   string    `json:"key"`
	Value otlpValue `json:"value"`
}

type otlpValue struct {
	Str    *string         `json:"stringValue"`
	Bool   *bool           `json:"boolValue"`
	Int    json.RawMessage `json:"intValue"` // a string or a number
	Double *float64        `json:"doubleValue"`
	Array  *struct {
		Values []otlpValue `json:"values"`
	} `json:"arrayValue"`
	Bytes *string `json:"bytesValue"`
}

func (v otlpValue) text() string {
	switch {
	case v.Str != nil:
		return *v.Str
	case v.Bool != nil:
		return strconv.FormatBool(*v.Bool)
	case v.Int != nil:
		return strings.Trim(string(v.Int), `"`)
	case v.Double != nil:
		return strconv.FormatFloat(*v.Double, 'g', -1, 64)
	case v.Array != nil:
		parts := make([]string, len(v.Array.Values))
		for i, e := range v.Array.Values {
			parts[i] = strconv.Quote(e.text())
		}
		return "[" + strings.Join(parts, ",") + "]"
	case v.Bytes != nil:
		return *v.Bytes
	}
	return ""
}

func kvMap(kvs []otlpKV) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value.text()
	}
	return m
}

// enumName reads an OTLP enum written as a number or as its proto name.
func enumName(raw json.RawMessage, names []string, prefix string) string {
	s := strings.Trim(string(raw), `"`)
	if s == "" {
		s = "0"
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n >= 0 && n < len(names) {
			return names[n]
		}
		return s
	}
	return strings.ToLower(strings.TrimPrefix(s, prefix))
}

var (
	spanKinds   = []string{"unspecified", "internal", "server", "client", "producer", "consumer"}
	statusCodes = []string{"unset", "ok", "error"}
)

func unixNanos(raw json.RawMessage) time.Time {
	n, err := strconv.ParseInt(strings.Trim(string(raw), `"`), 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// normID renders a trace or span id as lower-case hex (the API writes hex;
// base64, the proto3 JSON default for bytes, is decoded too).
func normID(s string, size int) string {
	if len(s) == 2*size {
		return strings.ToLower(s)
	}
	if s == "" {
		return ""
	}
	var b []byte
	if err := json.Unmarshal([]byte(strconv.Quote(s)), &b); err == nil && len(b) == size {
		return fmt.Sprintf("%x", b)
	}
	return s
}

func parseOTLPTraces(body []byte) ([]Trace, error) {
	// Jaeger may stream several JSON documents (one per chunk of results).
	dec := json.NewDecoder(bytes.NewReader(body))
	byID := map[string]*Trace{}
	var order []string
	for {
		var doc otlpDoc
		if err := dec.Decode(&doc); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("decoding /api/v3/traces: %w: %s", err, tail(string(body), 500))
		}
		for _, rs := range doc.Result.ResourceSpans {
			res := kvMap(rs.Resource.Attributes)
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					sp := Span{
						TraceID:      normID(s.TraceID, 16),
						SpanID:       normID(s.SpanID, 8),
						ParentSpanID: normID(s.ParentSpanID, 8),
						Name:         s.Name,
						Kind:         enumName(s.Kind, spanKinds, "SPAN_KIND_"),
						Service:      res["service.name"],
						Scope:        ss.Scope.Name,
						Attributes:   kvMap(s.Attributes),
						Resource:     res,
						StatusCode:   enumName(s.Status.Code, statusCodes, "STATUS_CODE_"),
						StatusMsg:    s.Status.Message,
						Start:        unixNanos(s.StartTimeUnixNano),
						End:          unixNanos(s.EndTimeUnixNano),
					}
					for _, l := range s.Links {
						sp.Links = append(sp.Links, Link{TraceID: normID(l.TraceID, 16), SpanID: normID(l.SpanID, 8), Attributes: kvMap(l.Attributes)})
					}
					for _, e := range s.Events {
						sp.Events = append(sp.Events, e.Name)
					}
					tr := byID[sp.TraceID]
					if tr == nil {
						tr = &Trace{TraceID: sp.TraceID}
						byID[sp.TraceID] = tr
						order = append(order, sp.TraceID)
					}
					tr.Spans = append(tr.Spans, sp)
				}
			}
		}
	}
	out := make([]Trace, 0, len(order))
	for _, id := range order {
		tr := *byID[id]
		slices.SortStableFunc(tr.Spans, func(a, b Span) int { return a.Start.Compare(b.Start) })
		out = append(out, tr)
	}
	slices.SortStableFunc(out, func(a, b Trace) int { return a.Spans[0].Start.Compare(b.Spans[0].Start) })
	return out, nil
}

// spansSince makes one API v3 query for the spans of service that started
// at or after since — a narrow window, so that the answer's trace limit
// cannot hide recent spans behind older ones. Nothing stored yet is no
// error.
func spansSince(j *jaeger, service string, since time.Time) ([]Span, error) {
	spans, _, err := j.spansIn(service, since, time.Now().Add(time.Minute), 5000)
	return spans, err
}

// spansIn makes one API v3 query for the spans of service in the traces
// that started in [from, to], at most limit traces, and returns them with
// the number of traces. Nothing stored yet is no error.
func (j *jaeger) spansIn(service string, from, to time.Time, limit int) ([]Span, int, error) {
	body, err := j.queryWindow(service, from, to, limit)
	if err != nil || body == nil {
		return nil, 0, err
	}
	traces, err := parseOTLPTraces(body)
	if err != nil {
		return nil, 0, err
	}
	var out []Span
	for _, tr := range traces {
		out = append(out, tr.Spans...)
	}
	return out, len(traces), nil
}

// serverSpans returns the SERVER spans named name by their
// jsonrpc.request.id.
func serverSpans(spans []Span, name string) map[string]Span {
	out := map[string]Span{}
	for _, s := range spans {
		if s.Kind == "server" && s.Name == name {
			out[s.Attributes["jsonrpc.request.id"]] = s
		}
	}
	return out
}

// jaegerRawTraces polls Jaeger's API v3 for service until at least minSpans
// spans are stored, and returns the raw answer (every attribute, resource,
// link and event as Jaeger stores them, for substring searches) with its
// parsed form. It reports through t (not j.t), so subtests of a test that
// shares one Jaeger can call it.
func jaegerRawTraces(t *testing.T, j *jaeger, service string, minSpans int) ([]byte, []Trace) {
	t.Helper()
	deadline := time.Now().Add(jaegerQueryTimeout)
	var (
		body    []byte
		got     []Trace
		n       int
		lastErr error
	)
	for {
		body, lastErr = j.queryRaw(service)
		if lastErr == nil && body != nil {
			got, lastErr = parseOTLPTraces(body)
		}
		n = 0
		for _, tr := range got {
			n += len(tr.Spans)
		}
		if lastErr == nil && n >= minSpans {
			return body, got
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("jaeger: %d span(s) of service %q after %v, want at least %d (last error: %v)",
		n, service, jaegerQueryTimeout, minSpans, lastErr)
	return nil, nil
}
