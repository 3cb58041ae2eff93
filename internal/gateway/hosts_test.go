package gateway

import (
	"slices"
	"testing"

	"github.com/mcpgate/mcpgate/internal/config"
)

func TestHostPolicyDefaults(t *testing.T) {
	tests := []struct {
		name, listen, resource string
		allowed                []string
		wantNil                bool
		local, hosts           []string
	}{
		{name: "loopback listener", listen: "127.0.0.1:8080",
			local: []string{"localhost", "127.0.0.1", "[::1]"}},
		{name: "IPv6 loopback listener", listen: "[::1]:8080",
			local: []string{"localhost", "127.0.0.1", "[::1]"}},
		{name: "own address on a LAN", listen: "10.0.0.5:8080",
			local: []string{"localhost", "127.0.0.1", "[::1]", "10.0.0.5"}},
		{name: "all interfaces", listen: "0.0.0.0:8080",
			local: []string{"localhost", "127.0.0.1", "[::1]"}},
		{name: "a DNS name", listen: "MCP.internal:8080",
			local: []string{"localhost", "127.0.0.1", "[::1]", "mcp.internal"}},
		{name: "resource and allowedHosts", listen: "127.0.0.1:8080", resource: "https://GW.example.com/mcp", allowed: []string{"proxy.example.com:8443"},
			local: []string{"localhost", "127.0.0.1", "[::1]"}, hosts: []string{"proxy.example.com:8443", "gw.example.com"}},
		{name: "star", listen: "127.0.0.1:8080", allowed: []string{"*"}, wantNil: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &config.Config{Listen: tt.listen, AllowedHosts: tt.allowed}
			cfg.Auth.Resource = tt.resource
			p := hostPolicy(cfg)
			if tt.wantNil {
				if p != nil {
					t.Fatalf("policy %+v, want none", p)
				}
				return
			}
			if !slices.Equal(p.LocalNames, tt.local) || !slices.Equal(p.Hosts, tt.hosts) && len(p.Hosts)+len(tt.hosts) > 0 {
				t.Errorf("policy %+v, want local %q hosts %q", p, tt.local, tt.hosts)
			}
		})
	}
}
