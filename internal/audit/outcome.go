package audit

import (
	"net/http"
	"strconv"

	"github.com/mcpgate/mcpgate/internal/record"
)

// outcomeOf is the audit log's name for a class of outcome. The classes,
// and which reasons are rejections, live in internal/record (Reason.Class,
// Reason.Rejection); docs/audit.md has the same table.
func outcomeOf(c record.Class) Outcome { return outcomes[c] }

var outcomes = [...]Outcome{
	record.ClassSuccess: OutcomeSuccess,
	record.ClassDenied:  OutcomeDenied,
	record.ClassError:   OutcomeError,
	record.ClassFailure: OutcomeFailure,
}

// opOutcome is the outcome and error of one message of rec.
func (r *Reporter) opOutcome(rec *record.Record, op *record.Op, er *Error) Outcome {
	o := rec.OpOutcome(op)
	if o.Error.Valid {
		// Points into the record, which outlives the event's encoding.
		er.Code = &op.Error.Code
	}
	return r.outcome(rec, o, er)
}

// requestOutcome is the outcome of a request without messages (GET,
// DELETE, or rejected before its body was parsed).
func (r *Reporter) requestOutcome(rec *record.Record, er *Error) Outcome {
	return r.outcome(rec, rec.RequestOutcome(), er)
}

// outcome writes o into er and returns its class.
func (r *Reporter) outcome(rec *record.Record, o record.Outcome, er *Error) Outcome {
	class := outcomeOf(o.Class)
	switch {
	case o.Error.Valid:
		er.Message = r.red.MaskString(o.Error.Message)
		if o.Reason != "" {
			// The error the gateway wrote in place of a failed backend.
			er.Type = string(o.Reason)
		} else {
			er.Type = strconv.FormatInt(o.Error.Code, 10)
		}
	case o.ToolError:
		er.Type = string(record.ReasonToolError)
	case o.Reason != "":
		er.Type = string(o.Reason)
		// In hashed mode, the details of a denial are left out: authn's
		// may name the subject ("subject alice: token lacks scope …").
		if !(r.hashed && class == OutcomeDenied) {
			er.Message = r.red.MaskString(rec.Detail)
		}
	case o.Status != 0:
		// No response and an HTTP error: for a notification or a client
		// response the status is the only answer there is.
		er.Type = "_OTHER"
		er.Message = "HTTP " + strconv.Itoa(o.Status)
	}
	return class
}

// opKind names the event of one message.
func opKind(op *record.Op) Kind {
	switch op.Kind {
	case record.OpNotification:
		return KindNotification
	case record.OpResult, record.OpError:
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
