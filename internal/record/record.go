package record

import (
	"context"
	"time"

	"github.com/mcpgate/mcpgate/internal/identity"
)

// Outcome reasons set by the gateway itself (as opposed to a JSON-RPC error
// code or a tool error reported by the backend). They become error.type.
const (
	ReasonBodyTooLarge        = "body_too_large"
	ReasonHeadersTooLarge     = "headers_too_large"
	ReasonParseError          = "parse_error"
	ReasonInvalidRequest      = "invalid_request"
	ReasonHeaderMismatch      = "header_mismatch"
	ReasonUnsupportedVersion  = "unsupported_protocol_version"
	ReasonOriginRejected      = "origin_rejected"
	ReasonSessionNotFound     = "session_not_found"
	ReasonSessionLimit        = "session_limit"
	ReasonMethodNotAllowed    = "method_not_allowed"
	ReasonNotAcceptable       = "not_acceptable"
	ReasonUpstreamUnavailable = "upstream_unavailable"
	ReasonUpstreamTimeout     = "upstream_timeout"
	ReasonUpstreamError       = "upstream_error"
	ReasonStreamClosed        = "stream_closed_without_response"
	ReasonPanic               = "internal_error"
	ReasonClientCanceled      = "client_canceled"
	ReasonToolError           = "tool_error"
	ReasonUnauthenticated     = "unauthenticated"   // 401: no, or no valid, credential
	ReasonForbidden           = "forbidden"         // 403: authenticated but lacking a required scope
	ReasonAuthUnavailable     = "auth_unavailable"  // 503: the identity provider's keys are not available yet
	ReasonAuditUnavailable    = "audit_unavailable" // 503: audit.failClosed and the audit sink is failing
)

// Op is one JSON-RPC message of a request body and what became of it.
type Op struct {
	Kind     string // request, notification, result, error (jsonrpc.Kind names)
	Method   string
	ID       string // the raw JSON id, e.g. `7` or `"a"`; empty when absent
	Name     string // tool or prompt name (tools/call, prompts/get)
	URI      string // resource URI (resources/*)
	Progress bool   // the request asked for progress notifications

	// Outcome, set by the relay from the backend's response.
	Answered     bool   // a response with this id was seen
	RPCErrorCode int64  // when the response was a JSON-RPC error
	RPCError     string // its message
	HasRPCError  bool
	ToolError    bool // result.isError was true

	// TraceParent and TraceState are the W3C trace context the message
	// carried in params._meta, as sent. Telemetry makes them the parent of
	// the message's span (or, for a rejected request, a link); they never
	// become attributes.
	TraceParent, TraceState string
}

// Record is what the gateway learns about one HTTP request. Stages fill it
// in from the handler goroutine only, so it needs no lock: observe reads it
// after the inner handlers have returned.
type Record struct {
	Start time.Time

	// HTTP facts.
	HTTPMethod   string
	Proto        string // HTTP version: "1.1", "2", …
	ClientAddr   string // the immediate peer, or a trusted proxy's forwarded client
	ClientPort   int    // the immediate peer's port; 0 when unknown or when ClientAddr is not the peer
	Status       int
	BytesIn      int64
	BytesOut     int64
	SSE          bool // the response was an event stream
	StreamEvents int  // SSE events relayed
	LastEventID  bool // the request resumed a stream

	// TraceParent and TraceState are the W3C trace context headers the
	// caller sent (see Op.TraceParent for the _meta ones).
	TraceParent, TraceState string

	// MCP facts from inspect.
	ProtocolVersion string
	SessionID       string
	ClientName      string
	ClientVersion   string
	Batch           bool
	Ops             []Op
	ops             [1]Op // backing array for the common single-message case

	// Identity is the authenticated principal (set by authn); nil when the
	// request was not authenticated.
	Identity *identity.Identity

	// Route.
	Backend string

	// Reason is the gateway's own error reason (one of the Reason constants),
	// empty when the gateway itself saw nothing wrong.
	Reason string
	// Detail explains Reason for the log; never sent to clients verbatim
	// unless the stage that set it says so.
	Detail string

	// Telemetry is internal/telemetry's per-request state (the spans it
	// started), which its trace stage leaves here for its reporter and the
	// relays' client spans; no other package touches it. It is an any
	// because record sits below telemetry in the import graph.
	Telemetry any
}

// NewOps returns r.Ops sized n, reusing the record's inline storage when n is 1.
func (r *Record) NewOps(n int) []Op {
	if n == 1 {
		r.ops[0] = Op{}
		r.Ops = r.ops[:1]
	} else {
		r.Ops = make([]Op, n)
	}
	return r.Ops
}

// Fail records the gateway's reason for failing the request, keeping the
// first one: a later stage must not overwrite the root cause.
func (r *Record) Fail(reason, detail string) {
	if r.Reason == "" {
		r.Reason = reason
		r.Detail = detail
	}
}

// OpByID returns the request op whose raw JSON id equals id, or nil.
func (r *Record) OpByID(id []byte) *Op {
	for i := range r.Ops {
		if r.Ops[i].ID != "" && r.Ops[i].ID == string(id) {
			return &r.Ops[i]
		}
	}
	return nil
}

type ctxKey struct{}

// NewContext returns ctx carrying rec.
func NewContext(ctx context.Context, rec *Record) context.Context {
	return context.WithValue(ctx, ctxKey{}, rec)
}

// FromContext returns the request's record, or nil outside the chain.
func FromContext(ctx context.Context) *Record {
	rec, _ := ctx.Value(ctxKey{}).(*Record)
	return rec
}
