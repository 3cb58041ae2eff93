package aggregate

import (
	"context"
	"maps"
	"net/http"
	"reflect"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

// w3c reads and writes traceparent/tracestate, never baggage: identity and
// client-chosen values must not travel upstream.
var w3c = propagation.TraceContext{}

// metaCarrier is a params._meta map as a propagation carrier.
type metaCarrier map[string]any

func (m metaCarrier) Get(k string) string { s, _ := m[k].(string); return s }
func (m metaCarrier) Set(k, v string)     { m[k] = v }
func (m metaCarrier) Keys() []string      { return []string{"traceparent", "tracestate"} }

// extractParent is the SDK receiving middleware of the public server: the
// handler put the SERVER span's context into each request's params._meta
// before the SDK read the body (the SDK handles messages on its own
// goroutines, so the HTTP request's context does not reach the handlers);
// here it becomes the context's remote parent, so CLIENT spans started by
// the handlers are children of the SERVER span.
func extractParent(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if p := req.GetParams(); p != nil && !isNilParams(p) {
			if m := p.GetMeta(); len(m) > 0 {
				if sc := trace.SpanContextFromContext(w3c.Extract(context.Background(), metaCarrier(m))); sc.IsValid() {
					ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
				}
			}
		}
		return next(ctx, method, req)
	}
}

// injectMeta returns the SDK sending middleware of a backend's client: the
// CLIENT span in ctx goes upstream in params._meta (W3C keys), replacing
// whatever the downstream client had put there, where mcpwire.TraceMeta
// allows — never on initialize, and _meta is created only once the
// backend's session pins the era (see pinnedSession). Without a valid span
// (telemetry off, or a message sent outside a call) _meta is left alone.
// stdio: the backend is a child process, whose legacy initialize pins the
// era of everything after it.
func injectMeta(stdio bool) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
				// The SDK omits an empty Meta from the wire: only a non-empty
				// one is a _meta the peer sees.
				if p := req.GetParams(); p != nil && !isNilParams(p) &&
					mcpwire.TraceMeta(method, len(p.GetMeta()) > 0, pinnedSession(req, stdio)) {
					m := maps.Clone(p.GetMeta())
					if m == nil {
						m = map[string]any{}
					}
					delete(m, "tracestate")
					w3c.Inject(ctx, metaCarrier(m))
					p.SetMeta(m)
				}
			}
			return next(ctx, method, req)
		}
	}
}

// pinnedSession reports whether the backend knows req's era from outside
// its body: the client session completed a session-era initialize and, for
// an HTTP backend, holds the Mcp-Session-Id the backend assigned (a
// stateless legacy backend assigns none, so its requests are classified by
// their bodies alone).
func pinnedSession(req mcp.Request, stdio bool) bool {
	cs, _ := req.GetSession().(*mcp.ClientSession)
	if cs == nil {
		return false
	}
	ir := cs.InitializeResult()
	if ir == nil || mcpwire.Stateless(ir.ProtocolVersion) {
		return false
	}
	return stdio || cs.ID() != ""
}

// isNilParams reports a typed nil inside the Params interface, whose
// GetMeta would panic.
func isNilParams(p mcp.Params) bool {
	v := reflect.ValueOf(p)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// traceTransport is the HTTP client transport of HTTP backends: the
// backend's static headers, and the CLIENT span's context as W3C headers.
type traceTransport struct {
	base    http.RoundTripper
	headers http.Header
}

func (t *traceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	sc := trace.SpanContextFromContext(req.Context())
	if len(t.headers) == 0 && !sc.IsValid() {
		return t.base.RoundTrip(req)
	}
	req = req.Clone(req.Context()) // a RoundTripper must not modify its request
	for k, vs := range t.headers {
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	if sc.IsValid() {
		req.Header.Del("Tracestate")
		w3c.Inject(req.Context(), propagation.HeaderCarrier(req.Header))
	}
	return t.base.RoundTrip(req)
}
