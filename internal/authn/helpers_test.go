package authn

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/record"
	"github.com/mcpgate/mcpgate/internal/testidp"
)

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
func baseOptions(p *testidp.IdP, clk *clock) Options {
	return Options{
		Issuers: []Issuer{{
			Issuer:      p.URL,
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
func claimsFor(p *testidp.IdP, clk *clock) map[string]any {
	now := clk.Now().Unix()
	return map[string]any{
		"iss": p.URL, "sub": "user-1", "aud": testResource,
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
