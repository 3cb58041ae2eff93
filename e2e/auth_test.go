package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgate/mcpgate/internal/testidp"
)

// The authentication tests run real mcpgate processes configured with
// auth.mode [oidc, apiKey] against the fake OpenID provider of internal/testidp, and
// assert what a client sees (status, WWW-Authenticate, JSON-RPC error body)
// and what the gateway logs (the request line's reason and detail).

const (
	invalidTokenDesc   = `error="invalid_token", error_description="The access token is invalid, expired or not meant for this resource"`
	invalidRequestDesc = `error="invalid_request", error_description="The request presents credentials in a way this server does not accept"`
	// The JSON-RPC codes of auth rejections (docs/authentication.md).
	codeAuth           = -32000
	codeInvalidRequest = -32600
)

// authGateway is a gateway with authentication on.
type authGateway struct {
	*gateway
	Resource  string // auth.resource: http://127.0.0.1:PORT/mcp
	Challenge string // the plain Bearer challenge built from Resource
	ids       atomic.Int64
}

// apiKey is a key made by `mcpgate apikey new` and its config entry.
type apiKey struct {
	Key, Entry string
}

var apikeyRe = regexp.MustCompile(`(?m)^\s*(mcpg_[A-Za-z0-9_-]{43})\s*$[\s\S]*^\s*(- \{subject: .*\})\s*$`)

// newAPIKey runs `mcpgate apikey new --subject subject` and parses the key
// and the config entry it prints.
func newAPIKey(t *testing.T, subject string) apiKey {
	t.Helper()
	out, err := exec.Command(gatewayBin, "apikey", "new", "--subject", subject).CombinedOutput()
	if err != nil {
		t.Fatalf("mcpgate apikey new: %v\n%s", err, out)
	}
	m := apikeyRe.FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("cannot find the key and the config entry in the output of mcpgate apikey new:\n%s", out)
	}
	sum := sha256.Sum256([]byte(m[1]))
	if !strings.Contains(m[2], hex.EncodeToString(sum[:])) {
		t.Fatalf("the printed entry %q does not carry the SHA-256 of the printed key", m[2])
	}
	return apiKey{Key: m[1], Entry: m[2]}
}

// authConfig tunes startAuthGateway.
type authConfig struct {
	issuer  *testidp.IdP
	keys    []apiKey
	backend backendSpec
	admin   bool
}

// startAuthGateway starts mcpgate with auth.mode [oidc, apiKey] on a free
// port (auth.resource must name it). The OIDC intervals are small so that a
// withdrawn key stops working within seconds: tokens are cached for at most
// 1s, the key set is refreshed every 1s, and an unknown kid may trigger a
// refetch every 100ms.
func startAuthGateway(t *testing.T, c authConfig) *authGateway {
	t.Helper()
	cfg := gatewayConfig{port: freeClosedPort(t), backends: []backendSpec{c.backend}}
	if c.admin {
		cfg.admin = adminOn
	}
	cfg.auth = fmt.Sprintf(`
  mode: [oidc, apiKey]
  resource: %s
  oidc:
    issuer: %s
    audience: mcpgate
    skew: 5s
    tokenCacheTTL: 1s
    jwksRefreshInterval: 1s
    jwksMinRefreshInterval: 100ms
    fetchTimeout: 2s
  apiKeys:
%s`, cfg.resource(), c.issuer.URL, strings.TrimSuffix(apiKeyEntries(c.keys), "\n"))
	return &authGateway{
		gateway:   startGatewayConfig(t, nil, cfg.String()),
		Resource:  cfg.resource(),
		Challenge: fmt.Sprintf(`Bearer resource_metadata="http://127.0.0.1:%d/.well-known/oauth-protected-resource/mcp"`, cfg.port),
	}
}

// reply is one raw HTTP exchange with the gateway.
type reply struct {
	status int
	header http.Header
	body   []byte
	id     string // the JSON-RPC id sent
}

// post sends one JSON-RPC request (method, with a fresh numeric id) to
// target (the MCP URL unless it is set) with the given extra headers.
func (g *authGateway) post(t *testing.T, target, method, session string, headers map[string]string) reply {
	t.Helper()
	if target == "" {
		target = g.URL
	}
	id := fmt.Sprint(g.ids.Add(1) + 1000)
	params := `{}`
	if method == "initialize" {
		params = `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e-auth","version":"1"}}`
	}
	body := `{"jsonrpc":"2.0","id":` + id + `,"method":"` + method + `","params":` + params + `}`
	if strings.HasPrefix(method, "notifications/") {
		id = ""
		body = `{"jsonrpc":"2.0","method":"` + method + `"}`
	}
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if method != "initialize" {
		req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	}
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", method, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b, id: id}
}

// bearerH returns the Authorization header for tok.
func bearerH(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok}
}

// rejection is what a rejected request must look like.
type rejection struct {
	status    int
	challenge string // exact WWW-Authenticate; "" = must be absent
	code      int64  // JSON-RPC error code
	reason    string // logged reason
	detail    string // substring of the logged detail
}

// expectRejected asserts r (answered by g) against want, including the
// gateway's log line for the request, and that no credential leaked into it.
func (g *authGateway) expectRejected(t *testing.T, r reply, want rejection, secrets ...string) {
	t.Helper()
	if r.status != want.status {
		t.Errorf("status %d, want %d; body %s", r.status, want.status, r.body)
	}
	if got := r.header.Get("WWW-Authenticate"); got != want.challenge {
		t.Errorf("WWW-Authenticate\n got %q\nwant %q", got, want.challenge)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
	var body struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   *struct {
			Code    int64  `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.Error == nil {
		t.Errorf("body is not a JSON-RPC error (%v): %s", err, r.body)
	} else {
		if body.JSONRPC != "2.0" || string(body.ID) != r.id {
			t.Errorf("body jsonrpc %q id %s, want 2.0 and the request's id %s", body.JSONRPC, body.ID, r.id)
		}
		if body.Error.Code != want.code {
			t.Errorf("JSON-RPC error code %d, want %d", body.Error.Code, want.code)
		}
		if body.Error.Message == "" {
			t.Error("JSON-RPC error without a message")
		}
	}
	e := g.waitRequest(t, "request id "+r.id, func(e logEntry) bool { return e.str("jsonrpc.id") == r.id })
	if e == nil {
		return
	}
	if e.status() != want.status || e.str("reason") != want.reason || !strings.Contains(e.str("detail"), want.detail) {
		t.Errorf("logged status %d reason %q detail %q; want %d, %q, detail containing %q",
			e.status(), e.str("reason"), e.str("detail"), want.status, want.reason, want.detail)
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if strings.Contains(g.Log.String(), s) {
			t.Errorf("the gateway log contains the credential %.12s…", s)
		}
		if strings.Contains(string(r.body), s) {
			t.Errorf("the response body contains the credential %.12s…", s)
		}
	}
}

// headerTransport adds fixed headers to every request.
type headerTransport struct {
	base    http.RoundTripper
	headers map[string]string
}

func (h *headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h.headers {
		r.Header.Set(k, v)
	}
	return h.base.RoundTrip(r)
}

// sdkEcho connects the official Go SDK client through the gateway with the
// given headers on every request, calls echo, and closes the session.
func sdkEcho(t *testing.T, url string, headers map[string]string, message string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "e2e-auth-client", Version: "1.0.0"}, nil)
	hc := &http.Client{Transport: &headerTransport{base: http.DefaultTransport, headers: headers}}
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: hc, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatalf("Connect with %v: %v", slices.Sorted(maps.Keys(headers)), err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": message}})
	if err != nil {
		t.Fatalf("tools/call echo: %v", err)
	}
	if got := textOf(res); res.IsError || !strings.Contains(got, message) {
		t.Fatalf("tools/call echo: isError %v, text %q, want it to contain %q", res.IsError, got, message)
	}
}

// initSession initializes a session (stdio backend) with headers and
// returns its id; the session is deleted at cleanup.
func (g *authGateway) initSession(t *testing.T, headers map[string]string) string {
	t.Helper()
	r := g.post(t, "", "initialize", "", headers)
	sid := r.header.Get("Mcp-Session-Id")
	if r.status != http.StatusOK || sid == "" {
		t.Fatalf("initialize: status %d, session %q, body %s", r.status, sid, r.body)
	}
	if n := g.post(t, "", "notifications/initialized", sid, headers); n.status != http.StatusAccepted {
		t.Fatalf("notifications/initialized: status %d, body %s", n.status, n.body)
	}
	t.Cleanup(func() {
		req, _ := http.NewRequest(http.MethodDelete, g.URL, nil)
		req.Header.Set("Mcp-Session-Id", sid)
		req.Header.Set("MCP-Protocol-Version", "2025-11-25")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	})
	return sid
}

// pingOK reports whether a ping on session sid with headers is answered 200
// with a result.
func (g *authGateway) ping(t *testing.T, sid string, headers map[string]string) reply {
	t.Helper()
	return g.post(t, "", "ping", sid, headers)
}

func isResult(r reply) bool {
	return r.status == http.StatusOK && bytes.Contains(r.body, []byte(`"result"`))
}

// eventually polls try every 100ms until it returns true, for at most
// bound; it asserts that something happens, not how fast.
func eventually(t *testing.T, bound time.Duration, what string, try func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for n := 1; ; n++ {
		if try() {
			t.Logf("%s: after %d attempt(s)", what, n)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (%d attempts)", what, bound, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAuthOIDCAndAPIKeys runs every credential case against one gateway in
// front of server-everything over stdio. The subtests share the gateway and
// the issuer and run in order: the last ones rotate keys and take the IdP
// down.
func TestAuthOIDCAndAPIKeys(t *testing.T) {
	t.Parallel()
	iss := testidp.New(t)
	k1 := testidp.NewKey(t, "k1", jose.RS256)
	iss.Publish(k1)
	key := newAPIKey(t, "ci-bot")
	g := startAuthGateway(t, authConfig{issuer: iss, keys: []apiKey{key}, backend: stdioBackend()})
	invalidToken := g.Challenge + ", " + invalidTokenDesc
	invalidRequest := g.Challenge + ", " + invalidRequestDesc

	t.Run("valid token, Go SDK", func(t *testing.T) {
		sdkEcho(t, g.URL, bearerH(iss.Token(k1, "alice", nil)), "hello with a JWT")
	})
	t.Run("API key via X-API-Key, Go SDK", func(t *testing.T) {
		sdkEcho(t, g.URL, map[string]string{"X-API-Key": key.Key}, "hello with X-API-Key")
	})
	t.Run("API key via Authorization Bearer, Go SDK", func(t *testing.T) {
		sdkEcho(t, g.URL, bearerH(key.Key), "hello with a Bearer API key")
	})

	// alice's session, used below to show that a token is accepted.
	alice := g.initSession(t, bearerH(iss.Token(k1, "alice", nil)))
	accepted := func(t *testing.T, tok string) bool {
		t.Helper()
		return isResult(g.ping(t, alice, bearerH(tok)))
	}

	t.Run("rejections", func(t *testing.T) {
		stranger := testidp.NewKey(t, "k1", jose.RS256) // same kid, not the IdP's key
		pubDER, err := x509.MarshalPKIXPublicKey(k1.Public())
		if err != nil {
			t.Fatal(err)
		}
		pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
		validTok := iss.Token(k1, "alice", nil)
		cases := []struct {
			name    string
			headers map[string]string
			target  string
			want    rejection
			secret  string
		}{
			{
				name:    "expired",
				headers: bearerH(iss.Token(k1, "alice", func(c map[string]any) { c["exp"] = time.Now().Add(-5 * time.Minute).Unix() })),
				want:    rejection{401, invalidToken, codeAuth, "unauthenticated", "expired"},
			},
			{
				name:    "not yet valid",
				headers: bearerH(iss.Token(k1, "alice", func(c map[string]any) { c["nbf"] = time.Now().Add(5 * time.Minute).Unix() })),
				want:    rejection{401, invalidToken, codeAuth, "unauthenticated", "not valid for another"},
			},
			{
				name:    "wrong audience",
				headers: bearerH(iss.Token(k1, "alice", func(c map[string]any) { c["aud"] = "someone-else" })),
				want:    rejection{401, invalidToken, codeAuth, "unauthenticated", "audience mismatch"},
			},
			{
				name:    "wrong issuer",
				headers: bearerH(iss.Token(k1, "alice", func(c map[string]any) { c["iss"] = "https://evil.example.com" })),
				want:    rejection{401, invalidToken, codeAuth, "unauthenticated", `unknown issuer "https://evil.example.com"`},
			},
			{
				name:    "bad signature",
				headers: bearerH(iss.Token(stranger, "alice", nil)),
				want:    rejection{401, invalidToken, codeAuth, "unauthenticated", "bad signature"},
			},
			{
				name: "alg none",
				headers: bearerH(testidp.RawJWT(t, map[string]any{"alg": "none", "typ": "JWT", "kid": "k1"},
					iss.Claims("alice"), nil)),
				want: rejection{401, invalidToken, codeAuth, "unauthenticated", `"none"`},
			},
			{
				name: "HS256 keyed with the RSA public key",
				headers: bearerH(testidp.RawJWT(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": "k1"},
					iss.Claims("alice"), func(in []byte) []byte {
						m := hmac.New(sha256.New, pubPEM)
						m.Write(in)
						return m.Sum(nil)
					})),
				want: rejection{401, invalidToken, codeAuth, "unauthenticated", `"HS256"`},
			},
			{
				name:    "unknown kid",
				headers: bearerH(iss.Token(testidp.NewKey(t, "never-published", jose.RS256), "alice", nil)),
				want:    rejection{401, invalidToken, codeAuth, "unauthenticated", `unknown kid "never-published"`},
			},
			{
				name:    "access_token in the query string",
				target:  g.URL + "?access_token=" + url.QueryEscape(validTok),
				headers: bearerH(validTok),
				want:    rejection{401, invalidRequest, codeInvalidRequest, "unauthenticated", "query string"},
				secret:  validTok,
			},
			{
				name:   "access_token alone in the query string",
				target: g.URL + "?access_token=" + url.QueryEscape(validTok),
				want:   rejection{401, invalidRequest, codeInvalidRequest, "unauthenticated", "query string"},
				secret: validTok,
			},
			{
				name:    "wrong API key",
				headers: map[string]string{"X-API-Key": "mcpg_" + strings.Repeat("A", 43)},
				want:    rejection{401, invalidToken, codeAuth, "unauthenticated", "API key matches no configured digest"},
			},
			{
				name:    "wrong API key as Bearer",
				headers: bearerH("mcpg_" + strings.Repeat("B", 43)),
				want:    rejection{401, invalidToken, codeAuth, "unauthenticated", "API key matches no configured digest"},
			},
			{
				name: "no credential",
				want: rejection{401, g.Challenge, codeAuth, "unauthenticated", "no credential presented"},
			},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				secrets := []string{c.secret}
				if a := c.headers["Authorization"]; a != "" {
					secrets = append(secrets, strings.TrimPrefix(a, "Bearer "))
				}
				if k := c.headers["X-API-Key"]; k != "" {
					secrets = append(secrets, k)
				}
				// initialize, so that a credential that got through would
				// start a session: the status alone would tell.
				r := g.post(t, c.target, "initialize", "", c.headers)
				g.expectRejected(t, r, c.want, secrets...)
			})
		}
		// And on an existing session: the session id does not stand in
		// for a credential.
		t.Run("no credential on a live session", func(t *testing.T) {
			r := g.ping(t, alice, nil)
			g.expectRejected(t, r, rejection{401, g.Challenge, codeAuth, "unauthenticated", "no credential presented"})
		})
	})

	t.Run("protected-resource metadata", func(t *testing.T) {
		for _, p := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
			resp, err := http.Get(g.Base + p)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var md struct {
				Resource             string   `json:"resource"`
				AuthorizationServers []string `json:"authorization_servers"`
				BearerMethods        []string `json:"bearer_methods_supported"`
			}
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Errorf("GET %s: status %d, Content-Type %q; body %s", p, resp.StatusCode, resp.Header.Get("Content-Type"), b)
				continue
			}
			if err := json.Unmarshal(b, &md); err != nil {
				t.Errorf("GET %s: %v: %s", p, err, b)
				continue
			}
			if md.Resource != g.Resource || !slices.Equal(md.AuthorizationServers, []string{iss.URL}) || !slices.Equal(md.BearerMethods, []string{"header"}) {
				t.Errorf("GET %s: %s; want resource %q, authorization_servers [%q], bearer_methods_supported [header]", p, b, g.Resource, iss.URL)
			}
		}
	})

	t.Run("session binding", func(t *testing.T) {
		bob := bearerH(iss.Token(k1, "bob", nil))
		stolen := g.ping(t, alice, bob)
		unknown := g.ping(t, "0123456789abcdef0123456789abcdef", bob)
		if stolen.status != http.StatusNotFound || unknown.status != http.StatusNotFound {
			t.Errorf("bob on alice's session: %d %s; on an unknown session: %d %s; want 404 both",
				stolen.status, stolen.body, unknown.status, unknown.body)
		}
		// Same body, ids aside (each echoes its request's id).
		norm := func(r reply) string { return strings.Replace(string(r.body), `"id":`+r.id, `"id":ID`, 1) }
		if norm(stolen) != norm(unknown) {
			t.Errorf("another principal's session is distinguishable from an unknown one:\n stolen: %s\nunknown: %s", stolen.body, unknown.body)
		}
		if stolen.header.Get("Mcp-Session-Id") != "" {
			t.Errorf("the 404 reveals a session id: %q", stolen.header.Get("Mcp-Session-Id"))
		}
		// The API key principal cannot use it either.
		if r := g.ping(t, alice, map[string]string{"X-API-Key": key.Key}); r.status != http.StatusNotFound {
			t.Errorf("API key principal on alice's session: %d %s, want 404", r.status, r.body)
		}
		if r := g.ping(t, alice, bearerH(iss.Token(k1, "alice", nil))); !isResult(r) {
			t.Errorf("alice on her own session after the attempts: %d %s, want 200 with a result", r.status, r.body)
		}
	})

	t.Run("unknown kid then rotation", func(t *testing.T) {
		k2 := testidp.NewKey(t, "k2", jose.RS256)
		tok := iss.Token(k2, "alice", nil)
		r := g.ping(t, alice, bearerH(tok))
		g.expectRejected(t, r, rejection{401, invalidToken, codeAuth, "unauthenticated", `unknown kid "k2"`}, tok)
		fetches := iss.JWKSFetches()
		iss.Publish(k2) // the IdP rotates
		// A fresh token with the new kid makes the gateway refetch (at
		// most every 100ms) and is then accepted.
		eventually(t, 10*time.Second, "a token signed with the rotated-in key is accepted", func() bool {
			return accepted(t, iss.Token(k2, "alice", nil))
		})
		if iss.JWKSFetches() == fetches {
			t.Error("the JWKS was not fetched again")
		}
	})

	t.Run("withdrawn key stops working", func(t *testing.T) {
		k3 := testidp.NewKey(t, "k3", jose.RS256)
		iss.Publish(k3)
		tok := iss.Token(k3, "alice", nil)
		eventually(t, 10*time.Second, "the k3 token is accepted", func() bool { return accepted(t, tok) })
		iss.Withdraw("k3")
		// The same token (now in the token cache) must stop working within
		// the cache bound: tokenCacheTTL 1s, jwksRefreshInterval 1s.
		var last reply
		eventually(t, 15*time.Second, "the withdrawn key's token is refused", func() bool {
			last = g.ping(t, alice, bearerH(tok))
			return last.status == http.StatusUnauthorized
		})
		g.expectRejected(t, last, rejection{401, invalidToken, codeAuth, "unauthenticated", `"k3"`}, tok)
	})

	t.Run("IdP down later", func(t *testing.T) {
		iss.SetDown(true)
		defer iss.SetDown(false)
		// Let background refreshes fail at least twice (every 1s).
		time.Sleep(2500 * time.Millisecond)
		// New tokens signed with a key fetched before still verify.
		if r := g.ping(t, alice, bearerH(iss.Token(k1, "alice", nil))); !isResult(r) {
			t.Errorf("with the IdP down, a token signed with a cached key: %d %s, want 200 with a result", r.status, r.body)
		}
		// A kid the gateway has never seen cannot be fetched: fail closed.
		k4 := testidp.NewKey(t, "k4", jose.RS256)
		iss.Publish(k4)
		tok := iss.Token(k4, "alice", nil)
		r := g.ping(t, alice, bearerH(tok))
		g.expectRejected(t, r, rejection{401, invalidToken, codeAuth, "unauthenticated", `unknown kid "k4"`}, tok)
		// API keys do not depend on the IdP.
		if r := g.post(t, "", "initialize", "", map[string]string{"X-API-Key": key.Key}); r.status != http.StatusOK {
			t.Errorf("with the IdP down, an API key: %d %s, want 200", r.status, r.body)
		} else {
			deleteSession(g.URL, r.header.Get("Mcp-Session-Id"), map[string]string{"X-API-Key": key.Key})
		}
	})
}

func deleteSession(url, sid string, headers map[string]string) {
	if sid == "" {
		return
	}
	req, _ := http.NewRequest(http.MethodDelete, url, nil)
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
}

// TestAuthIdPDownAtStart starts a gateway while its IdP is unreachable: it
// serves, is not ready, answers tokens 503 with Retry-After (API keys work),
// and recovers once the IdP is back.
func TestAuthIdPDownAtStart(t *testing.T) {
	t.Parallel()
	iss := testidp.New(t)
	k1 := testidp.NewKey(t, "k1", jose.RS256)
	iss.Publish(k1)
	iss.SetDown(true)
	key := newAPIKey(t, "ops-bot")
	g := startAuthGateway(t, authConfig{issuer: iss, keys: []apiKey{key}, backend: stdioBackend(), admin: true})

	readyz := func(base string) (int, string) {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatalf("GET %s/readyz: %v", base, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := readyz(g.Base); code != http.StatusServiceUnavailable {
		t.Errorf("public /readyz with the IdP down: %d %q, want 503", code, body)
	}
	if code, body := readyz(g.Admin); code != http.StatusServiceUnavailable || !strings.Contains(body, `"ready":false`) {
		t.Errorf("admin /readyz with the IdP down: %d %s, want 503 with auth ready false", code, body)
	}

	tok := iss.Token(k1, "alice", nil)
	r := g.post(t, "", "initialize", "", bearerH(tok))
	g.expectRejected(t, r, rejection{503, "", codeAuth, "auth_unavailable", "no signing keys fetched yet"}, tok)
	if ra := r.header.Get("Retry-After"); ra == "" {
		t.Error("503 without Retry-After")
	} else if n, err := fmt.Sscan(ra, new(int)); n != 1 || err != nil {
		t.Errorf("Retry-After %q is not a number of seconds", ra)
	}

	// API keys are unaffected.
	if r := g.post(t, "", "initialize", "", map[string]string{"X-API-Key": key.Key}); r.status != http.StatusOK {
		t.Errorf("with the IdP down since start, an API key: %d %s, want 200", r.status, r.body)
	} else {
		deleteSession(g.URL, r.header.Get("Mcp-Session-Id"), map[string]string{"X-API-Key": key.Key})
	}

	iss.SetDown(false)
	eventually(t, 15*time.Second, "/readyz turns 200 once the IdP is up", func() bool {
		code, _ := readyz(g.Base)
		return code == http.StatusOK
	})
	sdkEcho(t, g.URL, bearerH(iss.Token(k1, "alice", nil)), "hello after the outage")
}

// recordingBackend is a Streamable HTTP MCP server (the official Go SDK)
// that records the headers of every request it receives.
type recordingBackend struct {
	URL string
	mu  sync.Mutex
	got []http.Header
}

func startRecordingBackend(t *testing.T) *recordingBackend {
	t.Helper()
	srv := mcp.NewServer(&mcp.Implementation{Name: "recorder", Version: "1.0.0"}, nil)
	type in struct {
		Message string `json:"message"`
	}
	mcp.AddTool(srv, &mcp.Tool{Name: "echo", Description: "echoes message"},
		func(_ context.Context, _ *mcp.CallToolRequest, a in) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "Echo: " + a.Message}}}, nil, nil
		})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	rb := &recordingBackend{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rb.mu.Lock()
		rb.got = append(rb.got, r.Header.Clone())
		rb.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	rb.URL = hs.URL + "/mcp"
	return rb
}

func (rb *recordingBackend) headers() []http.Header {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	return slices.Clone(rb.got)
}

// TestAuthCredentialsNotForwarded: whatever credential a client presents,
// the backend never sees it — not the headers, not the values.
func TestAuthCredentialsNotForwarded(t *testing.T) {
	t.Parallel()
	iss := testidp.New(t)
	k1 := testidp.NewKey(t, "k1", jose.RS256)
	iss.Publish(k1)
	key := newAPIKey(t, "ci-bot")
	rb := startRecordingBackend(t)
	g := startAuthGateway(t, authConfig{issuer: iss, keys: []apiKey{key}, backend: httpBackend(rb.URL)})

	tok := iss.Token(k1, "alice", nil)
	cookie := "session=cookie-secret-" + testidp.RandomString(12)
	sdkEcho(t, g.URL, map[string]string{"Authorization": "Bearer " + tok, "Cookie": cookie}, "jwt through http")
	sdkEcho(t, g.URL, map[string]string{"X-API-Key": key.Key, "Cookie": cookie}, "x-api-key through http")
	sdkEcho(t, g.URL, map[string]string{"Authorization": "Bearer " + key.Key}, "bearer key through http")

	got := rb.headers()
	if len(got) < 6 {
		t.Fatalf("the backend recorded %d requests, want at least 6 (three sessions)", len(got))
	}
	secrets := []string{tok, key.Key, "cookie-secret"}
	for i, h := range got {
		for _, name := range []string{"Authorization", "X-API-Key", "Cookie"} {
			if v := h.Values(name); len(v) > 0 {
				t.Errorf("backend request %d carries %s", i, name)
			}
		}
		for name, vals := range h {
			for _, v := range vals {
				for _, s := range secrets {
					if strings.Contains(v, s) {
						t.Errorf("backend request %d: header %s carries a client credential", i, name)
					}
				}
			}
		}
	}
	t.Logf("the backend saw %d requests, none with a client credential", len(got))
}

// TestAuthClaimSpellings sends properly signed tokens from the real issuer
// whose payloads hold a second spelling of a registered claim after the
// real one ("Sub":"admin" beside "sub", a future "Exp" beside an expired
// exp, "AUD":"mcpgate" beside a foreign aud). go-oidc's case-insensitive
// decoding let the last spelling win, so each was accepted and the audit
// log named admin. Each must get 401 with the reason in the request log,
// and neither the audit log nor the gateway log may name admin.
func TestAuthClaimSpellings(t *testing.T) {
	t.Parallel()
	iss := testidp.New(t)
	k1 := testidp.NewKey(t, "k1", jose.RS256)
	iss.Publish(k1)
	sink := filepath.Join(t.TempDir(), "audit.jsonl")
	g := startGatewayConfig(t, nil, oidcAPIKeyConfig(t, iss, []apiKey{newAPIKey(t, "ci-bot")}, fmt.Sprintf("audit:\n  enabled: true\n  sink: %q\n  principal: raw\n", sink)))
	eventually(t, 15*time.Second, "the gateway is ready (OIDC keys fetched)", func() bool {
		resp, err := http.Get(g.Admin + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	// payload is alice's valid claims with members appended last.
	payload := func(mod func(map[string]any), members string) []byte {
		c := iss.Claims("alice")
		if mod != nil {
			mod(c)
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return append(append(b[:len(b)-1], ","+members...), '}')
	}
	past := time.Now().Add(-time.Hour).Unix()
	cases := []struct {
		name    string
		payload []byte
		detail  string
	}{
		{"Sub beside sub", payload(nil, `"Sub":"admin"`), "claim sub appears under 2 spellings"},
		{"sub twice", payload(nil, `"sub":"admin"`), `claim "sub" appears twice`},
		{"lone Sub", payload(func(c map[string]any) { delete(c, "sub") }, `"Sub":"admin"`), "token has no sub claim"},
		{"expired exp beside a future Exp", payload(func(c map[string]any) { c["exp"] = past }, `"Exp":9999999999`), "claim exp appears under 2 spellings"},
		{"aud other beside AUD mcpgate", payload(func(c map[string]any) { c["aud"] = "other" }, `"AUD":"mcpgate"`), "claim aud appears under 2 spellings"},
		{"exp as a string", payload(func(c map[string]any) { delete(c, "exp") }, `"exp":"9999999999"`), "exp is not a number"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := fmt.Sprint(100 + i)
			r := postMCP(t, g.URL, "", fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":"initialize","params":{"protocolVersion":%q,"capabilities":{},"clientInfo":{"name":"e2e-claims","version":"1"}}}`, id, sessionProto),
				bearerH(testidp.SignRaw(t, k1, "JWT", c.payload)))
			if r.status != http.StatusUnauthorized || r.header.Get("Mcp-Session-Id") != "" {
				t.Fatalf("status %d, session %q; want 401 and no session; body %s", r.status, r.header.Get("Mcp-Session-Id"), r.body)
			}
			e := g.waitRequest(t, "request id "+id, func(e logEntry) bool { return e.str("jsonrpc.id") == id })
			if e != nil && (e.str("reason") != "unauthenticated" || !strings.Contains(e.str("detail"), c.detail)) {
				t.Errorf("logged reason %q detail %q, want unauthenticated with %q", e.str("reason"), e.str("detail"), c.detail)
			}
		})
	}
	// The control: the same issuer's plain token for alice is served.
	openSession(t, g.URL, 1, "e2e-claims", bearerH(iss.Token(k1, "alice", nil)))

	if err := g.stop(); err != nil {
		t.Fatalf("mcpgate did not exit cleanly: %v", err)
	}
	events, data := readAuditLog(t, sink)
	refused := 0
	for _, e := range events {
		if e.str("outcome") != "success" {
			refused++
		}
	}
	if refused < len(cases) {
		t.Errorf("the audit log holds %d refused events, want at least %d:\n%s", refused, len(cases), tail(string(data), 3000))
	}
	if !bytes.Contains(data, []byte(`"subject":"alice"`)) {
		t.Errorf("the audit log does not name alice (the control):\n%s", tail(string(data), 3000))
	}
	// As a value: the log's serving line has an "admin" key (the listener).
	if bytes.Contains(data, []byte(`"admin"`)) {
		t.Errorf("the audit log names admin:\n%s", tail(string(data), 3000))
	}
	if strings.Contains(g.Log.String(), `:"admin"`) {
		t.Errorf("the gateway log names admin:\n%s", tail(g.Log.String(), 3000))
	}
}
