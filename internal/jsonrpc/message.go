package jsonrpc

// Kind says what a JSON-RPC message is, from the members it has.
type Kind uint8

const (
	KindInvalid      Kind = iota
	KindRequest           // has "method" and "id"
	KindNotification      // has "method", no "id"
	KindResult            // has "result" and "id"
	KindError             // has "error" (and "id", which may be null)
)

func (k Kind) String() string {
	switch k {
	case KindRequest:
		return "request"
	case KindNotification:
		return "notification"
	case KindResult:
		return "result"
	case KindError:
		return "error"
	}
	return "invalid"
}

// Span is the half-open byte range [Start, End) of one JSON value (or, for
// Message.Object, one whole message) in the body that was parsed. The zero
// Span means "absent".
type Span struct{ Start, End int }

// Present reports whether the span names a value in the body.
func (s Span) Present() bool { return s.End > s.Start }

// Bytes returns the spanned bytes of body.
func (s Span) Bytes(body []byte) []byte { return body[s.Start:s.End] }

// Message is what one strict parse learns about one JSON-RPC message. Strings
// are decoded (escapes resolved); spans point into the parsed body so that a
// rewrite can splice bytes there instead of re-encoding the message.
type Message struct {
	Kind   Kind
	Object Span // the whole message object, braces included

	// ID is the raw "id" value (a JSON string or integer, as written).
	// IDNull is set for an error response whose id is null.
	ID     Span
	IDNull bool

	// Requests and notifications.
	Method string
	Params Span // the "params" object, when present

	// Members of params that MCP gives meaning to. Each is zero when absent.
	Name      string // params.name: the tool (tools/call) or prompt (prompts/get)
	NameValue Span   // the params.name string token, quotes included
	URI       string // params.uri (resources/read, resources/subscribe, …)

	// ParamsProgressToken is params.progressToken (notifications/progress)
	// and ParamsRequestID params.requestId (notifications/cancelled): the
	// values a relay that remaps ids must rewrite.
	ParamsProgressToken Span
	ParamsRequestID     Span

	// initialize
	ProtocolVersion string // params.protocolVersion
	ClientName      string // params.clientInfo.name
	ClientVersion   string // params.clientInfo.version

	// params._meta and the members of it the gateway reads or rewrites.
	Meta                Span   // the "_meta" object
	MetaProtocolVersion string // _meta["io.modelcontextprotocol/protocolVersion"]
	ProgressToken       Span   // _meta.progressToken value
	Traceparent         string // _meta.traceparent
	TraceparentValue    Span   // its string token, quotes included
	Tracestate          string // _meta.tracestate
	TracestateValue     Span   // its string token, quotes included

	// Responses.
	Result       Span   // the "result" value
	IsError      bool   // result.isError is true (a CallToolResult reporting a tool error)
	ErrorCode    int64  // error.code
	ErrorMessage string // error.message
}

// MetaKeyProtocolVersion is the _meta member that carries the protocol
// revision in stateless (2026-07-28) requests.
const MetaKeyProtocolVersion = "io.modelcontextprotocol/protocolVersion"
