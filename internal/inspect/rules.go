package inspect

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// checkTransportRules applies the per-revision rules of the Streamable HTTP
// transport that the body alone cannot: batches only where the revision
// allows them, and for stateless revisions the agreement of the Mcp-Method,
// Mcp-Name and MCP-Protocol-Version headers with the body. A gateway that
// let them disagree would route and observe one thing while the backend
// executes another.
func checkTransportRules(w http.ResponseWriter, r *http.Request, rec *record.Record, req *Request, opts *Options) bool {
	header := r.Header.Get(mcpwire.HeaderProtocolVersion)
	if req.Body.Batch {
		// A missing header means 2025-03-26, the one revision with batches.
		if header != "" && header != mcpwire.Version20250326 {
			reject(w, rec, http.StatusBadRequest, nil, jsonrpc.CodeInvalidRequest, record.ReasonInvalidRequest,
				"JSON-RPC batches are not allowed in protocol revision "+header)
			return false
		}
		for i := range req.Body.Messages {
			if req.Body.Messages[i].Method == "initialize" {
				reject(w, rec, http.StatusBadRequest, nil, jsonrpc.CodeInvalidRequest, record.ReasonInvalidRequest,
					"initialize must not be part of a batch")
				return false
			}
		}
		return true
	}

	m := &req.Body.Messages[0]
	id := idOf(m, req.Raw)
	claim := m.MetaProtocolVersion // the 2026-07-28 per-request version, "" when absent
	if claim != "" && header == "" && !mcpwire.KnownVersion(claim) {
		// The body asks for a revision nobody here speaks: the
		// negotiation error, so that the client can retry with one.
		rejectVersion(w, rec, id, claim, opts.supported())
		return false
	}
	if claim != "" && header != "" && claim != header {
		// Whatever the revision, the two must agree (2026-07-28
		// Streamable HTTP, "Protocol Version Header"): a gateway that went
		// by the header would apply session rules to what the backend
		// serves as a stateless request, or the other way round.
		reject(w, rec, http.StatusBadRequest, id, mcpwire.CodeHeaderMismatch, record.ReasonHeaderMismatch,
			fmt.Sprintf("%s header %q does not match _meta %q %q", mcpwire.HeaderProtocolVersion, header,
				jsonrpc.MetaKeyProtocolVersion, clip(claim)))
		return false
	}
	if !mcpwire.Stateless(header) {
		if claim != "" && mcpwire.Stateless(claim) && header == "" {
			reject(w, rec, http.StatusBadRequest, id, mcpwire.CodeHeaderMismatch, record.ReasonHeaderMismatch,
				mcpwire.HeaderProtocolVersion+" header is required for requests carrying "+jsonrpc.MetaKeyProtocolVersion)
			return false
		}
		return true
	}
	switch m.Kind {
	case jsonrpc.KindRequest:
		// Required in every 2026-07-28 request; one without is malformed,
		// -32602 with HTTP 400 (basic/index, "Per-request protocol
		// fields"). Not a header mismatch: there is no value to mismatch.
		if !m.Meta.Present() {
			reject(w, rec, http.StatusBadRequest, id, jsonrpc.CodeInvalidParams, record.ReasonInvalidRequest,
				"invalid params: a "+header+" request must carry params._meta with "+jsonrpc.MetaKeyProtocolVersion)
			return false
		}
		if claim == "" {
			reject(w, rec, http.StatusBadRequest, id, jsonrpc.CodeInvalidParams, record.ReasonInvalidRequest,
				"invalid params: params._meta lacks "+jsonrpc.MetaKeyProtocolVersion+" (a string), required in "+header+" requests")
			return false
		}
	case jsonrpc.KindNotification:
		// The per-request fields are defined for requests only; a
		// notification's version, when it names one, matched above.
	default:
		return true
	}
	method := r.Header.Get(mcpwire.HeaderMethod)
	if method == "" {
		reject(w, rec, http.StatusBadRequest, id, mcpwire.CodeHeaderMismatch, record.ReasonHeaderMismatch,
			"missing required Mcp-Method header")
		return false
	}
	if method != m.Method {
		reject(w, rec, http.StatusBadRequest, id, mcpwire.CodeHeaderMismatch, record.ReasonHeaderMismatch,
			fmt.Sprintf("Mcp-Method header %q does not match body method %q", clip(method), clip(m.Method)))
		return false
	}
	var bodyName string
	switch m.Method {
	case "tools/call", "prompts/get":
		bodyName = m.Name
	case "resources/read":
		bodyName = m.URI
	default:
		return true
	}
	raw := r.Header.Get(mcpwire.HeaderName)
	if raw == "" {
		reject(w, rec, http.StatusBadRequest, id, mcpwire.CodeHeaderMismatch, record.ReasonHeaderMismatch,
			"missing required Mcp-Name header for "+m.Method)
		return false
	}
	name, ok := DecodeHeaderValue(raw)
	if !ok {
		reject(w, rec, http.StatusBadRequest, id, mcpwire.CodeHeaderMismatch, record.ReasonHeaderMismatch,
			"Mcp-Name header has an invalid base64 value")
		return false
	}
	if name != bodyName {
		reject(w, rec, http.StatusBadRequest, id, mcpwire.CodeHeaderMismatch, record.ReasonHeaderMismatch,
			fmt.Sprintf("Mcp-Name header %q does not match body %q", clip(name), clip(bodyName)))
		return false
	}
	return true
}

// DecodeHeaderValue decodes an MCP header value that may use the
// "=?base64?…?=" sentinel for values that are not plain printable ASCII.
func DecodeHeaderValue(v string) (string, bool) {
	enc, ok := strings.CutPrefix(v, "=?base64?")
	if !ok {
		return v, true
	}
	enc, ok = strings.CutSuffix(enc, "?=")
	if !ok {
		return v, true
	}
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// rejectVersion answers a request for a protocol revision the gateway does
// not know: 400, UnsupportedProtocolVersion (-32022) with the data layout
// of SEP-2575 ({"supported":[…],"requested":"…"}), which a 2026-07-28
// client reads to retry with a revision both sides speak. The gateway's
// checks depend on the revision, so it does not guess one, nor pass the
// request on uninspected. supported (Options.Supported) is what the server
// the client sees serves, since the client checks it against that server's
// server/discover.
func rejectVersion(w http.ResponseWriter, rec *record.Record, id []byte, requested string, supported []string) {
	requested = clip(requested)
	msg := fmt.Sprintf("Unsupported protocol version %q (supported: %s)", requested, strings.Join(supported, ", "))
	rec.Fail(record.ReasonUnsupportedVersion, msg)
	mcpwire.WriteErrorData(w, http.StatusBadRequest, id, mcpwire.CodeUnsupportedProtocolVersion, msg, mcpwire.UnsupportedVersionData(supported, requested))
}

func idOf(m *jsonrpc.Message, raw []byte) []byte {
	if m.ID.Present() {
		return m.ID.Bytes(raw)
	}
	return nil
}

// reject answers the request with a JSON-RPC error and notes why.
func reject(w http.ResponseWriter, rec *record.Record, status int, id []byte, code int64, reason record.Reason, msg string) {
	rec.Fail(reason, msg)
	mcpwire.WriteError(w, status, id, code, msg)
}

// clip bounds client-supplied text before it reaches a log line or reply.
func clip(s string) string {
	const max = 128
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
