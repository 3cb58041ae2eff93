package inspect

import (
	"net/http"
	"strings"

	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

// checkHeaders refuses request headers that would let the gateway and a
// backend read different things from one request, and protocol upgrades.
// It returns the reason for the client ("" = fine).
//
// Each is rejected rather than removed: removing a header changes what the
// client asked for without telling it, while a 400 is visible to the client
// and logged with its reason. No conforming client sends any of these.
func checkHeaders(r *http.Request, apiKeyHeader string) string {
	for name := range r.Header {
		// Mcp_Session_Id is not the header the session binding reads, but
		// a CGI/WSGI backend folds it into the same HTTP_MCP_SESSION_ID as
		// Mcp-Session-Id: one principal could use another's session.
		if mcpwire.ManagedAlias(name, apiKeyHeader) {
			return "header " + clip(name) + " is another spelling of " + mcpwire.FoldHeader(name) +
				" (underscores for hyphens), which the gateway manages; send " + mcpwire.FoldHeader(name) + " itself"
		}
	}
	// MCP has no protocol upgrade: a switched connection would carry bytes
	// (other sessions, identity headers) that no stage of the gateway sees.
	if _, ok := r.Header["Upgrade"]; ok {
		return "protocol upgrades are not supported on the MCP endpoint (Upgrade: " + clip(r.Header.Get("Upgrade")) + ")"
	}
	for _, tok := range mcpwire.HeaderTokens(r.Header["Connection"]) {
		switch {
		case strings.EqualFold(tok, "upgrade"):
			return "protocol upgrades are not supported on the MCP endpoint (Connection: upgrade)"
		case mcpwire.Managed(tok, apiKeyHeader):
			// A proxy drops the headers Connection names (RFC 9110
			// §7.6.1): the backend would not get the header the gateway
			// checked, Mcp-Protocol-Version for instance.
			return "Connection must not name " + clip(tok) + ", a header the gateway manages"
		}
	}
	return ""
}
