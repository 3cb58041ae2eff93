package testidp

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Audience is the "aud" of the tokens [IdP.Claims] makes.
const Audience = "mcpgate"

// IdP is a running fake OpenID Connect provider; see the package doc.
type IdP struct {
	// URL is http://127.0.0.1:PORT, the "iss" of its tokens and the
	// issuer its discovery document names.
	URL string

	t   testing.TB
	srv *httptest.Server

	mu        sync.Mutex
	published map[string]*Key // kid → key in the JWKS

	down           atomic.Bool
	jwksFetches    atomic.Int64
	discoveryCalls atomic.Int64
}

// New starts an IdP with no published keys; it is closed at t's cleanup.
func New(t testing.TB) *IdP {
	t.Helper()
	p := &IdP{t: t, published: map[string]*Key{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		p.discoveryCalls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                p.URL,
			"jwks_uri":                              p.JWKSURL(),
			"id_token_signing_alg_values_supported": []string{"RS256", "PS256", "ES256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		p.jwksFetches.Add(1)
		p.mu.Lock()
		set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
		for _, k := range p.published {
			set.Keys = append(set.Keys, k.JWK())
		}
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	})
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.down.Load() {
			// An outage: the connection drops without an answer.
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
			return
		}
		mux.ServeHTTP(w, r)
	}))
	p.srv.Config.ReadHeaderTimeout = 5 * time.Second
	p.srv.Start()
	p.URL = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// JWKSURL is the URL of the key set, as discovery names it.
func (p *IdP) JWKSURL() string { return p.URL + "/jwks" }

// SetDown starts (true) or ends (false) an outage.
func (p *IdP) SetDown(down bool) {
	p.down.Store(down)
	// Keep-alive connections made before the outage must not keep
	// answering through it.
	p.srv.Config.SetKeepAlivesEnabled(!down)
}

// Publish puts keys in the JWKS (replacing any with the same kid).
func (p *IdP) Publish(keys ...*Key) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range keys {
		p.published[k.KID] = k
	}
}

// Withdraw removes the keys with these kids from the JWKS.
func (p *IdP) Withdraw(kids ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, kid := range kids {
		delete(p.published, kid)
	}
}

// JWKSFetches is how many times the JWKS has been served.
func (p *IdP) JWKSFetches() int64 { return p.jwksFetches.Load() }

// DiscoveryCalls is how many times the discovery document has been served.
func (p *IdP) DiscoveryCalls() int64 { return p.discoveryCalls.Load() }

// Claims returns valid claims for sub: this issuer, audience [Audience],
// valid from a minute ago for ten minutes, with a unique jti (so that no two
// tokens are equal and none is answered from a token cache by accident).
func (p *IdP) Claims(sub string) map[string]any {
	now := time.Now().Unix()
	return map[string]any{
		"iss": p.URL, "sub": sub, "aud": Audience,
		"iat": now - 60, "nbf": now - 60, "exp": now + 600,
		"jti": RandomString(12), "name": "User " + sub,
	}
}

// Token signs the claims of Claims(sub), changed by mod (when not nil),
// with k.
func (p *IdP) Token(k *Key, sub string, mod func(map[string]any)) string {
	c := p.Claims(sub)
	if mod != nil {
		mod(c)
	}
	return Sign(p.t, k, c)
}
