package record

import (
	"context"
	"time"

	"github.com/mcpgate/mcpgate/internal/identity"
)

// Op is one JSON-RPC message of a request body and what became of it.
type Op struct {
	Kind OpKind
	// RateLimit is the rate-limit stage's decision (it sits next to Kind,
	// in what would be padding).
	RateLimit RateLimit
	Method    string
	ID        string // the raw JSON id, e.g. `7` or `"a"`; empty when absent
	Name      string // tool or prompt name (tools/call, prompts/get)
	URI       string // resource URI (resources/*)
	Progress  bool   // the request asked for progress notifications

	// Outcome, set by the relay from the backend's response (Record.Answer).
	// The flags sit together (with Progress) in one word: apart, each pads
	// to a word and the record outgrows its allocation size class.
	Answered  bool     // a response with this id was seen
	ToolError bool     // result.isError was true
	Error     RPCError // the JSON-RPC error it was answered with, if any

	// Authz is the authorization decision on the message (the authz
	// stage); nil when authorization is off. A pointer: most records have
	// none, and an inline value would push Record past its size class.
	Authz *Authz

	// TraceParent and TraceState are the W3C trace context the message
	// carried in params._meta, as sent. Telemetry makes them the parent of
	// the message's span (or, for a rejected request, a link); they never
	// become attributes.
	TraceParent, TraceState string
}

// AuthzEffect is an authorization decision's effect: the value of
// mcpgate.authz.decision.
type AuthzEffect uint8

const (
	AuthzAllow AuthzEffect = iota
	AuthzDeny
	// AuthzShadowDeny: the policies deny it; shadow mode let it through.
	AuthzShadowDeny
)

func (e AuthzEffect) String() string {
	switch e {
	case AuthzDeny:
		return "deny"
	case AuthzShadowDeny:
		return "shadow_deny"
	}
	return "allow"
}

// Authz is the authorization decision on one message. It names no
// principal: only the effect, the mode and the determining policies' ids.
// Values may be shared between records (the default admissions): never
// modify one in place.
type Authz struct {
	Effect AuthzEffect
	Mode   string // authz.mode: shadow or enforce
	// Evaluated is false for a message admitted by default (lifecycle,
	// notifications, list methods, whose results are filtered instead).
	Evaluated bool
	// Policies are the ids of the determining policies (Cedar @id, else
	// file:line): the forbids that matched on a deny, the permits that
	// matched on an allow; empty when no policy permitted it.
	Policies []string
	// ItemsDenied is, for a list request whose result was filtered, the
	// number of items the policies deny: removed in enforce mode, left in
	// (what enforce would remove) in shadow mode.
	ItemsDenied int
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
	StreamEvents int  // SSE events relayed
	SSE          bool // the response was an event stream
	LastEventID  bool // the request resumed a stream
	// Batch (an MCP fact: the body was a JSON-RPC batch) sits with the
	// other flags: apart, each pads to a word and the record outgrows its
	// allocation size class.
	Batch bool

	// TraceParent and TraceState are the W3C trace context headers the
	// caller sent (see Op.TraceParent for the _meta ones).
	TraceParent, TraceState string

	// MCP facts from inspect.
	ProtocolVersion string
	SessionID       string
	ClientName      string
	ClientVersion   string
	Ops             []Op
	ops             [1]Op // backing array for the common single-message case

	// Identity is the authenticated principal (set by authn); nil when the
	// request was not authenticated.
	Identity *identity.Identity

	// Route.
	Backend string

	// Reason is the gateway's own error reason (one of the Reason constants),
	// empty when the gateway itself saw nothing wrong.
	Reason Reason
	// Detail explains Reason for the log; never sent to clients verbatim
	// unless the stage that set it says so.
	Detail string

	// slots hold the reporters' per-request state (see Key).
	slots [maxSlots]any
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
func (r *Record) Fail(reason Reason, detail string) {
	if r.Reason == "" {
		r.Reason = reason
		r.Detail = detail
	}
}

// FailBackend records a backend's failure: Fail, and the backend it blames
// when the record names none yet (the metrics count upstream reasons
// against it).
func (r *Record) FailBackend(e *BackendError, detail string) {
	r.Fail(e.Reason, detail)
	if r.Backend == "" {
		r.Backend = e.Backend
	}
}

// RequestID is the raw id of the request the record holds when it holds
// exactly one request (not in a batch), else nil: an error about the whole
// HTTP request answers that request, with its id echoed as JSON-RPC and
// MCP want; a batch, a notification or a client's response gets a null id.
func (r *Record) RequestID() []byte {
	if r.Batch || len(r.Ops) != 1 || r.Ops[0].Kind != OpRequest || r.Ops[0].ID == "" {
		return nil
	}
	return []byte(r.Ops[0].ID)
}

// Unanswered reports whether a request of the record still awaits its
// response.
func (r *Record) Unanswered() bool {
	for i := range r.Ops {
		if r.Ops[i].Kind == OpRequest && !r.Ops[i].Answered {
			return true
		}
	}
	return false
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
