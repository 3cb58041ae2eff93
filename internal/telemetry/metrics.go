package telemetry

import (
	"context"
	"errors"
	"iter"
	"slices"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/mcpgate/mcpgate/internal/record"
)

// Instrument names.
const (
	MetricServerOperationDuration = "mcp.server.operation.duration"
	MetricClientOperationDuration = "mcp.client.operation.duration"
	MetricServerSessionDuration   = "mcp.server.session.duration"
	MetricAuthFailures            = "mcpgate.auth.failures"
	MetricUpstreamErrors          = "mcpgate.upstream.errors"
	MetricJWKSFetches             = "mcpgate.jwks.fetches"
	MetricStdioRestarts           = "mcpgate.stdio.restarts"
	MetricSessionsActive          = "mcpgate.sessions.active"
	MetricAuditDropped            = "mcpgate.audit.dropped"
	MetricAuditErrors             = "mcpgate.audit.errors"
	MetricAuditFolded             = "mcpgate.audit.rejected.folded"
	MetricAuthzDecisions          = "mcpgate.authz.decisions"
)

// DurationBuckets are the MCP conventions' histogram boundaries, in seconds.
var DurationBuckets = []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300}

// allowedKeys lists, per instrument, the only attribute keys it may carry;
// the SDK setup installs them as views (attribute.NewAllowKeysFilter), a
// second fence behind the typed attribute structs below — or, for the
// instruments fencedAtSource, setCache applies them as it builds each set.
var allowedKeys = map[string][]attribute.Key{
	MetricServerOperationDuration: {keyMCPMethod, keyErrorType, keyRPCStatusCode, keyGenAIToolName, keyGenAIPromptName,
		keyGenAIOperation, keyMCPProtocolVersion, keyNetworkTransport, keyNetworkProtocolName, keyNetworkProtocolVersion, keyBackend},
	MetricClientOperationDuration: {keyMCPMethod, keyErrorType, keyRPCStatusCode, keyGenAIToolName, keyGenAIPromptName,
		keyGenAIOperation, keyMCPProtocolVersion, keyNetworkTransport, keyNetworkProtocolName, keyServerAddress, keyServerPort, keyBackend},
	MetricServerSessionDuration: {keyErrorType, keyMCPProtocolVersion, keyNetworkTransport, keyBackend},
	MetricAuthFailures:          {keyErrorType},
	MetricUpstreamErrors:        {keyBackend, keyErrorType},
	MetricJWKSFetches:           {keyOutcome},
	MetricStdioRestarts:         {keyBackend},
	MetricSessionsActive:        {keyBackend},
	MetricAuditDropped:          {keyErrorType},
	MetricAuditErrors:           {},
	MetricAuditFolded:           {},
	MetricRateLimitDecisions:    {keyRateLimitRule, keyRateLimitDecision},
	MetricRateLimitFallbacks:    {keyRateLimitRule, keyRateLimitOnStoreFailure},
	// No principal, no policy id: the decision and a bounded method.
	MetricAuthzDecisions: {keyAuthzDecision, keyMCPMethod},
}

// fencedAtSource are the instruments whose every attribute set is built
// (and cached, setCache) here and filtered by the instrument's allow-list
// as it is built, once per distinct set. A view's attribute filter would
// repeat that check on every measurement — hashing every attribute of the
// set again, a third of the cost of a recording — to the same effect.
var fencedAtSource = map[string]bool{
	MetricServerOperationDuration: true,
	MetricClientOperationDuration: true,
}

// FencedAtSource reports whether the instrument name's recordings carry
// only its AllowedKeys already: a view for it needs no attribute filter
// (internal/otelsetup installs none). Every other instrument needs one.
func FencedAtSource(name string) bool { return fencedAtSource[name] }

// AllowedKeys yields each instrument's name with the only attribute keys
// it may carry, for whoever builds the meter provider to install as views
// (internal/otelsetup does): the instrumentation imports no SDK.
func AllowedKeys() iter.Seq2[string, []attribute.Key] {
	return func(yield func(string, []attribute.Key) bool) {
		for name, keys := range allowedKeys {
			if !yield(name, slices.Clone(keys)) {
				return
			}
		}
	}
}

type instruments struct {
	serverOp, clientOp, session  metric.Float64Histogram
	authFailures, upstreamErrors metric.Int64Counter
	authzDecisions               metric.Int64Counter
	jwksFetches, stdioRestarts   metric.Int64Counter
	sessionsActive               metric.Int64UpDownCounter
}

func newInstruments(m metric.Meter) (*instruments, error) {
	var in instruments
	var errs [10]error
	buckets := metric.WithExplicitBucketBoundaries(DurationBuckets...)
	in.serverOp, errs[0] = m.Float64Histogram(MetricServerOperationDuration, metric.WithUnit("s"), buckets,
		metric.WithDescription("Duration of MCP operations the gateway served, from request received to response complete."))
	in.clientOp, errs[1] = m.Float64Histogram(MetricClientOperationDuration, metric.WithUnit("s"), buckets,
		metric.WithDescription("Duration of MCP operations the gateway sent to a backend."))
	in.session, errs[2] = m.Float64Histogram(MetricServerSessionDuration, metric.WithUnit("s"), buckets,
		metric.WithDescription("Duration of MCP sessions the gateway held for its clients."))
	in.authFailures, errs[3] = m.Int64Counter(MetricAuthFailures, metric.WithUnit("{request}"),
		metric.WithDescription("Requests rejected by authentication, by reason."))
	in.upstreamErrors, errs[4] = m.Int64Counter(MetricUpstreamErrors, metric.WithUnit("{request}"),
		metric.WithDescription("Requests that failed because of the backend (unreachable, timed out, broken stream)."))
	in.jwksFetches, errs[5] = m.Int64Counter(MetricJWKSFetches, metric.WithUnit("{fetch}"),
		metric.WithDescription("JWKS fetches from identity providers, by outcome."))
	in.stdioRestarts, errs[6] = m.Int64Counter(MetricStdioRestarts, metric.WithUnit("{restart}"),
		metric.WithDescription("Restarts of stdio backend processes after they exited."))
	in.sessionsActive, errs[7] = m.Int64UpDownCounter(MetricSessionsActive, metric.WithUnit("{session}"),
		metric.WithDescription("MCP sessions open, by backend."))
	in.authzDecisions, errs[9] = m.Int64Counter(MetricAuthzDecisions, metric.WithUnit("{message}"),
		metric.WithDescription("Authorization decisions on MCP messages, by decision and method."))
	return &in, errors.Join(errs[:]...)
}

// opAttrs are the attributes of one operation-duration recording. Only these
// typed fields, each mapped onto a bounded set by its caller, reach a
// metric: there is no way to add an arbitrary attribute.
type opAttrs struct {
	method, errorType, rpcCode string
	tool, prompt               string
	version                    string
	transport, protocol        string
	httpVersion                string // server operations only: the client's HTTP version
	backend                    string
	serverAddress              string // client operations
	serverPort                 int
}

// set returns a's attributes as a set, keeping only those allow accepts
// (nil: all).
func (a *opAttrs) set(allow attribute.Filter) attribute.Set {
	var buf [12]attribute.KeyValue
	kv := append(buf[:0], keyMCPMethod.String(a.method), keyNetworkTransport.String(a.transport))
	kv = appendIf(kv, keyErrorType, a.errorType)
	kv = appendIf(kv, keyRPCStatusCode, a.rpcCode)
	if a.tool != "" {
		kv = append(kv, keyGenAIToolName.String(a.tool), keyGenAIOperation.String(opExecuteTool))
	}
	kv = appendIf(kv, keyGenAIPromptName, a.prompt)
	kv = appendIf(kv, keyMCPProtocolVersion, a.version)
	kv = appendIf(kv, keyNetworkProtocolName, a.protocol)
	kv = appendIf(kv, keyNetworkProtocolVersion, a.httpVersion)
	kv = appendIf(kv, keyBackend, a.backend)
	kv = appendIf(kv, keyServerAddress, a.serverAddress)
	if a.serverPort > 0 {
		kv = append(kv, keyServerPort.Int(a.serverPort))
	}
	if allow != nil {
		kv = slices.DeleteFunc(kv, func(kv attribute.KeyValue) bool { return !allow(kv) })
	}
	return attribute.NewSet(kv...)
}

// setCache keeps the record options of one instrument's attribute sets
// seen so far. Every field of opAttrs is bounded, so the sets are few (the
// series the SDK keeps anyway), and building one — sorting it, hashing it,
// boxing the option — on every request is work the cache saves. Each set
// is filtered by the instrument's allow-list as it is built (see
// fencedAtSource). Past setCacheMax entries, sets are built each time
// instead of cached.
type setCache struct {
	allow attribute.Filter // the instrument's allowedKeys
	m     sync.Map         // opAttrs → []metric.RecordOption
	n     atomic.Int32
}

const setCacheMax = 4096

// newSetCache returns the cache of the instrument named name.
func newSetCache(name string) *setCache {
	return &setCache{allow: attribute.NewAllowKeysFilter(allowedKeys[name]...)}
}

func (c *setCache) options(a *opAttrs) []metric.RecordOption {
	if v, ok := c.m.Load(*a); ok {
		return v.([]metric.RecordOption)
	}
	opts := []metric.RecordOption{metric.WithAttributeSet(a.set(c.allow))}
	if c.n.Load() < setCacheMax {
		if _, loaded := c.m.LoadOrStore(*a, opts); !loaded {
			c.n.Add(1)
		}
	}
	return opts
}

// failureCache is setCache for the failure counters (mcpgate.auth.failures
// without a backend, mcpgate.upstream.errors with one): a flood of rejected
// requests or a backend outage counts every request, and building the set
// each time would allocate on each. Reasons come from record's table and
// backends from the configuration, so the sets are few; past setCacheMax
// they are built each time.
type failureCache struct {
	m sync.Map // failureKey → []metric.AddOption
	n atomic.Int32
}

type failureKey struct {
	backend string
	reason  record.Reason
}

func (c *failureCache) options(backend string, reason record.Reason) []metric.AddOption {
	k := failureKey{backend, reason}
	if v, ok := c.m.Load(k); ok {
		return v.([]metric.AddOption)
	}
	set := attribute.NewSet(keyErrorType.String(string(reason)))
	if backend != "" {
		set = attribute.NewSet(keyBackend.String(backend), keyErrorType.String(string(reason)))
	}
	opts := []metric.AddOption{metric.WithAttributeSet(set)}
	if c.n.Load() < setCacheMax {
		if _, loaded := c.m.LoadOrStore(k, opts); !loaded {
			c.n.Add(1)
		}
	}
	return opts
}

func appendIf(kv []attribute.KeyValue, k attribute.Key, v string) []attribute.KeyValue {
	if v == "" {
		return kv
	}
	return append(kv, k.String(v))
}

// fillOp sets the op-derived fields of a: the method from the spec's list,
// the tool or prompt name only when backend listed it.
func (t *Telemetry) fillOp(a *opAttrs, op *record.Op, backend string, o outcome) {
	a.method = boundMethod(op.Method)
	a.errorType, a.rpcCode = o.metricErrorType(), o.metricCode()
	if op.Name != "" {
		if k, ok := targetKind(op.Method); ok {
			name := other
			if t.catalog.known(backend, k, op.Name) {
				name = op.Name
			}
			if k == kindTool {
				a.tool = name
			} else {
				a.prompt = name
			}
		}
	}
}

// recordServer records the request's operations: one recording per request
// or notification message; a request rejected before it was parsed is one
// recording with method "_OTHER". GET streams, DELETE and client responses
// are not operations and are not recorded here (auth failures among them
// still count in mcpgate.auth.failures).
func (t *Telemetry) recordServer(ctx context.Context, rec *record.Record, seconds float64) {
	in := t.inst
	t.rl.record(ctx, rec)
	switch rec.Reason.Category() {
	case record.CategoryAuth:
		in.authFailures.Add(ctx, 1, t.failureSets.options("", rec.Reason)...)
	case record.CategoryUpstream:
		if rec.Backend != "" {
			in.upstreamErrors.Add(ctx, 1, t.failureSets.options(rec.Backend, rec.Reason)...)
		}
	}
	a := opAttrs{
		version:     boundVersion(rec.ProtocolVersion),
		transport:   transportTCP,
		protocol:    protocolHTTP,
		httpVersion: boundHTTPVersion(rec.Proto),
		backend:     rec.Backend,
	}
	if len(rec.Ops) == 0 {
		if httpKind(rec) != kindRejected {
			return
		}
		a.method = other
		a.errorType = requestOutcome(rec).metricErrorType()
		in.serverOp.Record(ctx, seconds, t.serverSets.options(&a)...)
		return
	}
	for i := range rec.Ops {
		op := &rec.Ops[i]
		if op.Kind != record.OpRequest && op.Kind != record.OpNotification {
			continue
		}
		if op.Authz != nil {
			in.authzDecisions.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(
				keyAuthzDecision.String(op.Authz.Effect.String()), keyMCPMethod.String(boundMethod(op.Method)))))
		}
		b := a
		t.fillOp(&b, op, rec.Backend, opOutcome(rec, op))
		in.serverOp.Record(ctx, seconds, t.serverSets.options(&b)...)
	}
}
