package telemetry

import (
	"errors"
	"log/slog"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/mcpgate/mcpgate/internal/record"
)

// ScopeName is the instrumentation scope of every span and instrument.
const ScopeName = "github.com/mcpgate/mcpgate/internal/telemetry"

// Attribution appends the identity-derived attributes of a request (user.id,
// user.hash, …) to dst and returns it — append-style, like
// attribution.Attributor.Append, so that attributing a span allocates
// nothing. Telemetry applies it to the request's SERVER spans and to every
// CLIENT span made for it, when they end — never to a metric. It must append
// nothing for a record without an Identity, and must be quick: it runs once
// per span on the request's goroutine.
type Attribution func(dst []attribute.KeyValue, rec *record.Record) []attribute.KeyValue

// InstrumentOptions are the instrumentation's settings. Zero fields take the
// defaults noted.
type InstrumentOptions struct {
	// RecordToolArguments adds the redacted arguments of tools/call as
	// gen_ai.tool.call.arguments (opt-in: arguments are user data).
	RecordToolArguments bool
	// ToolArgumentsLimit caps that attribute, in bytes; default 4096.
	ToolArgumentsLimit int
	// RecordClientAddress adds client.address and client.port to SERVER
	// spans. Off when false (the configuration's default is true).
	RecordClientAddress bool
	// Attribution, when not nil, adds identity-derived attributes to spans.
	Attribution Attribution
	// RateLimitRules are the names of rateLimits.rules in order: a
	// message's decision names its rule by index (record.RateLimit).
	RateLimitRules []string
	// Logger receives the instrumentation's own problems; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Telemetry is the instrumentation of the request path. A nil *Telemetry is
// valid and does nothing, so callers need no "telemetry on?" checks.
type Telemetry struct {
	tracer  trace.Tracer
	meter   metric.Meter
	inst    *instruments
	catalog *Catalog
	opts    InstrumentOptions
	log     *slog.Logger
	// tracing is off with a no-op tracer provider: no span is started at
	// all (only metrics are recorded), and the caller's trace context passes
	// through to the backend untouched instead of being rewritten.
	tracing bool
	// The operation-duration histograms' attribute sets.
	serverSets, clientSets *setCache
	// The failure counters' attribute sets.
	failureSets failureCache
	rl          *rateLimits
}

// New returns the instrumentation using tp and mp (the SDK providers from
// Setup, or any others: a no-op provider turns that signal off).
func New(tp trace.TracerProvider, mp metric.MeterProvider, opts InstrumentOptions) (*Telemetry, error) {
	if tp == nil || mp == nil {
		return nil, errors.New("telemetry: nil tracer or meter provider")
	}
	if opts.ToolArgumentsLimit <= 0 {
		opts.ToolArgumentsLimit = 4096
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	meter := mp.Meter(ScopeName)
	inst, err := newInstruments(meter)
	if err != nil {
		return nil, err
	}
	rl, err := newRateLimits(meter, opts.RateLimitRules)
	if err != nil {
		return nil, err
	}
	_, noop := tp.(tracenoop.TracerProvider)
	return &Telemetry{
		rl:      rl,
		tracing: !noop,
		tracer:  tp.Tracer(ScopeName),
		meter:   meter,
		inst:    inst,
		catalog: NewCatalog(0),
		opts:    opts,
		log:     opts.Logger,

		serverSets: newSetCache(MetricServerOperationDuration),
		clientSets: newSetCache(MetricClientOperationDuration),
	}, nil
}

// Catalog returns the tool and prompt names learned from the backends; nil
// for a nil Telemetry (whose Learn does nothing).
func (t *Telemetry) Catalog() *Catalog {
	if t == nil {
		return nil
	}
	return t.catalog
}

// attribution appends the identity attributes of rec to kv.
func (t *Telemetry) attribution(kv []attribute.KeyValue, rec *record.Record) []attribute.KeyValue {
	if t.opts.Attribution == nil || rec == nil {
		return kv
	}
	return t.opts.Attribution(kv, rec)
}
