package telemetry

import (
	"strconv"

	"github.com/mcpgate/mcpgate/internal/credmask"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
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
	if authReason(rec.Reason) {
		return ""
	}
	return credmask.MaskString(rec.Detail)
}

// opOutcome derives the outcome of op from the record:
//
//   - a response arrived: a JSON-RPC error gives its code — unless it is the
//     error the gateway wrote itself in place of a backend that failed
//     (mcpwire.CodeGateway with a gateway reason), which gives the reason;
//     result.isError gives "tool_error"; else success;
//   - no response: the gateway's reason when it has one (the request was
//     rejected, or the backend failed); a request unanswered for no known
//     reason with an HTTP error status is "_OTHER"; else success (a
//     notification or client response, which get no answer).
func opOutcome(rec *record.Record, op *record.Op) outcome {
	if op.Answered {
		switch {
		case op.HasRPCError:
			o := outcome{code: op.RPCErrorCode, hasCode: true, desc: op.RPCError, errType: codeString(op.RPCErrorCode)}
			if rec.Reason != "" && op.RPCErrorCode == mcpwire.CodeGateway {
				o.errType = rec.Reason
			}
			return o
		case op.ToolError:
			return outcome{errType: record.ReasonToolError}
		}
		return outcome{}
	}
	if rec.Reason != "" {
		return outcome{errType: rec.Reason, desc: reasonDesc(rec)}
	}
	if op.Kind == "request" && rec.Status >= 400 {
		return outcome{errType: other, desc: "HTTP " + strconv.Itoa(rec.Status)}
	}
	return outcome{}
}

// requestOutcome is opOutcome for a request without messages (GET stream,
// DELETE, or a request rejected before its body was parsed).
func requestOutcome(rec *record.Record) outcome {
	switch {
	case rec.Reason != "":
		return outcome{errType: rec.Reason, desc: reasonDesc(rec)}
	case rec.Status >= 400:
		return outcome{errType: other, desc: "HTTP " + strconv.Itoa(rec.Status)}
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
