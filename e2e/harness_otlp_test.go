package e2e

// The OTLP sinks the gateway exports to in the tests (Jaeger, the real
// trace store, is in harness_jaeger_test.go): a metrics receiver that keeps
// every export decoded, a trace sink that counts and discards, and a black
// hole that accepts connections and never answers.

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
	"sync/atomic"
	"testing"
	"time"

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

// traceSink is an OTLP/HTTP trace receiver that counts and discards
// everything (as bench/otlpsink); the soak uses it: the gateway pays the whole cost of tracing, and no trace
// store runs on the machine. It closes every connection after its response,
// so that no idle exporter connection is counted in the gateway's
// goroutines at one measurement and not at the other.
type traceSink struct {
	srv             *http.Server
	addr            string
	requests, bytes atomic.Int64
}

func (s *traceSink) URL() string { return "http://" + s.addr }

// waitQuiet waits (bounded) until no export has arrived for twice the
// gateway's traces.batchTimeout (1s): the spans of the last requests have
// then left the gateway's span queue, whose contents (up to 2048 spans, a
// few MiB) would otherwise make the heap figure depend on when it is read.
func (s *traceSink) waitQuiet(t *testing.T, bound time.Duration) {
	t.Helper()
	const quiet = 2 * time.Second
	deadline := time.Now().Add(bound + quiet)
	last, since := s.requests.Load(), time.Now()
	for time.Since(since) < quiet {
		if time.Now().After(deadline) {
			t.Logf("the gateway still exported spans %v after the load ended", bound)
			return
		}
		time.Sleep(100 * time.Millisecond)
		if n := s.requests.Load(); n != last {
			last, since = n, time.Now()
		}
	}
}

// startTraceSink starts a traceSink on 127.0.0.1 until the test's cleanup.
func startTraceSink(t *testing.T) *traceSink {
	t.Helper()
	s := &traceSink{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		s.requests.Add(1)
		s.bytes.Add(n)
		// Zero bytes are an empty ExportTraceServiceResponse: all accepted.
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.srv.SetKeepAlivesEnabled(false)
	go func() { _ = s.srv.Serve(l) }()
	t.Cleanup(func() { _ = s.srv.Close() })
	return s
}

// blackhole is a TCP listener that accepts connections and never reads or
// answers: a collector that hangs.
type blackhole struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

// startBlackhole listens on 127.0.0.1 until the test's cleanup.
func startBlackhole(t *testing.T) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, c := range b.conns {
			c.Close()
		}
	})
	return b
}

// String is the listener's 127.0.0.1:PORT.
func (b *blackhole) String() string { return b.ln.Addr().String() }

// URL is the listener as an OTLP/HTTP endpoint.
func (b *blackhole) URL() string { return "http://" + b.String() }

// accepted is how many connections it has taken.
func (b *blackhole) accepted() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.conns)
}
