package otelsetup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"slices"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
)

// newResource describes this process: the SDK's own attributes and
// OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES, overridden by what the
// configuration says. Ours is schemaless so that merging it never meets a
// schema-URL conflict with the SDK's. (resource.Default is not used: it is
// computed once per process, whatever the environment is later.)
func newResource(ctx context.Context, opts *Options) (*resource.Resource, error) {
	env, err := resource.New(ctx, resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	set := env.Set()
	kv := make([]attribute.KeyValue, 0, 4+len(opts.ResourceFromEnv))
	switch name, ok := set.Value("service.name"); {
	case opts.ServiceName != "":
		kv = append(kv, attribute.String("service.name", opts.ServiceName))
	case !ok || name.AsString() == "":
		kv = append(kv, attribute.String("service.name", "mcpgate"))
	}
	if opts.ServiceVersion != "" {
		kv = append(kv, attribute.String("service.version", opts.ServiceVersion))
	}
	if _, ok := set.Value("service.instance.id"); !ok {
		kv = append(kv, attribute.String("service.instance.id", newUUID()))
	}
	names := make([]string, 0, len(opts.ResourceFromEnv))
	for n := range opts.ResourceFromEnv {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			kv = append(kv, attribute.String(opts.ResourceFromEnv[n], v))
		}
	}
	return resource.Merge(env, resource.NewSchemaless(kv...))
}

// newUUID returns a random (version 4) UUID: service.instance.id must tell
// replicas apart, and differ across restarts of one.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
