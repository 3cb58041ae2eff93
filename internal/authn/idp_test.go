package authn

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/record"
)

// fakeIdP is an OIDC provider on 127.0.0.1: discovery and a JWKS whose keys
// the test rotates, and a switch for outages (connections are dropped).
type fakeIdP struct {
	t   testing.TB
	srv *httptest.Server

	mu        sync.Mutex
	published map[string]*signingKey // kid -> key in the JWKS

	down           atomic.Bool
	jwksFetches    atomic.Int64
	discoveryCalls atomic.Int64
}

type signingKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

func newIdP(t testing.TB) *fakeIdP {
	t.Helper()
	p := &fakeIdP{t: t, published: map[string]*signingKey{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		p.discoveryCalls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"issuer": p.issuer(), "jwks_uri": p.issuer() + "/keys"})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		p.jwksFetches.Add(1)
		p.mu.Lock()
		set := jose.JSONWebKeySet{}
		for _, k := range p.published {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"})
		}
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(set)
	})
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.down.Load() {
			// An outage: the connection drops without an answer.
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *fakeIdP) issuer() string { return p.srv.URL }

// newKey makes a key; publish puts it in the JWKS.
func newKey(t testing.TB, kid string, alg jose.SignatureAlgorithm) *signingKey {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case jose.RS256, jose.PS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	return &signingKey{kid: kid, alg: alg, priv: priv}
}

func (p *fakeIdP) publish(keys ...*signingKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range keys {
		p.published[k.kid] = k
	}
}

func (p *fakeIdP) unpublish(kids ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, kid := range kids {
		delete(p.published, kid)
	}
}

// sign makes a compact JWS of claims with k (its kid in the header).
func sign(t testing.TB, k *signingKey, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return signRaw(t, k, "JWT", payload)
}

// signRaw makes a compact JWS of payload, byte for byte (for payloads
// json.Marshal cannot make: duplicate keys), with k's kid and, unless it is
// "", typ in the protected header.
func signRaw(t testing.TB, k *signingKey, typ string, payload []byte) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	if k.kid != "" {
		opts = opts.WithHeader("kid", k.kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.priv}, opts)
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

// clock is an injected, settable clock.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

const testResource = "https://gw.example.com/mcp"

// baseOptions configures one issuer (the fake IdP, via discovery) with an
// injected clock, and no background refreshes to speak of.
func baseOptions(p *fakeIdP, clk *clock) Options {
	return Options{
		Issuers: []Issuer{{
			Issuer:      p.issuer(),
			Audiences:   []string{testResource, "mcpgate"},
			NameClaim:   "name",
			EmailClaim:  "email",
			GroupsClaim: "groups",
		}},
		Resource:               testResource,
		Skew:                   time.Minute,
		TokenCacheTTL:          2 * time.Minute,
		TokenCacheSize:         100,
		JWKSRefreshInterval:    time.Hour,
		JWKSMinRefreshInterval: 10 * time.Second,
		FetchTimeout:           5 * time.Second,
		RetryBackoff:           time.Hour,
		Now:                    clk.Now,
		Logger:                 slog.New(slog.DiscardHandler),
	}
}

// start builds the authenticator and waits (bounded) for each issuer's
// first key fetch to finish, successfully or not.
func start(t testing.TB, opts Options) *Authenticator {
	t.Helper()
	a, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(a.Close)
	for _, ks := range a.keySets {
		select {
		case <-ks.firstDone:
		case <-time.After(10 * time.Second):
			t.Fatal("first key fetch did not finish")
		}
	}
	return a
}

// claimsFor returns valid claims for p at clk's time.
func claimsFor(p *fakeIdP, clk *clock) map[string]any {
	now := clk.Now().Unix()
	return map[string]any{
		"iss": p.issuer(), "sub": "user-1", "aud": testResource,
		"exp": now + 600, "iat": now - 10, "nbf": now - 10,
		"name": "Ada Lovelace", "email": "ada@example.com", "groups": []string{"eng", "ops"},
	}
}

// result is what one request through the stage produced.
type result struct {
	code    int
	header  http.Header
	body    string
	rec     *record.Record
	id      *identity.Identity // as the next handler saw it
	reached bool
}

func do(a *Authenticator, r *http.Request) result {
	rec := &record.Record{}
	var res result
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res.reached = true
		res.id = identity.FromContext(r.Context())
		w.WriteHeader(http.StatusOK)
	})
	w := httptest.NewRecorder()
	a.Middleware()(next).ServeHTTP(w, r.WithContext(record.NewContext(r.Context(), rec)))
	res.code, res.header, res.body, res.rec = w.Code, w.Header(), w.Body.String(), rec
	return res
}

func bearer(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

// waitFor polls cond until it holds, failing after a generous bound. It
// asserts that something happens, never how fast.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}
