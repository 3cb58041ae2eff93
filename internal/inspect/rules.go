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
func checkTransportRules(w http.ResponseWriter, r *http.Request, rec *record.Record, req *Request) bool {
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
	stateless := mcpwire.Stateless(header)
	if !stateless {
		if m.MetaProtocolVersion != "" && mcpwire.Stateless(m.MetaProtocolVersion) && header == "" {
			reject(w, rec, http.StatusBadRequest, id, mcpwire.CodeHeaderMismatch, record.ReasonHeaderMismatch,
				mcpwire.HeaderProtocolVersion+" header is required for requests carrying "+jsonrpc.MetaKeyProtocolVersion)
			return false
		}
		return true
	}
	if m.Kind != jsonrpc.KindRequest && m.Kind != jsonrpc.KindNotification {
		return true
	}
	if m.MetaProtocolVersion != header {
		reject(w, rec, http.StatusBadRequest, id, mcpwire.CodeHeaderMismatch, record.ReasonHeaderMismatch,
			fmt.Sprintf("%s header %q does not match _meta %q %q", mcpwire.HeaderProtocolVersion, header,
				jsonrpc.MetaKeyProtocolVersion, clip(m.MetaProtocolVersion)))
		return false
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

func idOf(m *jsonrpc.Message, raw []byte) []byte {
	if m.ID.Present() {
		return m.ID.Bytes(raw)
	}
	return nil
}

// reject answers the request with a JSON-RPC error and notes why.
func reject(w http.ResponseWriter, rec *record.Record, status int, id []byte, code int64, reason, msg string) {
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
