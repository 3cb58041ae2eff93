package config

import (
	"slices"
	"strings"
	"testing"
)

func TestForwardHeaders(t *testing.T) {
	one := func(list string) string {
		return "backends:\n  - name: web\n    url: http://127.0.0.1:3001/mcp\n    forwardHeaders: " + list + "\nauth: {mode: anonymous}\n"
	}
	c := mustParse(t, one("[X-Tenant, accept-language]"))
	if got := c.Backends[0].ForwardHeaders; !slices.Equal(got, []string{"X-Tenant", "accept-language"}) {
		t.Errorf("forwardHeaders = %q", got)
	}

	tests := []struct{ name, src, want string }{
		{"identity header", one("[X-Amzn-Oidc-Identity]"), "backends[0].forwardHeaders[0]: X-Amzn-Oidc-Identity may not be forwarded: the gateway manages it"},
		{"underscore spelling of an identity header", one("[X_Forwarded_User]"), "backends[0].forwardHeaders[0]: X_Forwarded_User may not be forwarded: the gateway manages it"},
		{"credential", one("[authorization]"), "authorization may not be forwarded: the gateway manages it"},
		{"the API-key header", one("[X-Api-Key]"), "X-Api-Key may not be forwarded: the gateway manages it"},
		{"a configured API-key header", "auth: {mode: anonymous, apiKeyHeader: X-Tenant-Key}\nbackends:\n  - name: web\n    url: http://127.0.0.1:3001/mcp\n    forwardHeaders: [X-Tenant-Key]\n",
			"X-Tenant-Key may not be forwarded: the gateway manages it"},
		{"baggage", one("[baggage]"), "baggage may not be forwarded: the gateway manages it"},
		{"forwarding claim", one("[X-Real-IP]"), "X-Real-IP may not be forwarded: the gateway manages it"},
		{"MCP header", one("[Mcp-Session-Id]"), "Mcp-Session-Id is always forwarded; remove it"},
		{"Mcp-Param header", one("[Mcp-Param-Region]"), "Mcp-Param-Region is always forwarded; remove it"},
		{"content type", one("[content-type]"), "content-type is always forwarded; remove it"},
		{"hop-by-hop", one("[Upgrade]"), "Upgrade may not be forwarded (hop-by-hop)"},
		{"Host", one("[Host]"), "Host may not be forwarded (derived from url)"},
		{"Accept-Encoding", one("[Accept-Encoding]"), "Accept-Encoding may not be forwarded: responses must arrive uncompressed"},
		{"not a token", one(`["X Tenant"]`), `backends[0].forwardHeaders[0]: invalid header name "X Tenant"`},
		{"duplicate", one("[X-Tenant, x_tenant]"), "backends[0].forwardHeaders[1]: duplicate header x_tenant (also X-Tenant"},
		{"command backend", "backends:\n  - name: cmd\n    command: [server]\n    forwardHeaders: [X-Tenant]\nauth: {mode: anonymous}\n",
			"backends[0].forwardHeaders: only applies to url backends"},
		{"aggregating mode", "backends:\n  - name: a\n    url: http://127.0.0.1:3001/mcp\n    forwardHeaders: [X-Tenant]\n  - name: b\n    url: http://127.0.0.1:3002/mcp\nauth: {mode: anonymous}\n",
			"backends[0].forwardHeaders: only applies with one backend"},
		{"API-key header that is always forwarded", "auth: {mode: anonymous, apiKeyHeader: User-Agent}\n" + minimalURL[:strings.Index(minimalURL, "auth:")],
			"auth.apiKeyHeader: cannot be User-Agent: that header is forwarded to the backend"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("mcpgate.yaml", []byte(tc.src), fakeLookup(nil, nil))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error\n%v\nwant it to contain\n%s", err, tc.want)
			}
		})
	}
}

func TestAllowedHosts(t *testing.T) {
	c := mustParse(t, "allowedHosts: [MCP.example.com, \"proxy.example.com:8443\", \"10.0.0.5\", \"[::1]:9000\", \"[2001:db8::1]\"]\n"+minimalURL)
	if want := []string{"mcp.example.com", "proxy.example.com:8443", "10.0.0.5", "[::1]:9000", "[2001:db8::1]"}; !slices.Equal(c.AllowedHosts, want) {
		t.Errorf("allowedHosts = %q, want %q (lower-cased)", c.AllowedHosts, want)
	}
	if c := mustParse(t, "allowedHosts: [\"*\"]\n"+minimalURL); !slices.ContainsFunc(c.Warnings(), func(w string) bool { return strings.Contains(w, `allowedHosts contains "*"`) }) {
		t.Errorf("no warning for allowedHosts *: %q", c.Warnings())
	}
	public := "listen: 0.0.0.0:8080\nbackends:\n  - name: web\n    url: http://127.0.0.1:3001/mcp\nauth: {mode: anonymous, allowAnonymousOnPublicListener: true}\n"
	names := func(c *Config) bool {
		return slices.ContainsFunc(c.Warnings(), func(w string) bool { return strings.Contains(w, "neither auth.resource nor allowedHosts") })
	}
	if !names(mustParse(t, public)) {
		t.Errorf("no warning for a public listener without a name: %q", mustParse(t, public).Warnings())
	}
	if names(mustParse(t, "allowedHosts: [mcp.example.com]\n"+public)) || names(mustParse(t, minimalURL)) {
		t.Error("a warning about the listener's names where they are known or not needed")
	}
	tests := []struct{ name, list, want string }{
		{"URL", `["https://mcp.example.com"]`, `allowedHosts[0]: "https://mcp.example.com" is not a host`},
		{"path", `["mcp.example.com/mcp"]`, `allowedHosts[0]: "mcp.example.com/mcp" is not a host`},
		{"bare IPv6", `["::1"]`, `allowedHosts[0]: "::1" must write an IPv6 address in brackets`},
		{"bad port", `["mcp.example.com:0"]`, `allowedHosts[0]: "mcp.example.com:0" has an invalid port`},
		{"empty port", `["mcp.example.com:"]`, `allowedHosts[0]: "mcp.example.com:" has an invalid port`},
		{"no host", `[":8080"]`, `allowedHosts[0]: ":8080" is not a host`},
		{"wildcard name", `["*.example.com"]`, `allowedHosts[0]: "*.example.com" is not a host`},
		{"star with names", `["*", mcp.example.com]`, `allowedHosts[0]: "*" turns the Host check off and cannot be combined with names`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("mcpgate.yaml", []byte("allowedHosts: "+tc.list+"\n"+minimalURL), fakeLookup(nil, nil))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error\n%v\nwant it to contain\n%s", err, tc.want)
			}
		})
	}
}
