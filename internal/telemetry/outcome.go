package telemetry

import (
	"strconv"

	"github.com/mcpgate/mcpgate/internal/credmask"
	"github.com/mcpgate/mcpgate/internal/record"
)

// outcome is how one message (or a request without messages) ended, as
// error.type, rpc.response.status_code and the span status see it.
type outcome struct {
	errType string // error.type; "" for success
	code    int64  // the JSON-RPC error code, when hasCode
	hasCode bool
	desc    string // status description: the JSON-RPC error message, else the gateway's detail
}

// reasonDesc is the status description of a gateway reason: its detail,
// with anything that looks like a credential masked and cut to 256 bytes —
// except for authentication failures, whose detail may name the principal
// ("subject alice: token lacks scope …"), which must not reach a span unless
// attribution says so: those get no description (error.type says enough).
func reasonDesc(rec *record.Record) string {
	if rec.Reason.Category() == record.CategoryAuth {
		return ""
	}
	return credmask.MaskString(rec.Detail)
}

// opOutcome is the record's outcome of op (record.Record.OpOutcome) as
// error.type, code and description. A message without an answer gets
// "_OTHER" for an HTTP error status only when it is a request: a
// notification or client response is answered by the status alone, and an
// error status there is no operation's error.
func opOutcome(rec *record.Record, op *record.Op) outcome {
	return outcomeOf(rec, rec.OpOutcome(op), op.Kind == record.OpRequest)
}

// requestOutcome is opOutcome for a request without messages (GET stream,
// DELETE, or a request rejected before its body was parsed).
func requestOutcome(rec *record.Record) outcome {
	return outcomeOf(rec, rec.RequestOutcome(), true)
}

func outcomeOf(rec *record.Record, o record.Outcome, request bool) outcome {
	switch {
	case o.Error.Valid:
		// With a reason, the error the gateway wrote in place of a backend
		// that failed: the reason is its type.
		errType := string(o.Reason)
		if errType == "" {
			errType = codeString(o.Error.Code)
		}
		return outcome{errType: errType, code: o.Error.Code, hasCode: true, desc: o.Error.Message}
	case o.ToolError:
		return outcome{errType: string(record.ReasonToolError)}
	case o.Reason != "":
		return outcome{errType: string(o.Reason), desc: reasonDesc(rec)}
	case o.Status != 0 && request:
		return outcome{errType: other, desc: "HTTP " + strconv.Itoa(o.Status)}
	}
	return outcome{}
}

// metricErrorType is errType mapped onto its bounded set: a JSON-RPC code
// by boundCode, "tool_error" and the gateway's reasons as they are.
func (o outcome) metricErrorType() string {
	if o.errType == "" {
		return ""
	}
	if o.hasCode && o.errType == codeString(o.code) {
		return boundCode(o.code)
	}
	return boundReason(o.errType)
}

// metricCode is rpc.response.status_code for metrics ("" when none).
func (o outcome) metricCode() string {
	if !o.hasCode {
		return ""
	}
	return boundCode(o.code)
}
