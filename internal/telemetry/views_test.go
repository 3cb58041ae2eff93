package telemetry

import (
	"strings"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// views are the allow-list views of AllowedKeys (none for the instruments
// FencedAtSource), with the MCP buckets for the duration histograms, as
// internal/otelsetup installs them (it cannot
// be imported here: it imports this package), so that the tests see the
// metrics an exporter would.
func views() []sdkmetric.View {
	var vs []sdkmetric.View
	for name, keys := range AllowedKeys() {
		var s sdkmetric.Stream
		if !FencedAtSource(name) {
			s.AttributeFilter = attribute.NewAllowKeysFilter(keys...)
		}
		if strings.HasSuffix(name, ".duration") {
			s.Aggregation = sdkmetric.AggregationExplicitBucketHistogram{Boundaries: DurationBuckets}
		}
		vs = append(vs, sdkmetric.NewView(sdkmetric.Instrument{Name: name}, s))
	}
	return vs
}
