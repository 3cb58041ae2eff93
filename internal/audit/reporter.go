package audit

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mcpgate/mcpgate/internal/credmask"
	"github.com/mcpgate/mcpgate/internal/record"
)

// PrincipalMode says how events name the authenticated principal.
type PrincipalMode string

const (
	// PrincipalRaw: subject, issuer and auth method.
	PrincipalRaw PrincipalMode = "raw"
	// PrincipalHashed: the keyed pseudonym of (issuer, subject), its key
	// id, and the auth method; never the subject or issuer.
	PrincipalHashed PrincipalMode = "hashed"
)

// ReportOptions configure a Reporter. Zero fields take the defaults noted.
type ReportOptions struct {
	// Principal is raw or hashed; "" means raw.
	Principal PrincipalMode
	// Hash returns the pseudonym of a principal and the id of the key
	// that made it (pseudonym.Pseudonymizer.Hash). Required with
	// PrincipalHashed.
	Hash func(issuer, subject string) (hash, keyID string)
	// Capture turns on request/response capture; off when zero.
	Capture CaptureOptions
	// SpanContext returns the SERVER span of message op of rec (op is -1
	// for a request without messages), whose ids join the event to its
	// trace. The ids are there whether or not the span was sampled. nil
	// means trace.SpanContextFromContext(ctx) for every message, which
	// only finds a span when one is in the reporter's context.
	SpanContext func(ctx context.Context, rec *record.Record, op int) trace.SpanContext
	// Redactor masks credentials in error texts and captured bodies; nil
	// means credmask (the redactor tool arguments go through too).
	Redactor Redactor
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// RateLimitRules are the names of rateLimits.rules in order: a
	// message's decision names its rule by index (record.RateLimit).
	RateLimitRules []string
}

// CaptureOptions turn on capturing the messages' bodies, redacted and
// capped, into the events' request and response members.
type CaptureOptions struct {
	Requests  bool // the client's JSON-RPC message
	Responses bool // the JSON-RPC response to it
	// MaxBytes caps each captured body after redaction; 0 means 4096.
	MaxBytes int
}

// Redactor removes credentials. RedactJSON returns the JSON value raw
// with sensitive members redacted and credential-looking strings masked,
// as valid JSON of at most limit bytes. MaskString masks credentials in a
// free text and bounds its length.
type Redactor interface {
	RedactJSON(raw []byte, limit int) string
	MaskString(s string) string
}

type telemetryRedactor struct{}

func (telemetryRedactor) RedactJSON(raw []byte, limit int) string {
	return credmask.RedactJSON(raw, limit)
}
func (telemetryRedactor) MaskString(s string) string { return credmask.MaskString(s) }

// Reporter builds the events of each request from its record when the
// request ends, and logs them. It implements observe.Reporter.
type Reporter struct {
	l       *Logger
	hashed  bool
	hash    func(issuer, subject string) (string, string)
	capture CaptureOptions
	spanCtx func(ctx context.Context, rec *record.Record, op int) trace.SpanContext
	red     Redactor
	now     func() time.Time
	rules   []string
}

// Reporter returns the reporter that feeds l.
func (l *Logger) Reporter(opts ReportOptions) (*Reporter, error) {
	r := &Reporter{l: l, hash: opts.Hash, capture: opts.Capture, spanCtx: opts.SpanContext, red: opts.Redactor, now: opts.Now, rules: opts.RateLimitRules}
	switch opts.Principal {
	case "", PrincipalRaw:
	case PrincipalHashed:
		if opts.Hash == nil {
			return nil, errors.New("audit: principal hashed requires pseudonymization keys")
		}
		r.hashed = true
	default:
		return nil, errors.New("audit: unknown principal mode " + string(opts.Principal))
	}
	if r.capture.MaxBytes <= 0 {
		r.capture.MaxBytes = 4096
	}
	if r.spanCtx == nil {
		r.spanCtx = func(ctx context.Context, _ *record.Record, _ int) trace.SpanContext {
			return trace.SpanContextFromContext(ctx)
		}
	}
	if r.red == nil {
		r.red = telemetryRedactor{}
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r, nil
}

// Report logs the events of rec: one per message, or one for a request
// the gateway rejected, or one for a request without messages (GET
// stream, DELETE).
func (r *Reporter) Report(ctx context.Context, rec *record.Record) {
	end := r.now()
	var capt *capture
	if r.capture.Requests || r.capture.Responses {
		capt = captureKey.Get(rec)
		captureKey.Set(rec, nil)
	}
	var principal Principal
	e := Event{
		Time:       end,
		Client:     Client{Address: rec.ClientAddr, Name: rec.ClientName, Version: rec.ClientVersion},
		Backend:    rec.Backend,
		HTTP:       HTTP{Method: rec.HTTPMethod, Status: rec.Status},
		DurationMs: float64(end.Sub(rec.Start).Microseconds()) / 1000,
	}
	e.MCP.ProtocolVersion = rec.ProtocolVersion
	if rec.SessionID != "" {
		e.MCP.SessionRef = SessionRef(rec.SessionID)
	}
	if id := rec.Identity; id != nil {
		principal.Method = string(id.Method)
		if r.hashed {
			principal.Hash, principal.KeyID = r.hash(id.Issuer, id.Subject)
		} else {
			principal.Subject, principal.Issuer = id.Subject, id.Issuer
		}
	}
	if rec.Reason.Rejection() && !answered(rec) {
		r.reportRejected(ctx, rec, capt, e, principal, rec.Identity != nil)
		return
	}
	// ev, principal and er stay on the stack on this path (Log encodes the
	// event and keeps none of it): ev is a variable of its own because the
	// rejected path's event leaks to the heap (the fold keeps events), and
	// escape analysis would take everything ever stored in e with it.
	ev := e
	if rec.Identity != nil {
		ev.Principal = &principal
	}
	var er Error
	if len(rec.Ops) == 0 {
		ev.Event = requestKind(rec)
		if ev.Outcome = r.requestOutcome(rec, &er); er.Type != "" {
			ev.Error = &er
		}
		r.log(ctx, rec, -1, &ev)
		return
	}
	mcp := ev.MCP
	for i := range rec.Ops {
		op := &rec.Ops[i]
		ev.MCP = mcp
		setOp(&ev.MCP, op)
		ev.RateLimit = r.rateLimit(op)
		ev.Event = opKind(op)
		ev.Authz = authzOf(op.Authz)
		er = Error{}
		ev.Error = nil
		if ev.Outcome = r.opOutcome(rec, op, &er); er.Type != "" {
			ev.Error = &er
		}
		ev.Request, ev.Response = nil, nil
		r.captureInto(&ev, capt, rec, i)
		r.log(ctx, rec, i, &ev)
	}
}

// reportRejected logs the one event of a request the gateway rejected,
// whatever it carried.
func (r *Reporter) reportRejected(ctx context.Context, rec *record.Record, capt *capture, e Event, principal Principal, hasPrincipal bool) {
	var er Error
	if hasPrincipal {
		e.Principal = &principal
	}
	e.Event = KindRejected
	e.Outcome = r.requestOutcome(rec, &er)
	e.Error = &er
	if op := rec.RateLimited(); op != nil {
		// A batch's one event names the message that was limited.
		e.RateLimit = r.rateLimit(op)
	}
	op := -1
	if len(rec.Ops) == 1 {
		op = 0
		setOp(&e.MCP, &rec.Ops[0])
		r.captureInto(&e, capt, rec, 0)
	}
	e.Authz = deniedAuthz(rec)
	sc := r.spanCtx(ctx, rec, op)
	e.TraceID, e.SpanID = sc.TraceID(), sc.SpanID()
	r.l.logRejected(&e)
}

func (r *Reporter) log(ctx context.Context, rec *record.Record, op int, e *Event) {
	sc := r.spanCtx(ctx, rec, op)
	e.TraceID, e.SpanID = sc.TraceID(), sc.SpanID()
	r.l.Log(e)
}

// rateLimit is op's rate-limit decision; zero when no rule covered op.
func (r *Reporter) rateLimit(op *record.Op) RateLimit {
	if op.RateLimit.Decision == record.RateLimitNone {
		return RateLimit{}
	}
	return RateLimit{Decision: op.RateLimit.Decision.String(), Rule: op.RateLimit.RuleName(r.rules)}
}

// authzOf is the event's form of a decision.
func authzOf(a *record.Authz) *Authz {
	if a == nil {
		return nil
	}
	return &Authz{Decision: a.Effect.String(), Mode: a.Mode, Policies: a.Policies, ItemsDenied: a.ItemsDenied}
}

// deniedAuthz is the decision a rejected request's one event carries: the
// first denial (a denied batch is refused whole), else the only message's.
func deniedAuthz(rec *record.Record) *Authz {
	for i := range rec.Ops {
		if a := rec.Ops[i].Authz; a != nil && a.Effect == record.AuthzDeny {
			return authzOf(a)
		}
	}
	if len(rec.Ops) == 1 {
		return authzOf(rec.Ops[0].Authz)
	}
	return nil
}

func setOp(m *MCP, op *record.Op) {
	m.Method = op.Method
	m.ID = RawID(op.ID)
	switch op.Method {
	case "tools/call":
		m.Tool = op.Name
	case "prompts/get":
		m.Prompt = op.Name
	}
	m.Resource = op.URI
}

// answered reports whether a backend answered any message of rec.
func answered(rec *record.Record) bool {
	for i := range rec.Ops {
		if rec.Ops[i].Answered {
			return true
		}
	}
	return false
}

// SessionRef is the audit log's name for a session id: the first 16 hex
// digits of its SHA-256, the same ref spans and log lines carry
// (record.SessionRef). Investigators holding a session id (from a
// client's logs, say) compute it the same way:
//
//	printf %s "$SESSION_ID" | sha256sum | cut -c1-16
func SessionRef(sessionID string) string { return record.SessionRef(sessionID) }
