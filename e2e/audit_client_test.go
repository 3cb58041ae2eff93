package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
)

// TestAuditClientAddress (issue 13 item 13): docs/audit.md promises that
// client.address is the client a proxy in trustedProxies forwarded, and
// never an address an untrusted peer or the client itself claims. The
// test's connections come from 127.0.0.1; one gateway trusts it as its
// load balancer (with 10.0.0.0/8 as the proxies behind it), one does not.
func TestAuditClientAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		trusted string // trustedProxies
		xff     string // X-Forwarded-For; "" = none
		want    string
	}{
		{"trusted peer: the forwarded client", "[127.0.0.1, 10.0.0.0/8]", "203.0.113.7", "203.0.113.7"},
		{"the client's own claim is ignored", "[127.0.0.1, 10.0.0.0/8]", "198.51.100.9, 203.0.113.7", "203.0.113.7"},
		{"a chain of trusted proxies", "[127.0.0.1, 10.0.0.0/8]", "203.0.113.7, 10.2.2.2", "203.0.113.7"},
		{"trusted peer without the header", "[127.0.0.1, 10.0.0.0/8]", "", "127.0.0.1"},
		{"garbage from a trusted peer", "[127.0.0.1, 10.0.0.0/8]", "unknown", "127.0.0.1"},
		{"untrusted peer", "[10.0.0.0/8]", "203.0.113.7", "127.0.0.1"},
	}
	gateways := map[string]*gateway{}
	sinks := map[string]string{}
	count := map[string]int{}
	for _, tc := range tests {
		if gateways[tc.trusted] != nil {
			continue
		}
		sink := filepath.Join(t.TempDir(), "audit.jsonl")
		gateways[tc.trusted] = startGatewayConfig(t, nil, fmt.Sprintf("trustedProxies: %s\n%s", tc.trusted, anonSinkConfig(sink, "")))
		sinks[tc.trusted] = sink
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.xff != "" {
				h["X-Forwarded-For"] = tc.xff
			}
			// A parse error: one rejected event, and no backend involved.
			if r := postMCP(t, gateways[tc.trusted].URL, "", `{"jsonrpc":`, h); r.status != 400 {
				t.Fatalf("status %d, want 400; body %s", r.status, r.body)
			}
			count[tc.trusted]++
			events := waitAuditLines(t, sinks[tc.trusted], count[tc.trusted])
			e := events[count[tc.trusted]-1]
			if got := e.str("client.address"); got != tc.want || e.str("event") != "rejected" {
				t.Errorf("event %s: client.address %q, want %q", e.line, got, tc.want)
			}
		})
	}
}
