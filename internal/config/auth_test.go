package config

import (
	"reflect"
	"strings"
	"testing"
)

const authBackend = "backends:\n  - name: a\n    url: http://127.0.0.1:1\n"

const digestA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func TestAuthForms(t *testing.T) {
	tests := []struct {
		name  string
		auth  string
		check func(t *testing.T, c *Config)
	}{
		{"inline issuer, audience string", `auth:
  mode: oidc
  resource: https://gw.example.com/mcp
  oidc: {issuer: https://idp.example.com, audience: mcpgate}
`, func(t *testing.T, c *Config) {
			want := []OIDCIssuer{{Issuer: "https://idp.example.com", Audiences: []string{"mcpgate"},
				Claims: OIDCClaims{Name: "name", Email: "email", Groups: "groups"}}}
			if !reflect.DeepEqual(c.Auth.OIDC.Issuers, want) {
				t.Errorf("issuers = %+v, want %+v", c.Auth.OIDC.Issuers, want)
			}
		}},
		{"inline issuer with every key", `auth:
  mode: [oidc]
  resource: http://127.0.0.1:8080/mcp
  oidc:
    issuer: http://localhost:5556
    audience: [a, b]
    jwksURL: http://localhost:5556/keys?v=1
    claims: {name: preferred_username}
    requiredScopes: [mcp]
    requireTokenType: at+jwt
    skew: 0
`, func(t *testing.T, c *Config) {
			is := c.Auth.OIDC.Issuers[0]
			if is.RequireTokenType != "at+jwt" {
				t.Errorf("requireTokenType = %q", is.RequireTokenType)
			}
			if is.JWKSURL != "http://localhost:5556/keys?v=1" || !reflect.DeepEqual(is.Audiences, []string{"a", "b"}) ||
				is.Claims != (OIDCClaims{Name: "preferred_username", Email: "email", Groups: "groups"}) ||
				!reflect.DeepEqual(is.RequiredScopes, []string{"mcp"}) || c.Auth.OIDC.Skew != 0 {
				t.Errorf("issuer = %+v skew %v", is, c.Auth.OIDC.Skew)
			}
		}},
		{"issuers list", `auth:
  mode: oidc
  resource: https://gw.example.com/mcp
  oidc:
    issuers:
      - {issuer: https://a.example.com, audience: x}
      - {issuer: https://b.example.com, audience: [y], claims: {groups: ""}}
`, func(t *testing.T, c *Config) {
			is := c.Auth.OIDC.Issuers
			if len(is) != 2 || is[1].Issuer != "https://b.example.com" || is[1].Claims.Groups != "" || is[0].Claims.Groups != "groups" {
				t.Errorf("issuers = %+v", is)
			}
		}},
		{"api keys, digest lower-cased", `auth:
  mode: apiKey
  resource: https://gw.example.com/mcp
  apiKeys:
    - {subject: ci, sha256: "` + strings.ToUpper(digestA) + `", groups: [a]}
`, func(t *testing.T, c *Config) {
			want := []APIKey{{Subject: "ci", SHA256: digestA, Groups: []string{"a"}}}
			if !reflect.DeepEqual(c.Auth.APIKeys, want) {
				t.Errorf("apiKeys = %+v", c.Auth.APIKeys)
			}
		}},
		{"modes combined with anonymous warn", `auth:
  mode: [apiKey, anonymous]
  resource: https://gw.example.com/mcp
  apiKeys: [{subject: ci, sha256: ` + digestA + `}]
`, func(t *testing.T, c *Config) {
			if !c.Auth.Anonymous() || !c.Auth.Has(AuthAPIKey) {
				t.Errorf("modes = %v", c.Auth.Mode)
			}
			if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, "includes anonymous") {
				t.Errorf("warnings = %q, want one about anonymous", w)
			}
		}},
		{"resource path differs from path warns", `auth:
  mode: apiKey
  resource: https://gw.example.com/other
  apiKeys: [{subject: ci, sha256: ` + digestA + `}]
`, func(t *testing.T, c *Config) {
			if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, `has path "/other"`) {
				t.Errorf("warnings = %q", w)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, mustParse(t, authBackend+tt.auth))
		})
	}
}

func TestAuthErrors(t *testing.T) {
	const res = "  resource: https://gw.example.com/mcp\n"
	const key = "  apiKeys: [{subject: ci, sha256: " + digestA + "}]\n"
	tests := []struct {
		name string
		auth string
		want string
	}{
		{"unknown mode", "auth: {mode: basic}\n", `mcpgate.yaml:4: auth.mode: unknown mode "basic" (valid: anonymous, apiKey, oidc)`},
		{"mode twice", "auth:\n  mode: [apiKey, apiKey]\n" + res + key, `mcpgate.yaml:5: auth.mode: "apiKey" is listed twice`},
		{"oidc without issuer or resource", "auth:\n  mode: oidc\n",
			"mcpgate.yaml:4: auth.resource: required with mode oidc or apiKey: the absolute URL clients use for this endpoint, e.g. https://gw.example.com/mcp (tokens are issued for it, and 401 challenges point to its metadata)\n" +
				"mcpgate.yaml:4: auth.oidc: required with mode oidc: one issuer (auth.oidc.issuer and auth.oidc.audience) or a list under auth.oidc.issuers"},
		{"apiKey without keys", "auth:\n  mode: [apiKey]\n" + res, `mcpgate.yaml:4: auth.apiKeys: required with mode apiKey: at least one key (create one with: mcpgate apikey new --subject NAME)`},
		{"apiKeys without mode", "auth:\n  mode: anonymous\n" + key, `mcpgate.yaml:6: auth.apiKeys: is set but auth.mode does not include apiKey`},
		{"oidc without mode", "auth:\n  mode: anonymous\n  oidc: {issuer: https://idp.example.com, audience: x}\n", `mcpgate.yaml:6: auth.oidc: is set but auth.mode does not include oidc`},
		{"resource not https", "auth:\n  mode: apiKey\n  resource: http://gw.example.com/mcp\n" + key, `mcpgate.yaml:6: auth.resource: "http://gw.example.com/mcp" must use https (http is only allowed for a loopback host)`},
		{"resource relative", "auth:\n  mode: apiKey\n  resource: /mcp\n" + key, `mcpgate.yaml:6: auth.resource: "/mcp" is not an absolute URL (e.g. https://idp.example.com)`},
		{"resource with fragment", "auth:\n  mode: apiKey\n  resource: \"https://gw.example.com/mcp#x\"\n" + key, `mcpgate.yaml:6: auth.resource: "https://gw.example.com/mcp#x" must not have a fragment (#…)`},
		{"resource with query", "auth:\n  mode: apiKey\n  resource: https://gw.example.com/mcp?a=b\n" + key, `mcpgate.yaml:6: auth.resource: "https://gw.example.com/mcp?a=b" must not have a query (?…)`},
		{"issuer missing", "auth:\n  mode: oidc\n" + res + "  oidc: {audience: x}\n", `mcpgate.yaml:7: auth.oidc.issuer: required: the issuer URL, exactly as in the tokens' iss claim`},
		{"audience missing", "auth:\n  mode: oidc\n" + res + "  oidc:\n    issuer: https://idp.example.com\n", `mcpgate.yaml:7: auth.oidc.audience: required: the audience value(s) tokens for this gateway carry in aud (often auth.resource or a client id)`},
		{"audience empty in list", "auth:\n  mode: oidc\n" + res + "  oidc:\n    issuers:\n      - issuer: https://idp.example.com\n        audience: [a, \"\"]\n", `mcpgate.yaml:10: auth.oidc.issuers[0].audience[1]: must not be empty`},
		{"issuer http non-loopback", "auth:\n  mode: oidc\n" + res + "  oidc:\n    issuers:\n      - {issuer: http://idp.example.com, audience: a}\n", `mcpgate.yaml:9: auth.oidc.issuers[0].issuer: "http://idp.example.com" must use https (http is only allowed for a loopback host)`},
		{"duplicate issuer", "auth:\n  mode: oidc\n" + res + "  oidc:\n    issuers:\n      - {issuer: https://a.example.com, audience: a}\n      - {issuer: https://a.example.com, audience: b}\n", `mcpgate.yaml:10: auth.oidc.issuers[1].issuer: duplicate issuer "https://a.example.com" (also auth.oidc.issuers[0])`},
		{"inline and list", "auth:\n  mode: oidc\n" + res + "  oidc:\n    issuer: https://a.example.com\n    issuers: []\n", `mcpgate.yaml:8: auth.oidc.issuer: cannot be combined with issuers: put every issuer, with its issuer, in the issuers list`},
		{"null issuer", "auth:\n  mode: oidc\n" + res + "  oidc:\n    issuers:\n      -\n", `mcpgate.yaml:9: auth.oidc.issuers[0]: expected an issuer mapping (issuer, audience, …), got null`},
		{"unknown issuer key", "auth:\n  mode: oidc\n" + res + "  oidc:\n    issuers:\n      - {issuer: https://a.example.com, audiences: [a]}\n", `mcpgate.yaml:9: auth.oidc.issuers[0]: unknown key "audiences"; did you mean "audience"? (known keys here: issuer, audience, jwksURL, claims, requiredScopes, requireTokenType)`},
		{"bad jwksURL", "auth:\n  mode: oidc\n" + res + "  oidc: {issuer: https://a.example.com, audience: a, jwksURL: ftp://a.example.com/k}\n", `mcpgate.yaml:7: auth.oidc.jwksURL: "ftp://a.example.com/k" must use https`},
		{"bad scope", "auth:\n  mode: oidc\n" + res + "  oidc: {issuer: https://a.example.com, audience: a, requiredScopes: [\"a b\"]}\n", `mcpgate.yaml:7: auth.oidc.requiredScopes[0]: invalid scope "a b" (printable ASCII without spaces, quotes or backslashes)`},
		{"unsupported token type", "auth:\n  mode: oidc\n" + res + "  oidc: {issuer: https://a.example.com, audience: a, requireTokenType: JWT}\n", `mcpgate.yaml:7: auth.oidc.requireTokenType: unsupported token type "JWT" (valid: at+jwt, the RFC 9068 JWT access token type; omit the key to accept any typ)`},
		{"unsupported token type in list", "auth:\n  mode: oidc\n" + res + "  oidc:\n    issuers:\n      - {issuer: https://a.example.com, audience: a, requireTokenType: application/at+jwt}\n", `mcpgate.yaml:9: auth.oidc.issuers[0].requireTokenType: unsupported token type "application/at+jwt" (valid: at+jwt, the RFC 9068 JWT access token type; omit the key to accept any typ)`},
		{"skew too large", "auth:\n  mode: oidc\n" + res + "  oidc: {issuer: https://a.example.com, audience: a, skew: 1h}\n", `mcpgate.yaml:7: auth.oidc.skew: must be at most 10m, got 1h0m0s (a large skew accepts tokens long after they expire)`},
		{"min refresh above refresh", "auth:\n  mode: oidc\n" + res + "  oidc: {issuer: https://a.example.com, audience: a, jwksRefreshInterval: 1m, jwksMinRefreshInterval: 2m}\n", `mcpgate.yaml:7: auth.oidc.jwksMinRefreshInterval: must be at most jwksRefreshInterval (1m0s), got 2m0s`},
		{"negative cache size", "auth:\n  mode: oidc\n" + res + "  oidc: {issuer: https://a.example.com, audience: a, tokenCacheSize: -1}\n", `mcpgate.yaml:7: auth.oidc.tokenCacheSize: must not be negative, got -1`},
		{"api key subject missing", "auth:\n  mode: apiKey\n" + res + "  apiKeys:\n    - {sha256: " + digestA + "}\n", `mcpgate.yaml:8: auth.apiKeys[0].subject: required`},
		{"api key digest is the key", "auth:\n  mode: apiKey\n" + res + "  apiKeys:\n    - {subject: ci, sha256: mcpg_abc}\n", `mcpgate.yaml:8: auth.apiKeys[0].sha256: must be 64 hexadecimal digits (the SHA-256 digest of the key, not the key itself)`},
		{"api key duplicate digest", "auth:\n  mode: apiKey\n" + res + "  apiKeys:\n    - {subject: a, sha256: " + digestA + "}\n    - {subject: b, sha256: " + strings.ToUpper(digestA) + "}\n", `mcpgate.yaml:9: auth.apiKeys[1].sha256: duplicate digest (also auth.apiKeys[0]): each key must map to one subject`},
		{"api key header Authorization", "auth:\n  mode: apiKey\n  apiKeyHeader: authorization\n" + res + key, `mcpgate.yaml:6: auth.apiKeyHeader: cannot be Authorization: API keys are accepted there already, as Authorization: Bearer mcpg_…`},
		{"bad authorization server", "auth:\n  mode: apiKey\n" + res + key + "  authorizationServers: [idp.example.com]\n", `mcpgate.yaml:8: auth.authorizationServers[0]: "idp.example.com" is not an absolute URL (e.g. https://idp.example.com)`},
		{"anonymous in list on public listener", "listen: 0.0.0.0:8080\nauth:\n  mode: [anonymous, apiKey]\n" + res + key, `mcpgate.yaml:6: auth.mode: anonymous access on the non-loopback listen address "0.0.0.0:8080": anyone who can reach it can use the backends; set auth.allowAnonymousOnPublicListener: true if that is intended`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("mcpgate.yaml", []byte(authBackend+tt.auth), fakeLookup(nil, nil))
			if err == nil {
				t.Fatalf("Parse succeeded (%+v); want error\n%s", c.Auth, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}
