package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"
)

// otlpMetricsReceiver is an OTLP/HTTP metrics receiver on 127.0.0.1: it
// accepts POST /v1/metrics (http/protobuf, gzip or not), decodes each
// ExportMetricsServiceRequest and keeps it with its raw (uncompressed)
// bytes, so that a test can both walk the metrics and search every byte
// the gateway sent.
type otlpMetricsReceiver struct {
	URL string // http://127.0.0.1:PORT, the base for telemetry.metrics.endpoint
	srv *http.Server

	mu      sync.Mutex
	exports []otlpMetricsExport
	errs    []string
	changed chan struct{}
}

// otlpMetricsExport is one export request as received.
type otlpMetricsExport struct {
	At  time.Time
	Raw []byte
	Req *colmetricpb.ExportMetricsServiceRequest
}

func startOTLPMetricsReceiver(t *testing.T) *otlpMetricsReceiver {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &otlpMetricsReceiver{URL: "http://" + l.Addr().String(), changed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/metrics", r.handle)
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.srv.Shutdown(ctx)
	})
	return r
}

func (r *otlpMetricsReceiver) handle(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 64<<20))
	if err == nil && strings.EqualFold(req.Header.Get("Content-Encoding"), "gzip") {
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(bytes.NewReader(body)); err == nil {
			body, err = io.ReadAll(zr)
		}
	}
	var m colmetricpb.ExportMetricsServiceRequest
	if err == nil {
		if ct := req.Header.Get("Content-Type"); ct != "application/x-protobuf" {
			err = fmt.Errorf("Content-Type %q, want application/x-protobuf", ct)
		} else {
			err = proto.Unmarshal(body, &m)
		}
	}
	r.mu.Lock()
	if err != nil {
		r.errs = append(r.errs, err.Error())
	} else {
		r.exports = append(r.exports, otlpMetricsExport{At: time.Now(), Raw: body, Req: &m})
	}
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out, _ := proto.Marshal(&colmetricpb.ExportMetricsServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// Exports returns the exports received so far and the decoding errors.
func (r *otlpMetricsReceiver) Exports() ([]otlpMetricsExport, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.exports), slices.Clone(r.errs)
}

// waitFor waits up to timeout for an export satisfying match.
func (r *otlpMetricsReceiver) waitFor(timeout time.Duration, match func(otlpMetricsExport) bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seen := 0
	for {
		r.mu.Lock()
		ex, changed := slices.Clone(r.exports), r.changed
		r.mu.Unlock()
		for _, e := range ex[seen:] {
			if match(e) {
				return true
			}
		}
		seen = len(ex)
		select {
		case <-changed:
		case <-deadline.C:
			return false
		}
	}
}

// otlpPoint is one data point of a received metric, flattened.
type otlpPoint struct {
	Metric     string
	Attributes map[string]string
	Exemplars  int // exemplars on the point
	Count      uint64
	Value      float64
}

// points flattens every data point of every metric in e.
func (e otlpMetricsExport) points() []otlpPoint {
	var out []otlpPoint
	for _, rm := range e.Req.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				add := func(attrs []*commonpb.KeyValue, ex int, count uint64, v float64) {
					out = append(out, otlpPoint{Metric: m.GetName(), Attributes: otlpPBAttrs(attrs), Exemplars: ex, Count: count, Value: v})
				}
				switch d := m.GetData().(type) {
				case *metricpb.Metric_Sum:
					for _, p := range d.Sum.GetDataPoints() {
						add(p.GetAttributes(), len(p.GetExemplars()), 0, otlpPBNumber(p))
					}
				case *metricpb.Metric_Gauge:
					for _, p := range d.Gauge.GetDataPoints() {
						add(p.GetAttributes(), len(p.GetExemplars()), 0, otlpPBNumber(p))
					}
				case *metricpb.Metric_Histogram:
					for _, p := range d.Histogram.GetDataPoints() {
						add(p.GetAttributes(), len(p.GetExemplars()), p.GetCount(), p.GetSum())
					}
				case *metricpb.Metric_ExponentialHistogram:
					for _, p := range d.ExponentialHistogram.GetDataPoints() {
						add(p.GetAttributes(), len(p.GetExemplars()), p.GetCount(), p.GetSum())
					}
				case *metricpb.Metric_Summary:
					for _, p := range d.Summary.GetDataPoints() {
						add(p.GetAttributes(), 0, p.GetCount(), p.GetSum())
					}
				}
			}
		}
	}
	return out
}

// resourceAttrs returns the resource attributes of every ResourceMetrics.
func (e otlpMetricsExport) resourceAttrs() []map[string]string {
	var out []map[string]string
	for _, rm := range e.Req.GetResourceMetrics() {
		out = append(out, otlpPBAttrs(rm.GetResource().GetAttributes()))
	}
	return out
}

func otlpPBNumber(p *metricpb.NumberDataPoint) float64 {
	if v, ok := p.GetValue().(*metricpb.NumberDataPoint_AsInt); ok {
		return float64(v.AsInt)
	}
	return p.GetAsDouble()
}

func otlpPBAttrs(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.GetKey()] = otlpPBValue(kv.GetValue())
	}
	return m
}

func otlpPBValue(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return fmt.Sprint(x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return fmt.Sprint(x.IntValue)
	case *commonpb.AnyValue_DoubleValue:
		return fmt.Sprint(x.DoubleValue)
	case *commonpb.AnyValue_BytesValue:
		return string(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		parts := make([]string, 0, len(x.ArrayValue.GetValues()))
		for _, e := range x.ArrayValue.GetValues() {
			parts = append(parts, otlpPBValue(e))
		}
		return "[" + strings.Join(parts, ",") + "]"
	case *commonpb.AnyValue_KvlistValue:
		return fmt.Sprint(otlpPBAttrs(x.KvlistValue.GetValues()))
	}
	return ""
}

// TestOTLPMetricsReceiverHarness proves the receiver: a counter with an
// exemplar-free point and a histogram exported from this process with the
// OTLP/HTTP exporter come back decoded, attributes and all.
func TestOTLPMetricsReceiverHarness(t *testing.T) {
	t.Parallel()
	r := startOTLPMetricsReceiver(t)
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	exp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(r.URL+"/v1/metrics"), otlpmetrichttp.WithCompression(otlpmetrichttp.GzipCompression))
	if err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader),
		sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", "e2e-otlp-metrics"))))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	m := mp.Meter("e2e/harness")
	c, _ := m.Int64Counter("e2e.count")
	h, _ := m.Float64Histogram("e2e.duration")
	c.Add(ctx, 3, metric.WithAttributes(attribute.String("k", "v1")))
	h.Record(ctx, 0.5, metric.WithAttributes(attribute.String("k", "v2")))
	if err := mp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	exports, errs := r.Exports()
	if len(errs) > 0 || len(exports) != 1 {
		t.Fatalf("exports %d, errors %v", len(exports), errs)
	}
	pts := exports[0].points()
	var sawCount, sawHist bool
	for _, p := range pts {
		switch p.Metric {
		case "e2e.count":
			sawCount = p.Value == 3 && p.Attributes["k"] == "v1"
		case "e2e.duration":
			sawHist = p.Count == 1 && p.Value == 0.5 && p.Attributes["k"] == "v2"
		}
	}
	if !sawCount || !sawHist {
		t.Errorf("decoded points %+v", pts)
	}
	if ra := exports[0].resourceAttrs(); len(ra) != 1 || ra[0]["service.name"] != "e2e-otlp-metrics" {
		t.Errorf("resource %v", ra)
	}
	if !bytes.Contains(exports[0].Raw, []byte("e2e-otlp-metrics")) {
		t.Error("the raw bytes do not contain the service name")
	}
}
