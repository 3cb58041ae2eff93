package record

import (
	"net/http"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

// Outcome is how one message of a request (or a request without messages)
// ended: the one classification that spans, metrics, the audit log and the
// log line read, each writing it in its own fields.
type Outcome struct {
	Class Class
	// Reason is the gateway's reason for the outcome: the record's, when no
	// backend's answer says otherwise; "" when none.
	Reason Reason
	// Error is the JSON-RPC error the message was answered with. With a
	// Reason too, it is the error the gateway wrote in place of a backend
	// that failed.
	Error RPCError
	// ToolError: answered with result.isError (Class is ClassFailure).
	ToolError bool
	// Status is the HTTP error status when nothing else says what failed
	// (no answer and no reason), else 0.
	Status int
}

// OpOutcome is the outcome of op, one of r.Ops:
//
//   - a response arrived: a JSON-RPC error gives its code — unless it is
//     the error the gateway wrote itself in place of a backend that failed
//     (mcpwire.CodeGateway with a reason on the record), which gives the
//     reason; result.isError gives a tool error; else success;
//   - no response: the record's reason when it has one (the request was
//     rejected, or the backend failed); else an HTTP error status, if any;
//     else success (a notification or client response, which get no
//     answer).
func (r *Record) OpOutcome(op *Op) Outcome {
	if op.Answered {
		switch {
		case op.Error.Valid:
			o := Outcome{Error: op.Error, Class: codeClass(op.Error.Code)}
			if r.Reason != "" && op.Error.Code == mcpwire.CodeGateway {
				o.Reason, o.Class = r.Reason, r.Reason.Class()
			}
			return o
		case op.ToolError:
			return Outcome{Class: ClassFailure, ToolError: true}
		}
		return Outcome{}
	}
	return r.RequestOutcome()
}

// RequestOutcome is the outcome of a request without messages (GET
// stream, DELETE, or a request rejected before its body was parsed), and
// of a message of r that got no answer.
func (r *Record) RequestOutcome() Outcome {
	switch {
	case r.Reason != "":
		return Outcome{Reason: r.Reason, Class: r.Reason.Class()}
	case r.Status >= 400:
		return Outcome{Status: r.Status, Class: statusClass(r.Status, r.SessionID != "")}
	}
	return Outcome{}
}

// Failed reports whether anything about the request failed: a reason, an
// HTTP error status, or a JSON-RPC error answered.
func (r *Record) Failed() bool {
	if r.Reason != "" || r.Status >= 400 {
		return true
	}
	for i := range r.Ops {
		if r.Ops[i].Error.Valid {
			return true
		}
	}
	return false
}

// statusClass classifies an HTTP error status that came without a gateway
// reason (the backend's own answer).
func statusClass(status int, session bool) Class {
	switch {
	case status == http.StatusUnauthorized, status == http.StatusForbidden,
		status == http.StatusNotFound && session:
		return ClassDenied
	case status >= 500:
		return ClassFailure
	}
	return ClassError
}

// codeResourceNotFound is MCP's "Resource not found" (resources/read).
const codeResourceNotFound = -32002

// codeClass classifies a JSON-RPC error code from the backend: the codes
// that say the client's message was wrong are errors, all others (internal
// errors, implementation-defined server errors) failures.
func codeClass(code int64) Class {
	switch code {
	case jsonrpc.CodeParseError, jsonrpc.CodeInvalidRequest, jsonrpc.CodeMethodNotFound,
		jsonrpc.CodeInvalidParams, codeResourceNotFound:
		return ClassError
	}
	return ClassFailure
}
