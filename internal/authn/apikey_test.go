package authn

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/record"
	"github.com/mcpgate/mcpgate/internal/testidp"
)

const testKey = "mcpg_dGVzdC1rZXktMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3"

func apiKeyReq(key string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	r.Header.Set("X-API-Key", key)
	return r
}

func TestNewAPIKey(t *testing.T) {
	k1, d1, err := NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	k2, _, _ := NewAPIKey()
	if !strings.HasPrefix(k1, APIKeyPrefix) || len(k1) != len(APIKeyPrefix)+43 || k1 == k2 || !isToken68(k1) {
		t.Errorf("keys %q %q", k1, k2)
	}
	if d1 != Digest(k1) || len(d1) != 64 {
		t.Errorf("digest %q", d1)
	}
}

func TestAPIKeys(t *testing.T) {
	other, _, _ := NewAPIKey()
	p := testidp.New(t)
	clk := newClock()
	k1 := testidp.NewKey(t, "k1", jose.ES256)
	p.Publish(k1)

	keysOnly := start(t, Options{
		Resource: testResource,
		APIKeys: []APIKey{
			{Subject: "ci", SHA256: strings.ToUpper(Digest(testKey)), Groups: []string{"deploy"}},
			{Subject: "bob", SHA256: Digest(other)},
		},
	})
	customHeader := start(t, Options{Resource: testResource, APIKeyHeader: "x-gateway-key", APIKeys: []APIKey{{Subject: "ci", SHA256: Digest(testKey)}}})
	both := baseOptions(p, clk)
	both.APIKeys = []APIKey{{Subject: "ci", SHA256: Digest(testKey)}}
	bothAuth := start(t, both)

	tests := []struct {
		name      string
		auth      *Authenticator
		req       func() *http.Request
		code      int
		challenge string
		detail    string
		sub       string
		method    identity.Method
	}{
		{"key in header", keysOnly, func() *http.Request { return apiKeyReq(testKey) }, 200, "", "", "ci", identity.MethodAPIKey},
		{"key as Bearer", keysOnly, func() *http.Request { return bearer(testKey) }, 200, "", "", "ci", identity.MethodAPIKey},
		{"another key", keysOnly, func() *http.Request { return apiKeyReq(other) }, 200, "", "", "bob", identity.MethodAPIKey},
		{"wrong key", keysOnly, func() *http.Request { return apiKeyReq(testKey + "x") }, 401, invalidToken, "API key matches no configured digest", "", ""},
		{"the digest presented as the key", keysOnly, func() *http.Request { return apiKeyReq(Digest(testKey)) }, 401, invalidToken, "matches no configured digest", "", ""},
		{"wrong key as Bearer", keysOnly, func() *http.Request { return bearer("mcpg_nope") }, 401, invalidToken, "matches no configured digest", "", ""},
		{"JWT while oidc is off", keysOnly, func() *http.Request { return bearer("eyJhbGciOi.eyJ.sig") }, 401, invalidToken, "mode oidc is off", "", ""},
		{"no credential", keysOnly, func() *http.Request { return httptest.NewRequest("POST", "/mcp", nil) }, 401, challenge401, "no credential", "", ""},
		{"two key headers", keysOnly, func() *http.Request {
			r := apiKeyReq(testKey)
			r.Header.Add("X-API-Key", testKey)
			return r
		}, 401, invalidRequest, "2 X-Api-Key headers", "", ""},
		{"key header and Authorization", keysOnly, func() *http.Request {
			r := apiKeyReq(testKey)
			r.Header.Set("Authorization", "Bearer "+testKey)
			return r
		}, 401, invalidRequest, "both Authorization and X-Api-Key", "", ""},
		{"key header with control character", keysOnly, func() *http.Request { return apiKeyReq("mcpg_a\x01b") }, 401, invalidRequest, "malformed X-Api-Key", "", ""},
		{"custom header", customHeader, func() *http.Request {
			r := httptest.NewRequest("POST", "/mcp", nil)
			r.Header.Set("X-Gateway-Key", testKey)
			return r
		}, 200, "", "", "ci", identity.MethodAPIKey},
		{"default header ignored with a custom one", customHeader, func() *http.Request { return apiKeyReq(testKey) }, 401, challenge401, "no credential", "", ""},
		{"both modes: API key", bothAuth, func() *http.Request { return bearer(testKey) }, 200, "", "", "ci", identity.MethodAPIKey},
		{"both modes: JWT", bothAuth, func() *http.Request { return bearer(testidp.Sign(t, k1, claimsFor(p, clk))) }, 200, "", "", "user-1", identity.MethodOIDC},
		{"both modes: bad JWT", bothAuth, func() *http.Request { return bearer("eyJ.eyJ.x") }, 401, invalidToken, "malformed token", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(tt.auth, tt.req())
			if res.code != tt.code {
				t.Fatalf("status %d, want %d (%q)", res.code, tt.code, res.rec.Detail)
			}
			if got := res.header.Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate:\n got %s\nwant %s", got, tt.challenge)
			}
			if tt.code == 200 {
				if res.id == nil || res.id.Subject != tt.sub || res.id.Method != tt.method || res.rec.Identity != res.id {
					t.Fatalf("identity %+v", res.id)
				}
				if tt.method == identity.MethodAPIKey && res.id.Issuer != identity.APIKeyIssuer {
					t.Errorf("issuer %q", res.id.Issuer)
				}
				return
			}
			if res.reached || res.rec.Reason != record.ReasonUnauthenticated || !strings.Contains(res.rec.Detail, tt.detail) {
				t.Errorf("reached %v record %q %q, want detail containing %q", res.reached, res.rec.Reason, res.rec.Detail, tt.detail)
			}
		})
	}
	if id := do(keysOnly, apiKeyReq(testKey)).id; id.Groups[0] != "deploy" {
		t.Errorf("groups %v", id.Groups)
	}
}

func TestAnonymous(t *testing.T) {
	a := start(t, Options{Anonymous: true, Resource: testResource, APIKeys: []APIKey{{Subject: "ci", SHA256: Digest(testKey)}}})
	tests := []struct {
		name   string
		req    *http.Request
		code   int
		sub    string
		detail string
	}{
		{"no credential passes without identity", httptest.NewRequest("POST", "/mcp", nil), 200, "", ""},
		{"good key gets an identity", apiKeyReq(testKey), 200, "ci", ""},
		{"bad key is still rejected", apiKeyReq("mcpg_wrong"), 401, "", "matches no configured digest"},
		{"bad bearer is still rejected", bearer("eyJ.eyJ.x"), 401, "", "mode oidc is off"},
		{"token in query is still rejected", httptest.NewRequest("POST", "/mcp?access_token=x", nil), 401, "", "query string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(a, tt.req)
			if res.code != tt.code {
				t.Fatalf("status %d, want %d (%q)", res.code, tt.code, res.rec.Detail)
			}
			switch {
			case tt.code == 200 && tt.sub == "":
				if res.id != nil || res.rec.Identity != nil || res.rec.Reason != "" {
					t.Errorf("anonymous request got identity %+v / record %+v", res.id, res.rec)
				}
			case tt.code == 200:
				if res.id == nil || res.id.Subject != tt.sub {
					t.Errorf("identity %+v", res.id)
				}
			default:
				if res.reached || res.rec.Reason != record.ReasonUnauthenticated || !strings.Contains(res.rec.Detail, tt.detail) {
					t.Errorf("record %q %q", res.rec.Reason, res.rec.Detail)
				}
			}
		})
	}

	only := start(t, Options{Anonymous: true})
	res := do(only, bearer("whatever"))
	if res.code != 200 || res.id != nil {
		t.Errorf("anonymous-only: %d %+v", res.code, res.id)
	}
	if _, err := New(Options{}); err == nil {
		t.Error("New without any mode succeeded")
	}
}
