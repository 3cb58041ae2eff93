package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// testIssuer is a small OpenID Connect provider on 127.0.0.1 for the
// gateway under test: discovery at /.well-known/openid-configuration and a
// JWKS at /jwks whose keys a test publishes and withdraws (key rotation),
// plus an outage switch (while down, every connection is dropped without an
// answer, like an unreachable IdP). Tokens are signed with go-jose.
//
// It listens on a fixed address for its whole life, so a gateway configured
// with its URL can be started while it is down.
type testIssuer struct {
	t   *testing.T
	URL string // http://127.0.0.1:PORT, the "iss" of its tokens
	srv *http.Server

	mu        sync.Mutex
	published map[string]*issuerKey // kid → key in the JWKS

	down        atomic.Bool
	jwksFetches atomic.Int64
}

// issuerKey is one RSA signing key (RS256) and its kid.
type issuerKey struct {
	kid  string
	priv *rsa.PrivateKey
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &testIssuer{t: t, URL: "http://" + l.Addr().String(), published: map[string]*issuerKey{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                p.URL,
			"jwks_uri":                              p.URL + "/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		p.jwksFetches.Add(1)
		p.mu.Lock()
		set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
		for _, k := range p.published {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: string(jose.RS256), Use: "sig"})
		}
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	})
	p.srv = &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if p.down.Load() {
				// An outage: the connection drops without an answer.
				if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
					conn.Close()
				}
				return
			}
			mux.ServeHTTP(w, r)
		}),
	}
	go func() { _ = p.srv.Serve(l) }()
	t.Cleanup(func() { _ = p.srv.Close() })
	return p
}

// SetDown starts (true) or ends (false) an outage.
func (p *testIssuer) SetDown(down bool) {
	p.down.Store(down)
	if down {
		// Keep-alive connections made before the outage must not keep
		// answering through it.
		p.srv.SetKeepAlivesEnabled(false)
	} else {
		p.srv.SetKeepAlivesEnabled(true)
	}
}

// newIssuerKey makes a 2048-bit RSA key with kid.
func newIssuerKey(t *testing.T, kid string) *issuerKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &issuerKey{kid: kid, priv: priv}
}

// Publish puts keys in the JWKS; Withdraw removes them.
func (p *testIssuer) Publish(keys ...*issuerKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range keys {
		p.published[k.kid] = k
	}
}

func (p *testIssuer) Withdraw(kids ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, kid := range kids {
		delete(p.published, kid)
	}
}

// Claims returns valid claims for sub: this issuer, audience "mcpgate",
// valid from a minute ago for ten minutes, with a unique jti (so that no two
// tokens are equal and none is answered from the gateway's token cache by
// accident).
func (p *testIssuer) Claims(sub string) map[string]any {
	now := time.Now().Unix()
	return map[string]any{
		"iss": p.URL, "sub": sub, "aud": "mcpgate",
		"iat": now - 60, "nbf": now - 60, "exp": now + 600,
		"jti": randomString(12), "name": "User " + sub,
	}
}

// Token signs the claims of Claims(sub), changed by mod, with k.
func (p *testIssuer) Token(k *issuerKey, sub string, mod func(map[string]any)) string {
	c := p.Claims(sub)
	if mod != nil {
		mod(c)
	}
	return signJWT(p.t, k, c)
}

// signJWT makes a compact RS256 JWS of claims, with k's kid in the header.
func signJWT(t *testing.T, k *issuerKey, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return signJWTPayload(t, k, payload)
}

// signJWTPayload signs payload byte for byte (for payloads json.Marshal
// cannot make: a member twice, case variants in a chosen order).
func signJWTPayload(t *testing.T, k *issuerKey, payload []byte) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.kid)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k.priv}, opts)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// rawJWT assembles header.payload.signature from JSON values by hand, for
// tokens go-jose refuses to make (alg "none", HMAC keyed with a public key).
func rawJWT(t *testing.T, header, claims map[string]any, sign func(signingInput []byte) []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
