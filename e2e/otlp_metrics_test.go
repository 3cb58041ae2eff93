package e2e

import (
	"bytes"
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
)

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
