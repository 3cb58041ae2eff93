package audit

import (
	"net/http"
	"strconv"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// reasonOutcome maps a gateway reason (record.Reason*) to its outcome, and
// says whether it is a rejection: the gateway refused the request before
// any backend saw it, which gives one "rejected" event for the request
// instead of one event per message. docs/audit.md has the same table.
func reasonOutcome(reason string) (o Outcome, rejection bool) {
	switch reason {
	case record.ReasonUnauthenticated, record.ReasonForbidden,
		record.ReasonOriginRejected, record.ReasonSessionNotFound:
		return OutcomeDenied, true
	case record.ReasonBodyTooLarge, record.ReasonHeadersTooLarge, record.ReasonParseError,
		record.ReasonInvalidRequest, record.ReasonHeaderMismatch, record.ReasonUnsupportedVersion,
		record.ReasonMethodNotAllowed, record.ReasonNotAcceptable:
		return OutcomeError, true
	case record.ReasonAuthUnavailable, record.ReasonAuditUnavailable, record.ReasonSessionLimit:
		return OutcomeFailure, true
	case record.ReasonClientCanceled:
		return OutcomeError, false
	}
	// upstream_*, stream_closed_without_response, internal_error,
	// tool_error, and any reason added later: the gateway or the backend
	// failed while serving.
	return OutcomeFailure, false
}

// statusOutcome classifies an HTTP error status that came without a
// gateway reason (the backend's own answer).
func statusOutcome(status int, session bool) Outcome {
	switch {
	case status == http.StatusUnauthorized, status == http.StatusForbidden,
		status == http.StatusNotFound && session:
		return OutcomeDenied
	case status >= 500:
		return OutcomeFailure
	}
	return OutcomeError
}

// codeOutcome classifies a JSON-RPC error code from the backend: the codes
// that say the client's message was wrong are "error", all others
// (internal errors, implementation-defined server errors) "failure".
func codeOutcome(code int64) Outcome {
	switch code {
	case jsonrpc.CodeParseError, jsonrpc.CodeInvalidRequest, jsonrpc.CodeMethodNotFound,
		jsonrpc.CodeInvalidParams, codeResourceNotFound:
		return OutcomeError
	}
	return OutcomeFailure
}

// codeResourceNotFound is MCP's "Resource not found" (resources/read).
const codeResourceNotFound = -32002

// opOutcome is the outcome and error of one message of rec.
func (r *Reporter) opOutcome(rec *record.Record, op *record.Op, er *Error) Outcome {
	if op.Answered {
		switch {
		case op.HasRPCError:
			er.Code = &op.RPCErrorCode
			er.Message = r.red.MaskString(op.RPCError)
			if rec.Reason != "" && op.RPCErrorCode == mcpwire.CodeGateway {
				// The error the gateway wrote in place of a failed backend.
				er.Type = rec.Reason
				o, _ := reasonOutcome(rec.Reason)
				return o
			}
			er.Type = strconv.FormatInt(op.RPCErrorCode, 10)
			return codeOutcome(op.RPCErrorCode)
		case op.ToolError:
			er.Type = record.ReasonToolError
			return OutcomeFailure
		}
		return OutcomeSuccess
	}
	if rec.Reason != "" {
		return r.reasonError(rec, er)
	}
	if rec.Status >= 400 {
		// No response and an HTTP error: for a notification or a client
		// response the status is the only answer there is.
		return r.statusError(rec, er)
	}
	return OutcomeSuccess
}

// requestOutcome is the outcome of a request without messages (GET,
// DELETE, or rejected before its body was parsed).
func (r *Reporter) requestOutcome(rec *record.Record, er *Error) Outcome {
	switch {
	case rec.Reason != "":
		return r.reasonError(rec, er)
	case rec.Status >= 400:
		return r.statusError(rec, er)
	}
	return OutcomeSuccess
}

func (r *Reporter) reasonError(rec *record.Record, er *Error) Outcome {
	o, _ := reasonOutcome(rec.Reason)
	er.Type = rec.Reason
	// In hashed mode, the details of a denial are left out: authn's may
	// name the subject ("subject alice: token lacks scope …").
	if !(r.hashed && o == OutcomeDenied) {
		er.Message = r.red.MaskString(rec.Detail)
	}
	return o
}

func (r *Reporter) statusError(rec *record.Record, er *Error) Outcome {
	er.Type = "_OTHER"
	er.Message = "HTTP " + strconv.Itoa(rec.Status)
	return statusOutcome(rec.Status, rec.SessionID != "")
}

// opKind names the event of one message.
func opKind(op *record.Op) Kind {
	switch op.Kind {
	case "notification":
		return KindNotification
	case "result", "error":
		return KindResponse
	}
	switch op.Method {
	case "initialize":
		return KindInitialize
	case "tools/call":
		return KindToolCall
	case "tools/list":
		return KindToolsList
	case "resources/read":
		return KindResourceRead
	case "prompts/get":
		return KindPromptGet
	}
	return KindOtherRequest
}

// requestKind names the event of a request without messages.
func requestKind(rec *record.Record) Kind {
	switch rec.HTTPMethod {
	case http.MethodGet:
		return KindStream
	case http.MethodDelete:
		return KindSessionEnd
	}
	return KindOtherRequest
}
