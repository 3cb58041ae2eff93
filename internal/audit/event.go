package audit

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/trace"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

// Kind is an event's type: what the message (or request) was.
type Kind string

const (
	KindInitialize   Kind = "initialize"    // initialize request
	KindToolCall     Kind = "tool_call"     // tools/call
	KindToolsList    Kind = "tools_list"    // tools/list
	KindResourceRead Kind = "resource_read" // resources/read
	KindPromptGet    Kind = "prompt_get"    // prompts/get
	KindOtherRequest Kind = "other_request" // any other request
	KindNotification Kind = "notification"  // a client notification
	KindResponse     Kind = "response"      // the client's response to a server→client request
	KindStream       Kind = "stream"        // a GET stream (server→client messages)
	KindSessionEnd   Kind = "session_end"   // DELETE of a session
	KindRejected     Kind = "rejected"      // the gateway refused the request before any backend saw it
	// KindRejectedSummary (fold.go) stands for rejected events folded
	// under a flood.
)

// Outcome is how an event ended; docs/audit.md has the full table.
type Outcome string

const (
	// OutcomeSuccess: the operation completed and the backend reported no
	// error (no JSON-RPC error, no isError).
	OutcomeSuccess Outcome = "success"
	// OutcomeDenied: the caller was not allowed: no or no valid
	// credential (401), insufficient scope (403), a disallowed Origin, or
	// a session that is unknown or belongs to another principal (404).
	OutcomeDenied Outcome = "denied"
	// OutcomeFailure: the gateway or the backend failed: 5xx, upstream
	// unavailable or timed out, a stream that closed without a response,
	// a JSON-RPC server error, isError: true.
	OutcomeFailure Outcome = "failure"
	// OutcomeError: the client's request was at fault: malformed, over a
	// limit, an unsupported version, a JSON-RPC client error code from
	// the backend (-32700, -32600, -32601, -32602), or the client went away.
	OutcomeError Outcome = "error"
)

// Event is one audit record. The JSON names are those of
// docs/audit-event.schema.json; AppendJSON writes them without reflection,
// and the json tags make encoding/json produce the same document (a test
// checks that).
type Event struct {
	// Time is when the outcome was known (the request or message ended);
	// written in UTC, RFC 3339 with nanoseconds.
	Time    time.Time `json:"time"`
	Event   Kind      `json:"event"`
	Outcome Outcome   `json:"outcome"`
	// Principal is nil for a request without an authenticated principal.
	Principal *Principal `json:"principal,omitempty"`
	Client    Client     `json:"client,omitzero"`
	MCP       MCP        `json:"mcp,omitzero"`
	Backend   string     `json:"backend,omitempty"`
	// Authz is the authorization decision on the message; nil when
	// authorization is off (or for a request without messages).
	Authz *Authz `json:"authz,omitempty"`
	HTTP  HTTP   `json:"http"`
	// DurationMs is the request's duration in milliseconds (microsecond
	// precision); for a batch, every event carries the whole request's.
	DurationMs float64 `json:"durationMs"`
	Error      *Error  `json:"error,omitempty"`
	// RateLimit is the rate-limit decision on the message, when a rule
	// covered it (zero, and left out, otherwise).
	RateLimit RateLimit `json:"rateLimit,omitzero"`
	// TraceID and SpanID name the message's SERVER span; zero (and left
	// out) when tracing is off.
	TraceID trace.TraceID `json:"traceId,omitzero"`
	SpanID  trace.SpanID  `json:"spanId,omitzero"`
	// Request and Response are the captured, redacted bodies (opt-in):
	// JSON values, or a JSON string explaining why there is none.
	Request  json.RawMessage `json:"request,omitempty"`
	Response json.RawMessage `json:"response,omitempty"`
	// Folded and Since are a rejected_summary's: how many rejected
	// events of its reason were folded into it, in the window from Since
	// to Time. Zero (and left out) in every other event.
	Folded int64     `json:"folded,omitempty"`
	Since  time.Time `json:"since,omitzero"`
}

// Principal names the authenticated principal: Subject and Issuer in raw
// mode, Hash and KeyID in hashed mode; Method in both.
type Principal struct {
	Subject string `json:"subject,omitempty"`
	Issuer  string `json:"issuer,omitempty"`
	Hash    string `json:"hash,omitempty"`
	KeyID   string `json:"keyId,omitempty"`
	Method  string `json:"method,omitempty"`
}

// Client is the caller: its address (the peer, or the client a trusted
// proxy forwarded for) and what it said it is in initialize.
type Client struct {
	Address string `json:"address,omitempty"`
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
}

// MCP holds the message's protocol facts.
type MCP struct {
	Method string `json:"method,omitempty"`
	// ID is the JSON-RPC id exactly as sent (a JSON number or string).
	ID              RawID  `json:"id,omitempty"`
	Tool            string `json:"tool,omitempty"`
	Prompt          string `json:"prompt,omitempty"`
	Resource        string `json:"resource,omitempty"`
	ProtocolVersion string `json:"protocolVersion,omitempty"`
	// SessionRef is the first 16 hex digits of SHA-256(Mcp-Session-Id):
	// events of one session share it, and it cannot be used as the
	// session id (which is a capability).
	SessionRef string `json:"sessionRef,omitempty"`
}

// Authz is an authorization decision: its effect (allow, deny,
// shadow_deny), the mode it was made in and the ids of the determining
// policies. It names no principal.
type Authz struct {
	Decision string   `json:"decision"`
	Mode     string   `json:"mode"`
	Policies []string `json:"policies,omitempty"`
	// ItemsDenied is, for a filtered list, how many items the policies
	// deny (removed in enforce mode, left in in shadow mode).
	ItemsDenied int `json:"itemsDenied,omitempty"`
}

// HTTP is the HTTP exchange that carried the message.
type HTTP struct {
	Method string `json:"method"`
	Status int    `json:"status"`
}

// Error says what went wrong: the JSON-RPC error code and message, or the
// gateway's reason; Type is the span's error.type.
type Error struct {
	Code    *int64 `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	Type    string `json:"type"`
}

// RateLimit is a message's rate-limit decision: allowed, limited, or
// allowed_fallback / limited_fallback when the shared store was
// unreachable and onStoreFailure decided; and the rule that decided.
type RateLimit struct {
	Decision string `json:"decision"`
	Rule     string `json:"rule"`
}

// timeLayout is RFC 3339 with a fixed nine-digit fraction, so that lines
// sort as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// AppendJSON appends e as one line of JSON, newline included.
func (e *Event) AppendJSON(b []byte) []byte {
	b = append(b, `{"time":"`...)
	b = e.Time.UTC().AppendFormat(b, timeLayout)
	b = append(b, `","event":`...)
	b = jsonrpc.AppendQuote(b, string(e.Event))
	b = append(b, `,"outcome":`...)
	b = jsonrpc.AppendQuote(b, string(e.Outcome))
	if p := e.Principal; p != nil {
		b = append(b, `,"principal":{`...)
		o := obj{b: b}
		o.str("subject", p.Subject)
		o.str("issuer", p.Issuer)
		o.str("hash", p.Hash)
		o.str("keyId", p.KeyID)
		o.str("method", p.Method)
		b = append(o.b, '}')
	}
	if e.Client != (Client{}) {
		b = append(b, `,"client":{`...)
		o := obj{b: b}
		o.str("address", e.Client.Address)
		o.str("name", e.Client.Name)
		o.str("version", e.Client.Version)
		b = append(o.b, '}')
	}
	if m := &e.MCP; !m.zero() {
		b = append(b, `,"mcp":{`...)
		o := obj{b: b}
		o.str("method", m.Method)
		if m.ID != "" {
			o.key("id")
			o.b = appendID(o.b, string(m.ID))
		}
		o.str("tool", m.Tool)
		o.str("prompt", m.Prompt)
		o.str("resource", m.Resource)
		o.str("protocolVersion", m.ProtocolVersion)
		o.str("sessionRef", m.SessionRef)
		b = append(o.b, '}')
	}
	if e.Backend != "" {
		b = append(b, `,"backend":`...)
		b = jsonrpc.AppendQuote(b, e.Backend)
	}
	if a := e.Authz; a != nil {
		b = append(b, `,"authz":{"decision":`...)
		b = jsonrpc.AppendQuote(b, a.Decision)
		b = append(b, `,"mode":`...)
		b = jsonrpc.AppendQuote(b, a.Mode)
		if len(a.Policies) > 0 {
			b = append(b, `,"policies":[`...)
			for i, p := range a.Policies {
				if i > 0 {
					b = append(b, ',')
				}
				b = jsonrpc.AppendQuote(b, p)
			}
			b = append(b, ']')
		}
		if a.ItemsDenied != 0 {
			b = append(b, `,"itemsDenied":`...)
			b = strconv.AppendInt(b, int64(a.ItemsDenied), 10)
		}
		b = append(b, '}')
	}
	b = append(b, `,"http":{"method":`...)
	b = jsonrpc.AppendQuote(b, e.HTTP.Method)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.HTTP.Status), 10)
	b = append(b, `},"durationMs":`...)
	b = strconv.AppendFloat(b, e.DurationMs, 'f', -1, 64)
	if er := e.Error; er != nil {
		b = append(b, `,"error":{`...)
		o := obj{b: b}
		if er.Code != nil {
			o.key("code")
			o.b = strconv.AppendInt(o.b, *er.Code, 10)
		}
		o.str("message", er.Message)
		o.key("type")
		o.b = jsonrpc.AppendQuote(o.b, er.Type)
		b = append(o.b, '}')
	}
	if rl := &e.RateLimit; rl.Decision != "" {
		b = append(b, `,"rateLimit":{"decision":`...)
		b = jsonrpc.AppendQuote(b, rl.Decision)
		b = append(b, `,"rule":`...)
		b = jsonrpc.AppendQuote(b, rl.Rule)
		b = append(b, '}')
	}
	if e.TraceID.IsValid() {
		b = append(b, `,"traceId":"`...)
		b = appendHex(b, e.TraceID[:])
		b = append(b, '"')
	}
	if e.SpanID.IsValid() {
		b = append(b, `,"spanId":"`...)
		b = appendHex(b, e.SpanID[:])
		b = append(b, '"')
	}
	if len(e.Request) > 0 {
		b = append(b, `,"request":`...)
		b = appendRaw(b, e.Request)
	}
	if len(e.Response) > 0 {
		b = append(b, `,"response":`...)
		b = appendRaw(b, e.Response)
	}
	if e.Folded != 0 {
		b = append(b, `,"folded":`...)
		b = strconv.AppendInt(b, e.Folded, 10)
	}
	if !e.Since.IsZero() {
		b = append(b, `,"since":"`...)
		b = e.Since.UTC().AppendFormat(b, timeLayout)
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

// MarshalJSON is AppendJSON without the newline.
func (e *Event) MarshalJSON() ([]byte, error) {
	b := e.AppendJSON(nil)
	return b[:len(b)-1], nil
}

func (m *MCP) zero() bool {
	return m.Method == "" && m.ID == "" && m.Tool == "" && m.Prompt == "" && m.Resource == "" &&
		m.ProtocolVersion == "" && m.SessionRef == ""
}

// obj writes the members of an object whose optional members may all be
// absent, placing the commas.
type obj struct {
	b []byte
	n int
}

func (o *obj) key(k string) {
	if o.n > 0 {
		o.b = append(o.b, ',')
	}
	o.n++
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

func (o *obj) str(k, v string) {
	if v != "" {
		o.key(k)
		o.b = jsonrpc.AppendQuote(o.b, v)
	}
}

const hexDigits = "0123456789abcdef"

func appendHex(b, src []byte) []byte {
	for _, c := range src {
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return b
}

// appendID writes a JSON-RPC id as sent when it is a JSON number or string
// (the strict parser guarantees that for ids taken from a request), and as
// a JSON string otherwise, so that a malformed value can never break the
// line.
func appendID(b []byte, id string) []byte {
	if plainID(id) {
		return append(b, id...)
	}
	return jsonrpc.AppendQuote(b, id)
}

func plainID(id string) bool {
	if id == "" || len(id) > 256 {
		return false
	}
	if id[0] == '"' {
		if simpleString(id) {
			return true
		}
		_, ok := jsonrpc.UnquoteString([]byte(id))
		return ok
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			return false
		}
	}
	return json.Valid([]byte(id))
}

// RawID is a JSON-RPC id exactly as the client sent it: a JSON number such
// as 7 or a JSON string such as "a", quotes included.
type RawID string

// MarshalJSON writes the id as sent (or, were it not a JSON number or
// string, as a JSON string).
func (id RawID) MarshalJSON() ([]byte, error) { return appendID(nil, string(id)), nil }

// appendRaw writes a captured value, which the redactor produced as one
// line of valid JSON; anything else is written as a JSON string.
func appendRaw(b, raw []byte) []byte {
	for _, c := range raw {
		if c == '\n' || c == '\r' {
			return jsonrpc.AppendQuote(b, string(raw))
		}
	}
	if !json.Valid(raw) {
		return jsonrpc.AppendQuote(b, string(raw))
	}
	return append(b, raw...)
}

// simpleString reports whether s is a JSON string token without escapes
// or control characters, in valid UTF-8: the common id, checked without
// allocating.
func simpleString(s string) bool {
	if len(s) < 2 || s[len(s)-1] != '"' {
		return false
	}
	in := s[1 : len(s)-1]
	for i := 0; i < len(in); i++ {
		if c := in[i]; c < 0x20 || c == '"' || c == '\\' {
			return false
		}
	}
	return utf8.ValidString(in)
}
