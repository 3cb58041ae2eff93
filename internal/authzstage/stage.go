package authzstage

import (
	"net/http"
	"strconv"

	"github.com/mcpgate/mcpgate/internal/authz"
	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// CodeAccessDenied is the JSON-RPC error code of a denied message. JSON-RPC
// leaves -32000..-32099 to implementations; mcpgate uses -32000 for its
// backend failures and -32001 for an unknown session, so a denial gets a
// code of its own that a client can tell apart.
const CodeAccessDenied = -32003

// StatusDenied is the HTTP status of a refused request: 403, so that the
// denial is an error every MCP client surfaces (docs/authorization.md).
const StatusDenied = http.StatusForbidden

// DefaultMaxListBytes bounds the list response (a JSON body, or one SSE
// event) the filter holds to rewrite it.
const DefaultMaxListBytes = 8 << 20

// Options configure the stage.
type Options struct {
	// Engine decides; nil or mode off makes the stage a pass-through.
	Engine *authz.Engine
	// Backend names the one relayed backend (relay mode).
	Backend string
	// BackendOf, when set (aggregating mode), names the backend a tool,
	// prompt or resource name belongs to; "" when none.
	BackendOf func(name string) string
	// Catalog holds the tool annotations the filter saw in tools/list
	// results, for the tools/call decisions; nil: a new one.
	Catalog *authz.Catalog
	// MaxListBytes bounds a list response held for filtering; 0:
	// DefaultMaxListBytes.
	MaxListBytes int
}

// Stage is the authz stage.
type Stage struct {
	o        Options
	mode     string
	admitted *record.Authz // shared by every message admitted by default
}

// New returns the stage.
func New(o Options) *Stage {
	if o.Catalog == nil {
		o.Catalog = new(authz.Catalog)
	}
	if o.MaxListBytes <= 0 {
		o.MaxListBytes = DefaultMaxListBytes
	}
	s := &Stage{o: o}
	if o.Engine != nil {
		s.mode = o.Engine.Mode().String()
		s.admitted = &record.Authz{Effect: record.AuthzAllow, Mode: s.mode}
	}
	return s
}

// Engine returns the stage's engine (nil when none).
func (s *Stage) Engine() *authz.Engine {
	if s == nil {
		return nil
	}
	return s.o.Engine
}

// Catalog returns the stage's tool-annotation catalog.
func (s *Stage) Catalog() *authz.Catalog { return s.o.Catalog }

func (s *Stage) on() bool { return s != nil && s.o.Engine != nil && s.o.Engine.Mode() != authz.ModeOff }

// backendOf names the backend of a target name.
func (s *Stage) backendOf(name string) string {
	if s.o.BackendOf != nil {
		return s.o.BackendOf(name)
	}
	return s.o.Backend
}

// Middleware returns the stage as a request-path stage.
func (s *Stage) Middleware(next http.Handler) http.Handler {
	if !s.on() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := inspect.FromContext(r.Context())
		rec := record.FromContext(r.Context())
		if req == nil || rec == nil || len(rec.Ops) != len(req.Body.Messages) {
			// GET streams and DELETE carry no client request to decide.
			next.ServeHTTP(w, r)
			return
		}
		p := s.o.Engine.Principal(rec.Identity)
		client := authz.Client{ProtocolVersion: rec.ProtocolVersion, Name: rec.ClientName}
		if client.ProtocolVersion == "" {
			client.ProtocolVersion = req.Version
		}
		var lists []pending
		denied := false
		for i := range req.Body.Messages {
			m := &req.Body.Messages[i]
			op := &rec.Ops[i]
			switch m.Kind {
			case jsonrpc.KindNotification:
				op.Authz = s.admitted
				continue
			case jsonrpc.KindRequest:
			default:
				continue // a client's response to a server request
			}
			if _, _, _, ok := authz.ListAction(m.Method); ok {
				lists = append(lists, pending{id: string(m.ID.Bytes(req.Raw)), method: m.Method, op: i})
			}
			if authz.Admitted(m.Method) {
				op.Authz = s.admitted
				continue
			}
			d := s.o.Engine.Decide(p, s.request(m, req.Raw, client))
			op.Authz = &record.Authz{Effect: record.AuthzEffect(d.Effect), Mode: s.mode, Evaluated: true, Policies: d.Policies}
			if !d.Allowed() {
				denied = true
			}
		}
		if denied {
			s.deny(w, req, rec)
			return
		}
		if len(lists) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		fw := s.newFilter(w, rec, p, client, lists)
		next.ServeHTTP(fw, r)
		fw.finish()
	})
}

// request is the decision request for message m of body raw.
func (s *Stage) request(m *jsonrpc.Message, raw []byte, c authz.Client) authz.Request {
	r := authz.Request{Method: m.Method, Client: c}
	var params authz.RequestParams
	if m.Params.Present() {
		params = authz.ReadParams(m.Method, m.Params.Bytes(raw))
	}
	r.Arguments = params.Arguments
	switch authz.KindFor(m.Method) {
	case authz.KindTool:
		b := s.backendOf(m.Name)
		ann, _ := s.o.Catalog.Annotations(b, m.Name)
		r.Target = authz.Target{Kind: authz.KindTool, Name: m.Name, Backend: b, Annotations: ann}
	case authz.KindPrompt:
		r.Target = authz.Target{Kind: authz.KindPrompt, Name: m.Name, Backend: s.backendOf(m.Name)}
	case authz.KindResource:
		r.Target = authz.Target{Kind: authz.KindResource, Name: m.URI, Backend: s.backendOf(m.URI)}
	default:
		if m.Method == "completion/complete" && params.Ref.Kind != authz.KindDefault {
			r.Target = params.Ref
			r.Target.Backend = s.backendOf(r.Target.Name)
		} else {
			r.Target = authz.Target{Kind: authz.KindBackend, Backend: s.o.Backend}
		}
	}
	return r
}

// deny answers a request holding a denied message: nothing of it reaches
// the backend. A batch is refused whole (its messages may depend on each
// other, and a partial relay would need the relay to merge answers): each
// denied request gets an access-denied error, each other request an error
// saying it was not sent.
func (s *Stage) deny(w http.ResponseWriter, req *inspect.Request, rec *record.Record) {
	var body []byte
	n := 0
	first := ""
	if req.Body.Batch {
		body = append(body, '[')
	}
	for i := range req.Body.Messages {
		m := &req.Body.Messages[i]
		op := &rec.Ops[i]
		if m.Kind != jsonrpc.KindRequest {
			continue
		}
		msg := "not sent: another message of the batch was denied"
		if op.Authz != nil && op.Authz.Effect == record.AuthzDeny {
			msg = deniedMessage(m)
			if first == "" {
				first = m.Method
			}
		}
		if n > 0 {
			body = append(body, ',')
		}
		n++
		body = mcpwire.AppendError(body, m.ID.Bytes(req.Raw), CodeAccessDenied, msg)
	}
	if req.Body.Batch {
		body = append(body, ']')
	}
	// The detail names the method only: the log line must not carry the
	// principal, and the policies are on the op.
	rec.Fail(record.ReasonAccessDenied, "authz: "+first+" denied by policy")
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(StatusDenied)
	_, _ = w.Write(body)
}

// maxShownTarget bounds the target echoed in an error: it is the client's
// own input, but an error message is no place for a megabyte of it.
const maxShownTarget = 256

// deniedMessage names the method and target and says access is denied,
// never why: the policy text and ids are the operator's.
func deniedMessage(m *jsonrpc.Message) string {
	target := m.Name
	if authz.KindFor(m.Method) == authz.KindResource {
		target = m.URI
	}
	if target == "" {
		return "access denied: " + m.Method
	}
	if len(target) > maxShownTarget {
		target = target[:maxShownTarget] + "…"
	}
	return "access denied: " + m.Method + " " + strconv.Quote(target)
}
