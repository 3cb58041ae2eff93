package testidp

import (
	"encoding/json"
	"net/http"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// TestIdP checks what both users of the fake rely on: discovery names the
// issuer and the JWKS, the JWKS follows Publish and Withdraw, tokens verify
// with the published key, and an outage drops connections.
func TestIdP(t *testing.T) {
	p := New(t)
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(t, p.URL+"/.well-known/openid-configuration", &disc)
	if disc.Issuer != p.URL || disc.JWKSURI != p.JWKSURL() {
		t.Errorf("discovery = %+v, want issuer %s and jwks_uri %s", disc, p.URL, p.JWKSURL())
	}

	rs, es := NewKey(t, "rs", jose.RS256), NewKey(t, "es", jose.ES256)
	p.Publish(rs, es)
	p.Withdraw("rs")
	var set jose.JSONWebKeySet
	getJSON(t, p.JWKSURL(), &set)
	if len(set.Keys) != 1 || set.Keys[0].KeyID != "es" || set.Keys[0].Algorithm != "ES256" || !set.Keys[0].IsPublic() {
		t.Fatalf("JWKS after Publish(rs, es), Withdraw(rs) = %+v, want only the public es", set.Keys)
	}
	if p.JWKSFetches() != 1 || p.DiscoveryCalls() != 1 {
		t.Errorf("fetches: jwks %d, discovery %d, want 1 and 1", p.JWKSFetches(), p.DiscoveryCalls())
	}

	tok := p.Token(es, "ada", func(c map[string]any) { c["scope"] = "mcp:tools" })
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if kid := jws.Signatures[0].Header.KeyID; kid != "es" {
		t.Errorf("kid %q, want es", kid)
	}
	payload, err := jws.Verify(set.Keys[0].Key)
	if err != nil {
		t.Fatalf("the token does not verify with the published key: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if claims["iss"] != p.URL || claims["sub"] != "ada" || claims["aud"] != Audience || claims["scope"] != "mcp:tools" || claims["jti"] == "" {
		t.Errorf("claims = %v", claims)
	}

	p.SetDown(true)
	if resp, err := http.Get(p.JWKSURL()); err == nil {
		resp.Body.Close()
		t.Fatalf("GET during an outage: status %d, want the connection dropped", resp.StatusCode)
	}
	p.SetDown(false)
	getJSON(t, p.JWKSURL(), &set)
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
