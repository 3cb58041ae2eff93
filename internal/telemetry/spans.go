package telemetry

import (
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpgate/mcpgate/internal/credmask"
	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// targetMax caps the tool or prompt name in a span name.
const targetMax = 128

// responseSpanName names the span of a client's response to a request the
// server sent it (sampling, elicitation, roots): a transparent relay does not
// know which method it answers.
const responseSpanName = "response"

// opSpanName is "{mcp.method.name} {target}" (target: the tool or prompt
// name), or the method alone. Span names are what tracing UIs list as
// operations, so they stay low-cardinality: a method outside the
// specification is "_OTHER", and a request rejected before authn names its
// target only when a backend listed it.
func (t *Telemetry) opSpanName(op *record.Op, admitted bool) string {
	switch {
	case op.Method == "":
		return responseSpanName
	case !jsonrpc.KnownMethod(op.Method):
		return other
	}
	k, ok := targetKind(op.Method)
	if !ok || op.Name == "" {
		return op.Method
	}
	if !admitted && !t.catalog.knownAnywhere(k, op.Name) {
		return op.Method
	}
	return op.Method + " " + credmask.Clip(op.Name, targetMax)
}

// targetKind says which catalog list names the target of method.
func targetKind(method string) (listKind, bool) {
	switch method {
	case "tools/call":
		return kindTool, true
	case "prompts/get":
		return kindPrompt, true
	}
	return 0, false
}

// httpKind is mcpgate.http.kind of a request without messages.
func httpKind(rec *record.Record) string {
	switch rec.HTTPMethod {
	case "GET":
		return kindStream
	case "DELETE":
		return kindDelete
	}
	return kindRejected
}

// requestIDString is jsonrpc.request.id: the id's string value, or the
// number as written.
func requestIDString(raw string) string {
	if len(raw) < 2 || raw[0] != '"' {
		return raw
	}
	if !strings.Contains(raw, `\`) {
		return raw[1 : len(raw)-1]
	}
	if s, ok := jsonrpc.UnquoteString([]byte(raw)); ok {
		return s
	}
	return raw
}

// appendCommon appends the attributes every SERVER span of rec has.
func (t *Telemetry) appendCommon(kv []attribute.KeyValue, rec *record.Record, admitted bool) []attribute.KeyValue {
	if rec.ProtocolVersion != "" {
		kv = append(kv, keyMCPProtocolVersion.String(rec.ProtocolVersion))
	}
	// The session id is the caller's claim until authn admits the request,
	// and revisions from 2026-07-28 on have no sessions. The span never
	// carries the id itself (semconv's mcp.session.id is only
	// recommended): it is a capability, and spans leave the gateway for
	// collectors and backends its holders do not control. Its ref joins
	// the span to the audit log's events of the session.
	if rec.SessionID != "" && admitted && !mcpwire.Stateless(rec.ProtocolVersion) {
		kv = append(kv, keySessionRef.String(record.SessionRef(rec.SessionID)))
	}
	kv = append(kv, keyNetworkTransport.String(transportTCP), keyNetworkProtocolName.String(protocolHTTP))
	if rec.Proto != "" {
		kv = append(kv, keyNetworkProtocolVersion.String(rec.Proto))
	}
	if t.opts.RecordClientAddress && rec.ClientAddr != "" {
		kv = append(kv, keyClientAddress.String(rec.ClientAddr))
		if rec.ClientPort > 0 {
			kv = append(kv, keyClientPort.Int(rec.ClientPort))
		}
	}
	if rec.Backend != "" {
		kv = append(kv, keyBackend.String(rec.Backend))
	}
	if rec.Status != 0 {
		kv = append(kv, keyHTTPStatus.Int(rec.Status))
	}
	return kv
}

// appendOp appends the attributes of one message, shared by SERVER and
// CLIENT spans.
func appendOp(kv []attribute.KeyValue, op *record.Op) []attribute.KeyValue {
	if op.Method != "" {
		kv = append(kv, keyMCPMethod.String(op.Method))
	} else {
		kv = append(kv, keyMessageKind.String(op.Kind.String()))
	}
	if op.ID != "" {
		kv = append(kv, keyJSONRPCRequestID.String(requestIDString(op.ID)))
	}
	if op.Name != "" {
		switch op.Method {
		case "tools/call":
			kv = append(kv, keyGenAIToolName.String(op.Name), keyGenAIOperation.String(opExecuteTool))
		case "prompts/get":
			kv = append(kv, keyGenAIPromptName.String(op.Name))
		}
	}
	if op.URI != "" {
		kv = append(kv, keyMCPResourceURI.String(op.URI))
	}
	return kv
}

// appendAuthz appends the authorization decision on op: its effect and the
// ids of the determining policies (never the principal).
func appendAuthz(kv []attribute.KeyValue, op *record.Op) []attribute.KeyValue {
	if op.Authz == nil {
		return kv
	}
	kv = append(kv, keyAuthzDecision.String(op.Authz.Effect.String()))
	if len(op.Authz.Policies) > 0 {
		kv = append(kv, keyAuthzPolicies.StringSlice(op.Authz.Policies))
	}
	if op.Authz.ItemsDenied > 0 {
		kv = append(kv, keyAuthzItemsDenied.Int(op.Authz.ItemsDenied))
	}
	return kv
}

// appendOutcome appends error.type and rpc.response.status_code.
func appendOutcome(kv []attribute.KeyValue, o outcome) []attribute.KeyValue {
	if o.hasCode {
		kv = append(kv, keyRPCStatusCode.String(codeString(o.code)))
	}
	if o.errType != "" {
		kv = append(kv, keyErrorType.String(o.errType))
	}
	return kv
}

// setStatus sets ERROR exactly when error.type is set, as the conventions
// require; the description is the JSON-RPC error message when there is one.
func setStatus(sp trace.Span, o outcome) {
	if o.errType != "" {
		sp.SetStatus(codes.Error, o.desc)
	}
}

// finishServer sets every attribute of a SERVER span from the record. op is
// nil for a request without messages; args is its redacted tool arguments.
func (t *Telemetry) finishServer(sp trace.Span, rec *record.Record, op *record.Op, admitted bool, args string) {
	buf := getAttrBuf()
	defer putAttrBuf(buf)
	kv := buf[:0]
	var o outcome
	if op != nil {
		kv = appendOp(kv, op)
		kv = appendAuthz(kv, op)
		kv = t.appendRateLimit(kv, op)
		o = opOutcome(rec, op)
		if op.Method == "initialize" {
			if rec.ClientName != "" {
				kv = append(kv, keyMCPClientName.String(credmask.Clip(rec.ClientName, clientInfoMax)))
			}
			if rec.ClientVersion != "" {
				kv = append(kv, keyMCPClientVersion.String(credmask.Clip(rec.ClientVersion, clientInfoMax)))
			}
		}
		if args != "" {
			kv = append(kv, keyGenAIToolArguments.String(args))
		}
	} else {
		kv = append(kv, keyHTTPMethod.String(boundHTTPMethod(rec.HTTPMethod)), keyHTTPKind.String(httpKind(rec)))
		o = requestOutcome(rec)
	}
	kv = t.appendCommon(kv, rec, admitted)
	kv = appendOutcome(kv, o)
	kv = t.attribution(kv, rec)
	sp.SetAttributes(kv...)
	setStatus(sp, o)
}

// attrBuf holds a span's end-of-request attributes while they are built. A
// buffer on the stack escapes (Span.SetAttributes is an interface call), so
// without the pool every span would allocate 1.5 KiB just to pass its
// attributes; SetAttributes copies them into the span, so the buffer can be
// reused as soon as it returns.
type attrBuf = [28]attribute.KeyValue

var attrBufs = sync.Pool{New: func() any { return new(attrBuf) }}

func getAttrBuf() *attrBuf { return attrBufs.Get().(*attrBuf) }

// putAttrBuf clears the buffer, so the pool holds no request's strings,
// and returns it.
func putAttrBuf(b *attrBuf) {
	*b = attrBuf{}
	attrBufs.Put(b)
}
