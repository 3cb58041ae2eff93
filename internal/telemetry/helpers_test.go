package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/observe"
	"github.com/mcpgate/mcpgate/internal/record"
)

// harness is the instrumentation on an in-memory SDK: spans go to a
// recorder, metrics to a manual reader with the same views and exemplar
// filter as Setup installs.
type harness struct {
	tel    *Telemetry
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
}

func newHarness(t testing.TB, opts InstrumentOptions, sampler sdktrace.Sampler) *harness {
	t.Helper()
	if sampler == nil {
		sampler = sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr), sdktrace.WithSampler(sampler))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithView(views()...),
		sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))
	tel, err := New(tp, mp, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{tel: tel, spans: sr, reader: reader}
}

const (
	testBackend = "everything"
	rejectAuth  = "X-Test-Reject" // the fake authn stage rejects requests with this header
)

// serve sends req through the gateway's stages as far as telemetry cares —
// observe, inspect, a fake authn, the trace stage — to relay.
func (h *harness) serve(req *http.Request, relay http.HandlerFunc) *httptest.ResponseRecorder {
	authn := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get(rejectAuth) != "" {
				record.FromContext(r.Context()).Fail(record.ReasonUnauthenticated, "no credential presented")
				mcpwire.WriteError(w, http.StatusUnauthorized, nil, -32001, "unauthorized")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	var hd http.Handler = relay
	for _, stage := range []func(http.Handler) http.Handler{
		h.tel.Stage(), authn, inspect.New(inspect.Options{}), observe.New(nil, h.tel.Reporter()),
	} {
		hd = stage(hd)
	}
	w := httptest.NewRecorder()
	hd.ServeHTTP(w, req)
	return w
}

// post builds a POST of body with the headers a 2025-06-18 client sends,
// from 192.0.2.10:40000.
func post(body string, headers ...string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
	req.RemoteAddr = "192.0.2.10:40000"
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set(mcpwire.HeaderProtocolVersion, "2025-06-18")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}

// answer is a fake relay that answers every request op with a result and
// applies each of edit to the record first.
func answer(edit ...func(*record.Record)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := record.FromContext(r.Context())
		rec.Backend = testBackend
		for i := range rec.Ops {
			if rec.Ops[i].Kind == record.OpRequest {
				rec.Ops[i].Answered = true
			}
		}
		for _, e := range edit {
			e(rec)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
	}
}

// attrs flattens attributes into key → value text, for literal comparison.
func attrs(kv []attribute.KeyValue) map[string]string {
	m := make(map[string]string, len(kv))
	for _, a := range kv {
		m[string(a.Key)] = a.Value.String()
	}
	return m
}

func diffAttrs(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		g, gok := got[k]
		w, wok := want[k]
		switch {
		case !wok:
			t.Errorf("%s: unexpected %s=%q", what, k, g)
		case !gok:
			t.Errorf("%s: missing %s=%q", what, k, w)
		case g != w:
			t.Errorf("%s: %s=%q, want %q", what, k, g, w)
		}
	}
}

// collect returns the data points of metric name as attribute maps.
func (h *harness) collect(t *testing.T, name string) []map[string]string {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					out = append(out, attrs(dp.Attributes.ToSlice()))
				}
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					a := attrs(dp.Attributes.ToSlice())
					a["#value"] = itoa64(dp.Value)
					out = append(out, a)
				}
			}
		}
	}
	return out
}

func itoa64(v int64) string {
	return attribute.Int64Value(v).String()
}

type sdkLink = sdktrace.Link
