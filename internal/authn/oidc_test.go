package authn

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/record"
	"github.com/mcpgate/mcpgate/internal/testidp"
)

const challenge401 = `Bearer resource_metadata="https://gw.example.com/.well-known/oauth-protected-resource/mcp"`

const invalidToken = challenge401 + `, error="invalid_token", error_description="The access token is invalid, expired or not meant for this resource"`

const invalidRequest = challenge401 + `, error="invalid_request", error_description="The request presents credentials in a way this server does not accept"`

func TestOIDC(t *testing.T) {
	p := testidp.New(t)
	clk := newClock()
	k1 := testidp.NewKey(t, "k1", jose.ES256)
	rsaKey := testidp.NewKey(t, "r1", jose.RS256)
	p.Publish(k1, rsaKey)
	opts := baseOptions(p, clk)
	opts.Issuers[0].RequiredScopes = nil
	a := start(t, opts)
	scoped := opts
	scoped.Issuers = []Issuer{opts.Issuers[0]}
	scoped.Issuers[0].RequiredScopes = []string{"mcp:tools", "mcp:read"}
	scopedAuth := start(t, scoped)

	now := clk.Now().Unix()
	with := func(mod func(c map[string]any)) map[string]any {
		c := claimsFor(p, clk)
		mod(c)
		return c
	}
	stranger := testidp.NewKey(t, "k1", jose.ES256) // same kid, not the IdP's key

	tests := []struct {
		name      string
		auth      *Authenticator
		req       func() *http.Request
		code      int
		challenge string // exact WWW-Authenticate ("" = none)
		detail    string // substring of the record's detail
		sub       string // identity subject when accepted
	}{
		{"valid token", a, func() *http.Request { return bearer(testidp.Sign(t, k1, claimsFor(p, clk))) }, 200, "", "", "user-1"},
		{"valid RS256 token", a, func() *http.Request { return bearer(testidp.Sign(t, rsaKey, claimsFor(p, clk))) }, 200, "", "", "user-1"},
		{"lower-case scheme", a, func() *http.Request {
			r := bearer("")
			r.Header.Set("Authorization", "bearer "+testidp.Sign(t, k1, claimsFor(p, clk)))
			return r
		}, 200, "", "", "user-1"},
		{"aud list with one accepted value", a, func() *http.Request {
			return bearer(testidp.Sign(t, k1, with(func(c map[string]any) { c["aud"] = []string{"other", "mcpgate"} })))
		}, 200, "", "", "user-1"},
		{"expired", a, func() *http.Request {
			return bearer(testidp.Sign(t, k1, with(func(c map[string]any) { c["exp"] = now - 180 })))
		}, 401, invalidToken, "token expired 3m0s ago", ""},
		{"expired within skew", a, func() *http.Request {
			return bearer(testidp.Sign(t, k1, with(func(c map[string]any) { c["exp"] = now - 30 })))
		}, 200, "", "", "user-1"},
		{"no exp", a, func() *http.Request {
			return bearer(testidp.Sign(t, k1, with(func(c map[string]any) { delete(c, "exp") })))
		}, 401, invalidToken, "token has no exp claim", ""},
		{"not yet valid (nbf)", a, func() *http.Request {
			return bearer(testidp.Sign(t, k1, with(func(c map[string]any) { c["nbf"] = now + 300 })))
		}, 401, invalidToken, "token not valid for another 5m0s (nbf)", ""},
		{"nbf within skew", a, func() *http.Request {
			return bearer(testidp.Sign(t, k1, with(func(c map[string]any) { c["nbf"] = now + 30 })))
		}, 200, "", "", "user-1"},
		{"issued in the future", a, func() *http.Request {
			return bearer(testidp.Sign(t, k1, with(func(c map[string]any) { c["iat"] = now + 3600 })))
		}, 401, invalidToken, "issued 1h0m0s in the future", ""},
		{"wrong audience", a, func() *http.Request {
			return bearer(testidp.Sign(t, k1, with(func(c map[string]any) { c["aud"] = "https://other.example.com/mcp" })))
		}, 401, invalidToken, "audience mismatch", ""},
		{"no audience", a, func() *http.Request {
			return bearer(testidp.Sign(t, k1, with(func(c map[string]any) { delete(c, "aud") })))
		}, 401, invalidToken, "audience mismatch", ""},
		{"wrong issuer", a, func() *http.Request {
			return bearer(testidp.Sign(t, k1, with(func(c map[string]any) { c["iss"] = "https://evil.example.com" })))
		}, 401, invalidToken, `unknown issuer "https://evil.example.com"`, ""},
		{"no sub", a, func() *http.Request {
			return bearer(testidp.Sign(t, k1, with(func(c map[string]any) { delete(c, "sub") })))
		}, 401, invalidToken, "no sub claim", ""},
		{"bad signature (same kid, other key)", a, func() *http.Request {
			return bearer(testidp.Sign(t, stranger, claimsFor(p, clk)))
		}, 401, invalidToken, `bad signature (kid "k1")`, ""},
		{"tampered payload", a, func() *http.Request {
			parts := strings.Split(testidp.Sign(t, k1, claimsFor(p, clk)), ".")
			evil, _ := json.Marshal(with(func(c map[string]any) { c["sub"] = "admin" }))
			parts[1] = base64.RawURLEncoding.EncodeToString(evil)
			return bearer(strings.Join(parts, "."))
		}, 401, invalidToken, "bad signature", ""},
		{"alg none", a, func() *http.Request { return bearer(unsigned(claimsFor(p, clk))) }, 401, invalidToken, "malformed token", ""},
		{"HS256 keyed with the RSA public key", a, func() *http.Request {
			return bearer(hmacWithPublicKey(t, rsaKey, claimsFor(p, clk)))
		}, 401, invalidToken, "malformed token", ""},
		{"not a JWT", a, func() *http.Request { return bearer("abc.def") }, 401, invalidToken, "malformed token", ""},
		{"payload not JSON", a, func() *http.Request { return bearer(garbagePayload(t, k1)) }, 401, invalidToken, "not a JSON object", ""},
		{"no credential", a, func() *http.Request { return httptest.NewRequest("POST", "/mcp", nil) }, 401, challenge401, "no credential presented", ""},
		{"empty Bearer", a, func() *http.Request { return bearer("") }, 401, invalidRequest, "malformed Bearer", ""},
		{"other scheme", a, func() *http.Request {
			r := bearer("")
			r.Header.Set("Authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l")
			return r
		}, 401, challenge401, `unsupported authorization scheme "Basic"`, ""},
		{"two tokens in the header", a, func() *http.Request { return bearer("abc def") }, 401, invalidRequest, "malformed Bearer", ""},
		{"two Authorization headers", a, func() *http.Request {
			r := bearer(testidp.Sign(t, k1, claimsFor(p, clk)))
			r.Header.Add("Authorization", "Bearer x")
			return r
		}, 401, invalidRequest, "2 Authorization headers", ""},
		{"token in the query string", a, func() *http.Request {
			r := bearer(testidp.Sign(t, k1, claimsFor(p, clk)))
			r.URL.RawQuery = "access_token=" + testidp.Sign(t, k1, claimsFor(p, clk))
			return r
		}, 401, invalidRequest, "access token in the query string", ""},
		{"token in the query string only", a, func() *http.Request {
			r := bearer("")
			r.URL.RawQuery = "x=1&access%5Ftoken=abc"
			return r
		}, 401, invalidRequest, "access token in the query string", ""},
		{"required scopes present (scope)", scopedAuth, func() *http.Request {
			return bearer(testidp.Sign(t, k1, with(func(c map[string]any) { c["scope"] = "openid mcp:read mcp:tools" })))
		}, 200, "", "", "user-1"},
		{"required scopes present (scp list)", scopedAuth, func() *http.Request {
			return bearer(testidp.Sign(t, k1, with(func(c map[string]any) { c["scp"] = []string{"mcp:tools", "mcp:read"} })))
		}, 200, "", "", "user-1"},
		{"required scope missing", scopedAuth, func() *http.Request {
			return bearer(testidp.Sign(t, k1, with(func(c map[string]any) { c["scope"] = "mcp:read" })))
		}, 403, challenge401 + `, scope="mcp:tools mcp:read", error="insufficient_scope", error_description="The access token lacks a required scope"`, "lacks scope mcp:tools", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(tt.auth, tt.req())
			if res.code != tt.code {
				t.Fatalf("status %d, want %d (detail %q)", res.code, tt.code, res.rec.Detail)
			}
			if got := res.header.Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate:\n got %s\nwant %s", got, tt.challenge)
			}
			if tt.code == 200 {
				if !res.reached || res.id == nil || res.id.Subject != tt.sub || res.rec.Identity != res.id || res.rec.Reason != "" {
					t.Fatalf("accepted request: reached %v identity %+v record %+v", res.reached, res.id, res.rec)
				}
				return
			}
			if res.reached {
				t.Error("a rejected request reached the next handler")
			}
			wantReason := record.ReasonUnauthenticated
			if tt.code == 403 {
				wantReason = record.ReasonForbidden
			}
			if res.rec.Reason != wantReason || !strings.Contains(res.rec.Detail, tt.detail) || res.rec.Identity != nil {
				t.Errorf("record reason %q detail %q identity %v; want %q, detail containing %q", res.rec.Reason, res.rec.Detail, res.rec.Identity, wantReason, tt.detail)
			}
			if strings.Contains(res.body, tt.detail) && tt.detail != "" {
				t.Errorf("the response body reveals the detail: %s", res.body)
			}
			var body struct {
				JSONRPC string
				Error   struct{ Code int64 }
			}
			if err := json.Unmarshal([]byte(res.body), &body); err != nil || body.JSONRPC != "2.0" || body.Error.Code == 0 {
				t.Errorf("body is not a JSON-RPC error: %s", res.body)
			}
		})
	}
}

func TestOIDCIdentity(t *testing.T) {
	p := testidp.New(t)
	clk := newClock()
	k1 := testidp.NewKey(t, "k1", jose.ES256)
	p.Publish(k1)
	opts := baseOptions(p, clk)
	opts.Issuers[0].GroupsClaim = "roles"
	opts.Issuers[0].EmailClaim = ""
	a := start(t, opts)
	c := claimsFor(p, clk)
	c["roles"] = "admin"
	res := do(a, bearer(testidp.Sign(t, k1, c)))
	if res.code != 200 {
		t.Fatalf("status %d: %s", res.code, res.rec.Detail)
	}
	id := res.id
	want := identity.Identity{Subject: "user-1", Issuer: p.URL, Name: "Ada Lovelace", Groups: []string{"admin"}, Method: identity.MethodOIDC}
	got := *id
	got.Claims = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("identity %+v, want %+v", got, want)
	}
	if id.Claims["email"] != "ada@example.com" || id.Claims["sub"] != "user-1" {
		t.Errorf("claims %v", id.Claims)
	}
}

func TestCachedTokenExpires(t *testing.T) {
	p := testidp.New(t)
	clk := newClock()
	k1 := testidp.NewKey(t, "k1", jose.ES256)
	p.Publish(k1)
	a := start(t, baseOptions(p, clk))
	c := claimsFor(p, clk)
	c["exp"] = clk.Now().Unix() + 30
	tok := testidp.Sign(t, k1, c)
	if res := do(a, bearer(tok)); res.code != 200 {
		t.Fatalf("fresh token: %d %s", res.code, res.rec.Detail)
	}
	if a.cache.len() != 1 {
		t.Fatalf("cache has %d entries, want 1", a.cache.len())
	}
	clk.Advance(30*time.Second + time.Minute + time.Second) // past exp + skew
	res := do(a, bearer(tok))
	if res.code != 401 || !strings.Contains(res.rec.Detail, "expired") {
		t.Fatalf("cached token after exp+skew: %d %q", res.code, res.rec.Detail)
	}
}

// TestKeyRotation: a token signed with a key the gateway has not seen is
// accepted after one refetch of the JWKS.
func TestKeyRotation(t *testing.T) {
	p := testidp.New(t)
	clk := newClock()
	k1, k2 := testidp.NewKey(t, "k1", jose.ES256), testidp.NewKey(t, "k2", jose.ES256)
	p.Publish(k1)
	a := start(t, baseOptions(p, clk))
	before := p.JWKSFetches()

	p.Publish(k2)
	clk.Advance(11 * time.Second) // past jwksMinRefreshInterval since the start-up fetch
	res := do(a, bearer(testidp.Sign(t, k2, claimsFor(p, clk))))
	if res.code != 200 {
		t.Fatalf("token of the rotated-in key: %d %q", res.code, res.rec.Detail)
	}
	if n := p.JWKSFetches() - before; n != 1 {
		t.Errorf("%d JWKS fetches for the rotation, want 1", n)
	}
	if p.DiscoveryCalls() != 1 {
		t.Errorf("%d discovery calls, want 1 (the JWKS URL is remembered)", p.DiscoveryCalls())
	}
}

// TestUnknownKidFlood: a flood of tokens with made-up kids costs the IdP
// at most one extra JWKS fetch per jwksMinRefreshInterval.
func TestUnknownKidFlood(t *testing.T) {
	p := testidp.New(t)
	clk := newClock()
	p.Publish(testidp.NewKey(t, "k1", jose.ES256))
	a := start(t, baseOptions(p, clk))
	before := p.JWKSFetches()
	clk.Advance(11 * time.Second)

	attacker := testidp.NewKey(t, "", jose.ES256)
	toks := make([]string, 100)
	for i := range toks {
		attacker.KID = "random-" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26))
		toks[i] = testidp.Sign(t, attacker, claimsFor(p, clk))
	}
	results := make(chan result, len(toks))
	for _, tok := range toks {
		go func() { results <- do(a, bearer(tok)) }()
	}
	for range toks {
		res := <-results
		if res.code != 401 || !strings.Contains(res.rec.Detail, "unknown kid") {
			t.Fatalf("made-up kid: %d %q", res.code, res.rec.Detail)
		}
	}
	if n := p.JWKSFetches() - before; n > 1 {
		t.Errorf("%d JWKS fetches for 100 unknown kids, want at most 1", n)
	}
}

// TestKeyRemoved: once a refresh shows a key gone, tokens it signed stop
// working at once, cached or not.
func TestKeyRemoved(t *testing.T) {
	p := testidp.New(t)
	clk := newClock()
	k1, k2 := testidp.NewKey(t, "k1", jose.ES256), testidp.NewKey(t, "k2", jose.ES256)
	p.Publish(k1, k2)
	a := start(t, baseOptions(p, clk))
	tok1, tok2 := testidp.Sign(t, k1, claimsFor(p, clk)), testidp.Sign(t, k2, claimsFor(p, clk))
	for _, tok := range []string{tok1, tok2} {
		if res := do(a, bearer(tok)); res.code != 200 {
			t.Fatalf("before removal: %d %q", res.code, res.rec.Detail)
		}
	}
	if a.cache.len() != 2 {
		t.Fatalf("cache has %d entries, want 2", a.cache.len())
	}

	p.Withdraw("k1")
	// What the periodic refresh does.
	if err := a.keySets[0].refresh(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	if a.cache.len() != 1 {
		t.Errorf("cache has %d entries after k1's removal, want 1 (k2's)", a.cache.len())
	}
	res := do(a, bearer(tok1))
	if res.code != 401 || !strings.Contains(res.rec.Detail, `unknown kid "k1"`) {
		t.Errorf("token of the removed key: %d %q", res.code, res.rec.Detail)
	}
	if res := do(a, bearer(tok2)); res.code != 200 {
		t.Errorf("token of the remaining key: %d %q", res.code, res.rec.Detail)
	}
}

// TestBackgroundRefresh: the periodic refresh alone retires a removed key.
func TestBackgroundRefresh(t *testing.T) {
	p := testidp.New(t)
	clk := newClock()
	k1 := testidp.NewKey(t, "k1", jose.ES256)
	p.Publish(k1, testidp.NewKey(t, "k2", jose.ES256))
	opts := baseOptions(p, clk)
	opts.JWKSRefreshInterval = 20 * time.Millisecond
	opts.JWKSMinRefreshInterval = 10 * time.Millisecond
	a := start(t, opts)
	tok := testidp.Sign(t, k1, claimsFor(p, clk))
	if res := do(a, bearer(tok)); res.code != 200 {
		t.Fatalf("before removal: %d %q", res.code, res.rec.Detail)
	}
	p.Withdraw("k1")
	waitFor(t, "the removed key to be rejected", func() bool { return do(a, bearer(tok)).code == 401 })
}

// TestIdPDownAtStart: the gateway starts without keys, answers 503 to
// requests bearing tokens, and recovers once the IdP is back.
func TestIdPDownAtStart(t *testing.T) {
	p := testidp.New(t)
	clk := newClock()
	k1 := testidp.NewKey(t, "k1", jose.ES256)
	p.Publish(k1)
	p.SetDown(true)
	opts := baseOptions(p, clk)
	opts.APIKeys = []APIKey{{Subject: "ci", SHA256: Digest(testKey)}}
	a := start(t, opts)
	if err := a.Ready(); err == nil || !strings.Contains(err.Error(), "no signing keys yet") {
		t.Fatalf("Ready() = %v, want an error about missing keys", err)
	}

	tok := testidp.Sign(t, k1, claimsFor(p, clk))
	res := do(a, bearer(tok))
	if res.code != 503 || res.header.Get("Retry-After") == "" || res.header.Get("WWW-Authenticate") != "" {
		t.Fatalf("IdP down at start: %d Retry-After %q WWW-Authenticate %q", res.code, res.header.Get("Retry-After"), res.header.Get("WWW-Authenticate"))
	}
	if res.rec.Reason != record.ReasonAuthUnavailable || !strings.Contains(res.rec.Detail, "no signing keys fetched yet") {
		t.Errorf("record %q %q", res.rec.Reason, res.rec.Detail)
	}
	if !strings.Contains(res.body, `"code":-32000`) {
		t.Errorf("body %s", res.body)
	}
	if res := do(a, apiKeyReq(testKey)); res.code != 200 {
		t.Errorf("API keys must not depend on the IdP: %d", res.code)
	}
	if res := do(a, bearer("abc.def.ghi")); res.code != 401 {
		t.Errorf("a malformed token is still 401 while the IdP is down, got %d", res.code)
	}

	p.SetDown(false)
	clk.Advance(11 * time.Second) // let a request trigger a fetch
	if res := do(a, bearer(tok)); res.code != 200 {
		t.Fatalf("IdP back: %d %q", res.code, res.rec.Detail)
	}
	if err := a.Ready(); err != nil {
		t.Errorf("Ready() = %v after keys arrived", err)
	}
}

// TestIdPDownLater: cached keys keep verifying; an unknown kid fails closed.
func TestIdPDownLater(t *testing.T) {
	p := testidp.New(t)
	clk := newClock()
	k1, k2 := testidp.NewKey(t, "k1", jose.ES256), testidp.NewKey(t, "k2", jose.ES256)
	p.Publish(k1)
	a := start(t, baseOptions(p, clk))
	p.SetDown(true)
	p.Publish(k2)
	clk.Advance(11 * time.Second)

	c := claimsFor(p, clk)
	c["sub"] = "user-2" // a token never seen, so not in the token cache
	if res := do(a, bearer(testidp.Sign(t, k1, c))); res.code != 200 {
		t.Errorf("known key while the IdP is down: %d %q", res.code, res.rec.Detail)
	}
	res := do(a, bearer(testidp.Sign(t, k2, claimsFor(p, clk))))
	if res.code != 401 || res.header.Get("WWW-Authenticate") != invalidToken || !strings.Contains(res.rec.Detail, `unknown kid "k2"; key set refresh failed`) {
		t.Errorf("unknown kid while the IdP is down: %d %q %q", res.code, res.header.Get("WWW-Authenticate"), res.rec.Detail)
	}
	if err := a.Ready(); err != nil {
		t.Errorf("Ready() = %v: cached keys still serve", err)
	}
}

func TestJWKSURLSkipsDiscovery(t *testing.T) {
	p := testidp.New(t)
	clk := newClock()
	k1 := testidp.NewKey(t, "k1", jose.ES256)
	p.Publish(k1)
	opts := baseOptions(p, clk)
	opts.Issuers[0].JWKSURL = p.JWKSURL()
	a := start(t, opts)
	if res := do(a, bearer(testidp.Sign(t, k1, claimsFor(p, clk)))); res.code != 200 {
		t.Fatalf("%d %q", res.code, res.rec.Detail)
	}
	if n := p.DiscoveryCalls(); n != 0 {
		t.Errorf("%d discovery calls with jwksURL set", n)
	}
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	p := testidp.New(t)
	clk := newClock()
	opts := baseOptions(p, clk)
	opts.Issuers[0].Issuer = p.URL + "/" // discovery says it without the slash
	a := start(t, opts)
	if err := a.Ready(); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("Ready() = %v", err)
	}
}

func TestParseJWKSDropsUnsafeKeys(t *testing.T) {
	ec := testidp.NewKey(t, "ec", jose.ES256)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: ec.Signer.Public(), KeyID: "ec", Algorithm: "ES256", Use: "sig"},
		{Key: ec.Signer.Public(), KeyID: "enc", Use: "enc"},
		{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "hmac", Algorithm: "HS256"},
		{Key: &small.PublicKey, KeyID: "small", Algorithm: "RS256"},
		{Key: ec.Signer, KeyID: "private"},
	}}
	body, _ := json.Marshal(set)
	keys, err := parseJWKS(body)
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range keys {
		kids = append(kids, k.KeyID)
	}
	if !reflect.DeepEqual(kids, []string{"ec", "private"}) {
		t.Errorf("kept %v, want [ec private] (the private key reduced to its public half)", kids)
	}
	if !keys[1].IsPublic() {
		t.Error("private key kept as private")
	}
}

// unsigned makes an alg:none token.
func unsigned(claims map[string]any) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	b, _ := json.Marshal(claims)
	return h + "." + base64.RawURLEncoding.EncodeToString(b) + "."
}

// hmacWithPublicKey is the classic key-confusion attack: HS256 keyed with
// the bytes of the issuer's RSA public key.
func hmacWithPublicKey(t *testing.T, k *testidp.Key, claims map[string]any) string {
	der, err := x509.MarshalPKIXPublicKey(k.Signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: pemBytes}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.KID))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := jws.CompactSerialize()
	return tok
}

func garbagePayload(t *testing.T, k *testidp.Key) string {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.Alg, Key: k.Signer}, (&jose.SignerOptions{}).WithHeader("kid", k.KID))
	if err != nil {
		t.Fatal(err)
	}
	jws, _ := s.Sign([]byte("not json"))
	tok, _ := jws.CompactSerialize()
	return tok
}
