package record

import "github.com/mcpgate/mcpgate/internal/jsonrpc"

// OpKind is what one message of a request body is.
type OpKind uint8

const (
	OpInvalid OpKind = iota
	OpRequest
	OpNotification
	OpResult // a client's response to a server request
	OpError  // a client's error response to a server request
)

// KindOf is the OpKind of a parsed message's kind.
func KindOf(k jsonrpc.Kind) OpKind {
	switch k {
	case jsonrpc.KindRequest:
		return OpRequest
	case jsonrpc.KindNotification:
		return OpNotification
	case jsonrpc.KindResult:
		return OpResult
	case jsonrpc.KindError:
		return OpError
	}
	return OpInvalid
}

// String is the kind's JSON-RPC name, as spans' mcp.message.kind has it.
func (k OpKind) String() string {
	switch k {
	case OpRequest:
		return "request"
	case OpNotification:
		return "notification"
	case OpResult:
		return "result"
	case OpError:
		return "error"
	}
	return "invalid"
}

// RPCError is a JSON-RPC error response's code and message. The zero value
// (Valid false) is no error: it is a value rather than a pointer so that
// recording one costs no allocation.
type RPCError struct {
	Code    int64
	Message string
	Valid   bool
}

// Answer is what a response says about the request it answers.
type Answer struct {
	Error     RPCError // Valid when the response is a JSON-RPC error
	ToolError bool     // result.isError
}

// Answer records a response on the request it answers and returns that
// request's op, or nil when it answers none of the record's requests. id is
// the response's raw JSON id; nullID says the id was null.
//
// Only request ops are matched: in a batch, a client's response to a server
// request can carry the same id as one of the client's own requests (they
// are separate id spaces), and only the request is answered by the
// backend's response. A null id answers the record's request when it holds
// exactly one: a server that could not read the request's id answers with
// a null id (a 400 for an unknown session, say), and with one request in
// the body there is no doubt which one it answers.
func (r *Record) Answer(id []byte, nullID bool, a Answer) *Op {
	var op *Op
	switch {
	case len(id) > 0:
		for i := range r.Ops {
			if o := &r.Ops[i]; o.Kind == OpRequest && o.ID == string(id) {
				op = o
				break
			}
		}
	case nullID && len(r.Ops) == 1 && r.Ops[0].Kind == OpRequest:
		op = &r.Ops[0]
	}
	if op == nil {
		return nil
	}
	op.Answered = true
	op.Error = a.Error
	op.ToolError = a.ToolError
	return op
}

// AnswerMessage is Answer for a parsed message of a response body raw: it
// returns nil for anything but a response.
func (r *Record) AnswerMessage(m *jsonrpc.Message, raw []byte) *Op {
	var a Answer
	switch m.Kind {
	case jsonrpc.KindResult:
	case jsonrpc.KindError:
		a.Error = RPCError{Code: m.ErrorCode, Message: m.ErrorMessage, Valid: true}
	default:
		return nil
	}
	a.ToolError = m.IsError
	var id []byte
	if m.ID.Present() {
		id = m.ID.Bytes(raw)
	}
	return r.Answer(id, m.IDNull, a)
}
