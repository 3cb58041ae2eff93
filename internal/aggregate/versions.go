package aggregate

import (
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

// SupportedVersions returns the revisions the aggregator's server/discover
// lists, newest first: the ones the gateway's own -32022 errors offer
// (inspect.Options.Supported), since a client checks those against that
// list. The SDK's server answers server/discover with the revisions it
// negotiates that its transport can serve, and the transport of a stateful
// StreamableHTTPHandler, as a.handler is, serves no stateless revision;
// the same filter is asked of the SDK here rather than copied.
// TestSupportedVersionsMatchDiscover holds the two together.
func (a *Aggregator) SupportedVersions() []string {
	t := &mcp.StreamableServerTransport{} // stateful, as a.handler's sessions are
	var out []string
	for _, v := range mcp.SupportedProtocolVersions() {
		if t.SupportsProtocolVersion(v) && mcpwire.KnownVersion(v) {
			out = append(out, v)
		}
	}
	return out
}
