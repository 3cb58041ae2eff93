package stdiorelay

import (
	"net/http"
	"slices"
	"testing"

	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

// TestLearnsAdvertisedVersions: the revisions the gateway's own -32022
// offers are learned from the server/discover results the child sends, in
// JSON and in event streams, stateless or in a session, and from nothing
// else; revisions the gateway does not know are left out.
func TestLearnsAdvertisedVersions(t *testing.T) {
	all := new(mcpwire.Advertised).Supported()
	advertised := []string{"2026-07-28", "2025-11-25"} // the fake's, less 2099-01-01
	const stateless = `{"jsonrpc":"2.0","id":3,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`
	statelessHeaders := []string{mcpwire.HeaderProtocolVersion, mcpwire.Version20260728, mcpwire.HeaderMethod, "server/discover"}
	tests := []struct {
		name      string
		isolation Isolation
		session   bool // sent in a session rather than statelessly
		body      string
		accept    string
		want      []string
	}{
		{"stateless discover, JSON", IsolationSession, false, stateless, acceptJSON, advertised},
		{"stateless discover, event stream", IsolationSession, false, stateless, acceptBoth, advertised},
		{"stateless discover, shared child", IsolationShared, false, stateless, acceptJSON, advertised},
		{"discover in a session", IsolationSession, true, `{"jsonrpc":"2.0","id":3,"method":"server/discover"}`, acceptBoth, advertised},
		{"tools/list teaches nothing", IsolationSession, true, `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`, acceptJSON, all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			versions := new(mcpwire.Advertised)
			h := newHarness(t, Options{Isolation: tt.isolation, Versions: versions})
			var resp *http.Response
			if tt.session {
				resp = h.post(h.initialize(), tt.accept, tt.body)
			} else {
				resp = h.post("", tt.accept, tt.body, statelessHeaders...)
			}
			if body := readAll(t, resp); resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if got := versions.Supported(); !slices.Equal(got, tt.want) {
				t.Errorf("Supported() = %v, want %v", got, tt.want)
			}
		})
	}
}
