package e2e

// TestHostile drives hostile and malformed input at one real mcpgate process
// with authentication on (auth.mode [oidc, apiKey]) in front of
// server-everything over Streamable HTTP, and checks that every probe is
// refused with the right status (and JSON-RPC error code where the gateway
// writes the answer), that an authenticated good call still works after
// every probe, and that the process stays healthy and never panics.
//
// A recording reverse proxy sits between the gateway and server-everything,
// so that the header-injection and smuggling probes can assert what the
// backend did NOT receive.
//
// Cases that already run against an auth-on gateway are not repeated here:
// an unknown session id on POST and another principal's session id on POST
// (TestAuthOIDCAndAPIKeys/session_binding), and access_token in the query
// string on initialize, with and without a valid header
// (TestAuthOIDCAndAPIKeys/rejections). TestBadInput covers the body and header
// shapes with auth OFF; they are repeated here with auth on, since inspect
// runs before authn and a credential must not change their outcome.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/mcpgate/mcpgate/internal/testidp"
)

// The limits and timeouts the hostile gateway runs with: small, so that the
// probes that exceed them stay cheap and the slow-client probes quick.
const (
	hostileMaxBody     = 1 << 20  // limits.maxBodyBytes: 1MiB
	hostileMaxHeader   = 16 << 10 // limits.maxHeaderBytes: 16KiB
	hostileReadHeader  = 1 * time.Second
	hostileReadBody    = 2 * time.Second
	hostileSlowBound   = 15 * time.Second // generous upper bound for a timeout to fire
	hostileSubjectA    = "hostile-a"
	hostileSubjectB    = "hostile-b"
	hostileInjectedHdr = "X-Hostile-Injected"
)

// hostileEnv is the shared fixture: one gateway, its recorder, two
// principals and a session of each.
type hostileEnv struct {
	g        *gateway
	addr     string // host:port of the public listener
	rec      *hostileRecorder
	keyA     apiKey // principal A: an API key with subject hostile-a
	tokB     string // principal B: an OIDC token of subject hostile-b
	tokSameA string // an OIDC token whose sub equals A's API-key subject (other issuer)
	sidA     string
	sidB     string
	plain    string // the plain 401 challenge
	seq      atomic.Int64
}

// hostileRecorder is a reverse proxy in front of server-everything that
// records every request the gateway sends to the backend.
type hostileRecorder struct {
	URL  string
	mu   sync.Mutex
	seen []hostileSeen
}

type hostileSeen struct {
	method  string
	uri     string
	header  http.Header
	trailer http.Header // request trailers, read with the body
	body    string
}

func hostileStartRecorder(t *testing.T, target string) *hostileRecorder {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = u.Scheme, u.Host
			pr.Out.Host = ""
		},
		FlushInterval: -1, // SSE passes event by event
	}
	rec := &hostileRecorder{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		r.Body = io.NopCloser(bytes.NewReader(b))
		rec.mu.Lock()
		rec.seen = append(rec.seen, hostileSeen{method: r.Method, uri: r.RequestURI, header: r.Header.Clone(), trailer: r.Trailer.Clone(), body: string(b)})
		rec.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	rec.URL = hs.URL + u.Path
	return rec
}

func (rec *hostileRecorder) all() []hostileSeen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]hostileSeen(nil), rec.seen...)
}

// containing returns the recorded requests whose request target, header
// or trailer names, header or trailer values or body contain s (names
// compared case-insensitively).
func (rec *hostileRecorder) containing(s string) []hostileSeen {
	var out []hostileSeen
	for _, r := range rec.all() {
		hit := strings.Contains(r.uri, s) || strings.Contains(r.body, s)
		fields := r.header.Clone()
		for name, vs := range r.trailer {
			fields[name] = append(fields[name], vs...)
		}
		for name, vs := range fields {
			hit = hit || strings.Contains(strings.ToLower(name), strings.ToLower(s))
			for _, v := range vs {
				hit = hit || strings.Contains(v, s)
			}
		}
		if hit {
			out = append(out, r)
		}
	}
	return out
}

// hostileStart starts the issuer, server-everything (HTTP), the recorder
// and the gateway, and opens a session for A and one for B.
func hostileStart(t *testing.T) *hostileEnv {
	t.Helper()
	iss := testidp.New(t)
	k1 := testidp.NewKey(t, "k1", jose.RS256)
	iss.Publish(k1)
	e := &hostileEnv{keyA: newAPIKey(t, hostileSubjectA)}
	e.tokB = iss.Token(k1, hostileSubjectB, nil)
	e.tokSameA = iss.Token(k1, hostileSubjectA, nil)
	e.rec = hostileStartRecorder(t, startEverythingHTTP(t))

	// log.level debug: net/http's own error log (a recovered panic, a
	// superfluous WriteHeader) is logged at debug level.
	cfg := gatewayConfig{
		port: freeClosedPort(t),
		log:  "{requests: all, level: debug}",
		extra: fmt.Sprintf(`limits:
  maxBodyBytes: %d
  maxHeaderBytes: %d
  maxBatch: 32
  maxDepth: 64
timeouts:
  readHeader: %s
  readBody: %s
`, hostileMaxBody, hostileMaxHeader, hostileReadHeader, hostileReadBody),
		backends: []backendSpec{{kind: "http", url: e.rec.URL, yaml: fmt.Sprintf(`
  - name: everything
    url: %q
    # Forwarded so that the raw-header probes can check the backend got
    # the fields exactly as the gateway parsed them.
    forwardHeaders: [X-Hostile-Lf, X-Hostile-Fold, %s]
`, e.rec.URL, hostileInjectedHdr)}},
	}
	e.addr = fmt.Sprintf("127.0.0.1:%d", cfg.port)
	e.plain = fmt.Sprintf(`Bearer resource_metadata="http://%s/.well-known/oauth-protected-resource/mcp"`, e.addr)
	cfg.auth = fmt.Sprintf(`
  mode: [oidc, apiKey]
  resource: %s
  oidc:
    issuer: %s
    audience: mcpgate
    fetchTimeout: 2s
  apiKeys:
    %s`, cfg.resource(), iss.URL, e.keyA.Entry)
	e.g = startGatewayConfig(t, nil, cfg.String())
	// The OIDC keys are fetched in the background: wait until the gateway
	// is ready, so that B's first request is not answered 503.
	eventually(t, 15*time.Second, "the gateway is ready (OIDC keys fetched)", func() bool {
		resp, err := http.Get(e.g.Base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	e.sidA = e.initSession(t, e.credA())
	e.sidB = e.initSession(t, e.credB())
	return e
}

func (e *hostileEnv) credA() http.Header {
	return http.Header{"X-Api-Key": {e.keyA.Key}}
}

func (e *hostileEnv) credB() http.Header {
	return http.Header{"Authorization": {"Bearer " + e.tokB}}
}

// hostileMCPHeaders is MCP's usual POST headers with cred and, if set, sid.
func hostileMCPHeaders(cred http.Header, sid string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json, text/event-stream")
	h.Set("MCP-Protocol-Version", v0618)
	if sid != "" {
		h.Set("Mcp-Session-Id", sid)
	}
	for k, vs := range cred {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	return h
}

// hostileDo sends one request with exactly the header h (several values of
// one name allowed) on a fresh connection. A Host entry in h becomes the
// request's Host.
func hostileDo(t *testing.T, method, target string, body io.Reader, h http.Header) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h.Clone()
	if host := req.Header.Get("Host"); host != "" {
		req.Host = host
		req.Header.Del("Host")
	}
	return sendRaw(t, req)
}

func (e *hostileEnv) initSession(t *testing.T, cred http.Header) string {
	t.Helper()
	h := hostileMCPHeaders(cred, "")
	h.Del("MCP-Protocol-Version")
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":%q,"capabilities":{},"clientInfo":{"name":"e2e-hostile","version":"1"}}}`, v0618)
	r := hostileDo(t, http.MethodPost, e.g.URL, strings.NewReader(body), h)
	sid := r.header.Get("Mcp-Session-Id")
	if r.status != http.StatusOK || sid == "" {
		t.Fatalf("initialize: status %d, session %q, body %s", r.status, sid, tail(r.body, 500))
	}
	r = hostileDo(t, http.MethodPost, e.g.URL, strings.NewReader(`{"jsonrpc":"2.0","method":"notifications/initialized"}`), hostileMCPHeaders(cred, sid))
	if r.status != http.StatusAccepted {
		t.Fatalf("notifications/initialized: status %d, body %s", r.status, tail(r.body, 500))
	}
	return sid
}

// alive is the authenticated good call made after every probe: A calls
// echo on A's session through the same gateway process, and /healthz
// answers 200.
func (e *hostileEnv) alive(t *testing.T) {
	t.Helper()
	n := e.seq.Add(1)
	msg := fmt.Sprintf("hostile-alive-%d", n)
	r := hostileDo(t, http.MethodPost, e.g.URL, strings.NewReader(echoBody(fmt.Sprint(700000+n), msg)), hostileMCPHeaders(e.credA(), e.sidA))
	if r.status != http.StatusOK || !strings.Contains(r.body, "Echo: "+msg) {
		t.Errorf("the good call after the probe: status %d, body %s; want 200 with %q", r.status, tail(r.body, 300), "Echo: "+msg)
	}
	if h := hostileDo(t, http.MethodGet, e.g.Base+"/healthz", nil, http.Header{}); h.status != http.StatusOK {
		t.Errorf("/healthz after the probe: %d %s", h.status, h.body)
	}
}

// ---------------------------------------------------------------------------
// Probes sent with net/http's client

// hostileHTTPCase is one request sent with net/http's client and the answer
// it must get (a refusal, but for one served control case).
type hostileHTTPCase struct {
	name   string
	method string // default POST
	query  string // appended to the MCP URL (with its "?")
	body   []byte
	// chunked sends body without a Content-Length.
	chunked bool
	// header builds the request's headers; nil = A's credential on A's
	// session with MCP's usual headers.
	header func(e *hostileEnv) http.Header

	status    int
	code      int64  // JSON-RPC error code of the body; 0 = no JSON-RPC body is checked
	reason    string // the request log line's reason; "" = no log line is checked
	challenge func(e *hostileEnv) string
	// check runs further assertions on the answer.
	check func(t *testing.T, e *hostileEnv, r rawResponse)
}

func (e *hostileEnv) runHTTPCase(t *testing.T, c hostileHTTPCase) {
	t.Helper()
	method := c.method
	if method == "" {
		method = http.MethodPost
	}
	h := hostileMCPHeaders(e.credA(), e.sidA)
	if c.header != nil {
		h = c.header(e)
	}
	var body io.Reader
	switch {
	case c.chunked:
		// A reader of unknown length: net/http sends it chunked.
		body = io.MultiReader(bytes.NewReader(c.body))
	case c.body != nil:
		body = bytes.NewReader(c.body)
	}
	before := len(e.g.requests())
	r := hostileDo(t, method, e.g.URL+c.query, body, h)
	if r.status != c.status {
		t.Errorf("status %d, want %d; body %s", r.status, c.status, tail(r.body, 300))
	}
	if c.code != 0 {
		code, msg, ok := r.rpcError()
		switch {
		case !ok:
			t.Errorf("body is not a JSON-RPC error: %s", tail(r.body, 300))
		case code != c.code:
			t.Errorf("JSON-RPC error code %d (%q), want %d", code, msg, c.code)
		}
	}
	if c.challenge != nil {
		if got, want := r.header.Get("WWW-Authenticate"), c.challenge(e); got != want {
			t.Errorf("WWW-Authenticate\n got %q\nwant %q", got, want)
		}
	}
	if c.reason != "" {
		l := e.g.waitRequestAfter(t, c.name, before, func(l logEntry) bool { return l.status() == r.status })
		if l != nil && l.str("reason") != c.reason {
			t.Errorf("logged reason %q (detail %q), want %q", l.str("reason"), l.str("detail"), c.reason)
		}
	}
	if c.check != nil {
		c.check(t, e, r)
	}
}

// hostileWithHeader returns A's usual headers changed by mod.
func hostileWithHeader(mod func(e *hostileEnv, h http.Header)) func(e *hostileEnv) http.Header {
	return func(e *hostileEnv) http.Header {
		h := hostileMCPHeaders(e.credA(), e.sidA)
		mod(e, h)
		return h
	}
}

func hostileBodyCases() []hostileHTTPCase {
	echo := func(msg string) []byte { return []byte(echoBody("1", msg)) }
	oversized := echo(strings.Repeat("a", hostileMaxBody+1024))
	// 100k '[' inside params: far beyond limits.maxDepth, far below maxBody.
	deepArrays := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":` +
		strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}}}`)
	deepUnclosed := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":` + strings.Repeat("[", 100000))
	deepObjects := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":` +
		strings.Repeat(`{"a":`, 50000) + `1` + strings.Repeat("}", 50000) + `}}`)
	var batch strings.Builder
	batch.WriteByte('[')
	for i := range 20000 {
		if i > 0 {
			batch.WriteByte(',')
		}
		fmt.Fprintf(&batch, `{"jsonrpc":"2.0","id":%d,"method":"ping"}`, i+1)
	}
	batch.WriteByte(']')
	hugeBatch := []byte(batch.String())
	v0326 := hostileWithHeader(func(_ *hostileEnv, h http.Header) { h.Set("MCP-Protocol-Version", "2025-03-26") })

	parse := func(name string, body []byte) hostileHTTPCase {
		return hostileHTTPCase{name: name, body: body, status: 400, code: -32700, reason: "parse_error"}
	}
	return []hostileHTTPCase{
		{
			name: "oversized body, Content-Length", body: oversized,
			// Expect: 100-continue, so that the early 413 is read rather
			// than lost to the reset of a connection closed mid-upload.
			header: hostileWithHeader(func(_ *hostileEnv, h http.Header) { h.Set("Expect", "100-continue") }),
			status: 413, code: -32600, reason: "body_too_large",
		},
		{
			name: "oversized body, chunked", body: oversized, chunked: true,
			status: 413, code: -32600, reason: "body_too_large",
		},
		parse("100k nested arrays inside params", deepArrays),
		parse("100k unclosed arrays", deepUnclosed),
		parse("50k nested objects inside params", deepObjects),
		parse("invalid UTF-8 in a string", []byte("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"message\":\"a\xffb\"}}}")),
		parse("invalid UTF-8 in a member name", []byte("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"mess\xc3\x28age\":\"x\"}}}")),
		parse("overlong UTF-8 encoding of a slash", []byte("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools\xc0\xafcall\"}")),
		parse("unpaired surrogate escape", []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"\ud800"}}}`)),
		parse("duplicate method", []byte(`{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call","params":{"name":"echo","arguments":{"message":"x"}}}`)),
		parse("case-variant method and Method", []byte(`{"jsonrpc":"2.0","id":1,"method":"ping","Method":"tools/call","params":{"name":"echo","arguments":{"message":"x"}}}`)),
		parse("case-variant id and ID", []byte(`{"jsonrpc":"2.0","id":1,"ID":2,"method":"ping"}`)),
		parse("case-variant name inside params", []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","NAME":"get-env","arguments":{"message":"x"}}}`)),
		// An escaped member name is the same name once unescaped.
		parse("duplicate method, one escaped", []byte(`{"jsonrpc":"2.0","id":1,"method":"ping","meth\u006fd":"tools/call"}`)),
		// U+017F (long s) folds to 's' in Go's case-insensitive member
		// matching (bytes.EqualFold), so a Go backend would read "paramſ"
		// as "params" and keep the last one.
		parse("Unicode case-fold variant of params", []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"x"}},"param`+"\u017f"+`":{"name":"get-env"}}`)),
		{
			name: "huge batch at 2025-03-26 (20000 messages)", body: hugeBatch, header: v0326,
			status: 400, code: -32600, reason: "invalid_request",
		},
		{
			name: "huge batch at 2025-06-18", body: hugeBatch,
			status: 400, code: -32600, reason: "invalid_request",
		},
	}
}

func hostileHeaderCases() []hostileHTTPCase {
	ping := []byte(`{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	many := func(n int, name func(i int) string) func(e *hostileEnv) http.Header {
		return hostileWithHeader(func(_ *hostileEnv, h http.Header) {
			for i := range n {
				h.Add(name(i), "0123456789")
			}
		})
	}
	return []hostileHTTPCase{
		{
			name: "one header over maxHeaderBytes", body: ping,
			header: hostileWithHeader(func(_ *hostileEnv, h http.Header) {
				h.Set("X-Hostile-Padding", strings.Repeat("p", hostileMaxHeader+1024))
			}),
			status: 431, code: -32600, reason: "headers_too_large",
		},
		{
			// ~25KB in 900 small fields: over maxHeaderBytes in total.
			name: "900 distinct headers over maxHeaderBytes", body: ping,
			header: many(900, func(i int) string { return fmt.Sprintf("X-Hostile-%04d", i) }),
			status: 431, code: -32600, reason: "headers_too_large",
		},
		{
			name: "one header repeated 900 times", body: ping,
			header: many(900, func(int) string { return "X-Hostile-Repeat" }),
			status: 431, code: -32600, reason: "headers_too_large",
		},
	}
}

func hostileQueryCases() []hostileHTTPCase {
	invalidRequest := func(e *hostileEnv) string { return e.plain + ", " + invalidRequestDesc }
	plain := func(e *hostileEnv) string { return e.plain }
	ping := []byte(`{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	noCred := func(e *hostileEnv) http.Header { return hostileMCPHeaders(nil, e.sidA) }
	return []hostileHTTPCase{
		{
			// The parameter name percent-encoded: still access_token.
			name: "access%5Ftoken with a valid API key header", body: ping,
			query:  "?access%5Ftoken=" + "API_KEY_A",
			status: 401, code: codeInvalidRequest, reason: "unauthenticated", challenge: invalidRequest,
		},
		{
			name: "access_token as a second parameter with B's bearer", body: ping,
			query:  "?x=1&access_token=" + "TOKEN_B",
			header: func(e *hostileEnv) http.Header { return hostileMCPHeaders(e.credB(), e.sidB) },
			status: 401, code: codeInvalidRequest, reason: "unauthenticated", challenge: invalidRequest,
		},
		{
			name: "access_token on a GET stream", method: http.MethodGet,
			query:  "?access_token=" + "API_KEY_A",
			status: 401, code: codeInvalidRequest, reason: "unauthenticated", challenge: invalidRequest,
		},
		{
			// The key in the query is not a credential: no credential.
			name: "api_key alone", body: ping, query: "?api_key=" + "API_KEY_A", header: noCred,
			status: 401, code: codeAuth, reason: "unauthenticated", challenge: plain,
		},
		{
			name: "X-API-Key as a query parameter alone", body: ping, query: "?X-API-Key=" + "API_KEY_A", header: noCred,
			status: 401, code: codeAuth, reason: "unauthenticated", challenge: plain,
		},
		{
			// Authenticated by the header; the query parameter is ignored,
			// and the key in it must not reach the backend.
			name: "api_key beside a valid API key header", body: ping, query: "?api_key=" + "API_KEY_A",
			status: 200,
			check: func(t *testing.T, e *hostileEnv, r rawResponse) {
				if hits := e.rec.containing(e.keyA.Key); len(hits) > 0 {
					t.Errorf("the backend received the API key from the query string: %s %s", hits[0].method, hits[0].uri)
				}
			},
		},
	}
}

func hostileCredentialCases() []hostileHTTPCase {
	invalidRequest := func(e *hostileEnv) string { return e.plain + ", " + invalidRequestDesc }
	ping := []byte(`{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	return []hostileHTTPCase{
		{
			name: "two X-API-Key headers", body: ping,
			header: hostileWithHeader(func(_ *hostileEnv, h http.Header) { h.Add("X-API-Key", "mcpg_"+strings.Repeat("Z", 43)) }),
			status: 401, code: codeInvalidRequest, reason: "unauthenticated", challenge: invalidRequest,
		},
		{
			name: "two Authorization headers", body: ping,
			header: func(e *hostileEnv) http.Header {
				h := hostileMCPHeaders(e.credB(), e.sidB)
				h.Add("Authorization", "Bearer "+e.tokSameA)
				return h
			},
			status: 401, code: codeInvalidRequest, reason: "unauthenticated", challenge: invalidRequest,
		},
		{
			name: "API key header and Authorization together", body: ping,
			header: hostileWithHeader(func(e *hostileEnv, h http.Header) { h.Set("Authorization", "Bearer "+e.tokB) }),
			status: 401, code: codeInvalidRequest, reason: "unauthenticated", challenge: invalidRequest,
		},
		{
			name: "Bearer with a tab inside the token", body: ping,
			header: func(e *hostileEnv) http.Header {
				tok := e.tokB[:20] + "\t" + e.tokB[20:]
				return hostileMCPHeaders(http.Header{"Authorization": {"Bearer " + tok}}, e.sidB)
			},
			status: 401, code: codeInvalidRequest, reason: "unauthenticated", challenge: invalidRequest,
		},
	}
}

func hostileSessionCases() []hostileHTTPCase {
	ping := []byte(`{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	random := "0123456789abcdef0123456789abcdef"
	asA := func(sid string) func(e *hostileEnv) http.Header {
		return func(e *hostileEnv) http.Header { return hostileMCPHeaders(e.credA(), sid) }
	}
	onA := func(cred func(e *hostileEnv) http.Header) func(e *hostileEnv) http.Header {
		return func(e *hostileEnv) http.Header { return hostileMCPHeaders(cred(e), e.sidA) }
	}
	credB := func(e *hostileEnv) http.Header { return e.credB() }
	sameSubject := func(e *hostileEnv) http.Header {
		return http.Header{"Authorization": {"Bearer " + e.tokSameA}}
	}
	notFound := func(c hostileHTTPCase) hostileHTTPCase {
		c.status, c.code, c.reason = 404, -32001, "session_not_found"
		return c
	}
	return []hostileHTTPCase{
		notFound(hostileHTTPCase{name: "random session id, GET stream", method: http.MethodGet, header: asA(random)}),
		notFound(hostileHTTPCase{name: "random session id, DELETE", method: http.MethodDelete, header: asA(random)}),
		notFound(hostileHTTPCase{name: "B reads A's stream (GET)", method: http.MethodGet, header: onA(credB)}),
		notFound(hostileHTTPCase{name: "B deletes A's session", method: http.MethodDelete, header: onA(credB)}),
		notFound(hostileHTTPCase{name: "B calls a tool on A's session", body: []byte(echoBody("1", "as B")), header: onA(credB)}),
		// Same subject string, other issuer: another principal.
		notFound(hostileHTTPCase{name: "A's subject from the OIDC issuer reads A's stream", method: http.MethodGet, header: onA(sameSubject)}),
		notFound(hostileHTTPCase{name: "A's subject from the OIDC issuer posts on A's session", body: ping, header: onA(sameSubject)}),
		notFound(hostileHTTPCase{name: "session id of 8KiB", body: ping, header: asA(strings.Repeat("a", 8<<10))}),
		notFound(hostileHTTPCase{name: "session id of obs-text bytes", body: ping, header: asA("\x80\xfe\xff" + random)}),
		notFound(hostileHTTPCase{name: "session id with spaces inside", body: ping, header: asA("0123 4567 89ab cdef")}),
		{
			// B names its own session first and A's second: the binder
			// must not authorize one value while the backend is handed
			// both. The gateway should refuse the ambiguity itself.
			name: "B sends its own and A's session id", body: ping,
			header: func(e *hostileEnv) http.Header {
				h := hostileMCPHeaders(e.credB(), e.sidB)
				h.Add("Mcp-Session-Id", e.sidA)
				return h
			},
			// The gateway's own answer: the backend's 400 carries -32000.
			status: 400, code: -32600,
			check: func(t *testing.T, e *hostileEnv, r rawResponse) {
				for _, s := range e.rec.all() {
					if vs := s.header.Values("Mcp-Session-Id"); len(vs) > 1 {
						t.Errorf("the backend received %d Mcp-Session-Id headers %q: the gateway checked one and forwarded both", len(vs), vs)
						return
					}
				}
			},
		},
	}
}

// hostileHygieneCases are the header-hygiene probes of issue 13 (items 1,
// 2 and 11) and the Host/Origin rules of issue 12 (item 2). Each refused
// probe carries a marker in a part of the request the relay forwards (the
// echo message, Last-Event-ID); the marker must never reach the backend.
func hostileHygieneCases() []hostileHTTPCase {
	notForwarded := func(marker string) func(t *testing.T, e *hostileEnv, r rawResponse) {
		return func(t *testing.T, e *hostileEnv, _ rawResponse) {
			if hits := e.rec.containing(marker); len(hits) > 0 {
				t.Errorf("the backend received the refused request: %s %s %v", hits[0].method, hits[0].uri, hits[0].header)
			}
		}
	}
	refused := func(name, marker string, mod func(e *hostileEnv, h http.Header)) hostileHTTPCase {
		return hostileHTTPCase{
			name: name, body: []byte(echoBody("1", marker)), header: hostileWithHeader(mod),
			status: 400, code: -32600, reason: "invalid_request", check: notForwarded(marker),
		}
	}
	// B's own credential and no Mcp-Session-Id: only the underscore
	// spelling names a session, A's.
	asBWith := func(name string) func(e *hostileEnv) http.Header {
		return func(e *hostileEnv) http.Header {
			h := hostileMCPHeaders(e.credB(), "")
			h[name] = []string{e.sidA}
			return h
		}
	}
	byB := func(name, marker, header string) hostileHTTPCase {
		c := refused(name, marker, nil)
		c.header = asBWith(header)
		return c
	}
	identity := http.Header{
		"X-Amzn-Oidc-Identity":            {"hostile-identity"},
		"X-Goog-Authenticated-User-Email": {"accounts.google.com:hostile-identity@example.com"},
		"X-Authenticated-User":            {"hostile-identity"},
		"X-Webauth-User":                  {"hostile-identity"},
		"True-Client-Ip":                  {"10.66.0.1"},
		"X-Original-Url":                  {"/hostile-identity"},
	}
	hostHeaders := func(host, origin string) func(e *hostileEnv) http.Header {
		return func(e *hostileEnv) http.Header {
			h := hostileMCPHeaders(e.credA(), e.sidA)
			_, port, _ := net.SplitHostPort(e.addr)
			h.Set("Host", strings.ReplaceAll(host, "PORT", port))
			if origin != "" {
				h.Set("Origin", strings.ReplaceAll(origin, "PORT", port))
			}
			return h
		}
	}
	ping := []byte(`{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	return []hostileHTTPCase{
		// Item 1: a WSGI/CGI backend folds these into the managed header.
		byB("B names A's session as Mcp_Session_Id", "hostile-alias-session", "Mcp_Session_Id"),
		byB("B names A's session as mcp_session_id", "hostile-alias-session-lower", "mcp_session_id"),
		refused("Mcp_Protocol_Version", "hostile-alias-version", func(_ *hostileEnv, h http.Header) { h["Mcp_Protocol_Version"] = []string{"2025-11-25"} }),
		refused("Mcp_Method", "hostile-alias-method", func(_ *hostileEnv, h http.Header) { h["Mcp_Method"] = []string{"tools/list"} }),
		refused("Mcp_Name", "hostile-alias-name", func(_ *hostileEnv, h http.Header) { h["Mcp_Name"] = []string{"get-env"} }),
		{
			name: "Last_Event_Id on A's stream", method: http.MethodGet,
			header: hostileWithHeader(func(_ *hostileEnv, h http.Header) {
				h.Del("Content-Type")
				h["Last_Event_Id"] = []string{"hostile-alias-last-event"}
			}),
			status: 400, code: -32600, reason: "invalid_request", check: notForwarded("hostile-alias-last-event"),
		},
		refused("X_Api_Key beside A's key", "hostile-alias-apikey", func(_ *hostileEnv, h http.Header) { h["X_Api_Key"] = []string{"mcpg_" + strings.Repeat("Z", 43)} }),
		refused("X_Forwarded_User", "hostile-alias-xfu", func(_ *hostileEnv, h http.Header) { h["X_Forwarded_User"] = []string{"admin"} }),

		// Item 2: MCP has no protocol upgrade.
		{
			name: "websocket upgrade of A's GET stream", method: http.MethodGet,
			header: hostileWithHeader(func(_ *hostileEnv, h http.Header) {
				h.Del("Content-Type")
				h.Set("Connection", "Upgrade")
				h.Set("Upgrade", "websocket")
				h.Set("Sec-WebSocket-Version", "13")
				h.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
				h.Set("Last-Event-ID", "hostile-upgrade-ws")
			}),
			status: 400, code: -32600, reason: "invalid_request", check: notForwarded("hostile-upgrade-ws"),
		},
		refused("h2c upgrade of a POST", "hostile-upgrade-h2c", func(_ *hostileEnv, h http.Header) {
			h.Set("Connection", "Upgrade, HTTP2-Settings")
			h.Set("Upgrade", "h2c")
			h.Set("HTTP2-Settings", "AAMAAABkAAQAAP__")
		}),
		refused("Upgrade without Connection", "hostile-upgrade-bare", func(_ *hostileEnv, h http.Header) { h.Set("Upgrade", "websocket") }),

		// Item 11: Connection must not hide a managed header.
		refused("Connection names Mcp-Protocol-Version", "hostile-connection-version", func(_ *hostileEnv, h http.Header) {
			h.Set("Connection", "Mcp-Protocol-Version")
		}),
		refused("Connection names Mcp-Session-Id", "hostile-connection-session", func(_ *hostileEnv, h http.Header) {
			h.Set("Connection", "keep-alive, mcp-session-id")
		}),
		{
			// Item 11: identity headers the old deny-list missed; the
			// allow-list forwards none of them.
			name: "identity headers of authenticating proxies", body: []byte(echoBody("1", "hostile-identity-call")),
			header: hostileWithHeader(func(_ *hostileEnv, h http.Header) {
				for k, v := range identity {
					h[k] = v
				}
			}),
			status: 200,
			check: func(t *testing.T, e *hostileEnv, r rawResponse) {
				seen := e.rec.containing("hostile-identity-call")
				if len(seen) != 1 {
					t.Fatalf("the backend got %d requests with the call, want 1", len(seen))
				}
				for name := range identity {
					if v, ok := seen[0].header[name]; ok {
						t.Errorf("%s reached the backend: %q", name, v)
					}
				}
			},
		},

		// Issue 12 item 2: same-origin passes, a rebinding Host does not.
		{name: "same-origin request on 127.0.0.1", body: ping, header: hostHeaders("127.0.0.1:PORT", "http://127.0.0.1:PORT"), status: 200},
		{name: "same-origin request on localhost", body: ping, header: hostHeaders("localhost:PORT", "http://localhost:PORT"), status: 200},
		{
			name: "rebinding: foreign Host with a matching Origin", body: []byte(echoBody("1", "hostile-rebind-origin")),
			header: hostHeaders("evil.example.com:PORT", "http://evil.example.com:PORT"),
			status: 403, code: -32600, reason: "origin_rejected", check: notForwarded("hostile-rebind-origin"),
		},
		{
			name: "rebinding: foreign Host without Origin", body: []byte(echoBody("1", "hostile-rebind-host")),
			header: hostHeaders("evil.example.com:PORT", ""),
			status: 403, code: -32600, reason: "origin_rejected", check: notForwarded("hostile-rebind-host"),
		},
		{
			name: "cross-origin page on another local port", body: []byte(echoBody("1", "hostile-cross-port")),
			header: hostHeaders("127.0.0.1:PORT", "http://127.0.0.1:1"),
			status: 403, code: -32600, reason: "origin_rejected", check: notForwarded("hostile-cross-port"),
		},
	}
}

// hostileTrailers sends A's echo with request trailers naming B's
// credential and session (issue 13 item 11): the call is served, and no
// trailer reaches the backend.
func hostileTrailers(t *testing.T, e *hostileEnv) {
	const msg, marker = "hostile-trailer-call", "hostile-trailer-marker"
	req, err := http.NewRequest(http.MethodPost, e.g.URL, io.MultiReader(strings.NewReader(echoBody("1", msg))))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hostileMCPHeaders(e.credA(), e.sidA)
	req.Trailer = http.Header{"Authorization": {"Bearer " + e.tokB}, "Mcp-Session-Id": {e.sidB}, "X-Hostile-Trailer": {marker}}
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Echo: "+msg) {
		t.Fatalf("status %d, body %s; want the echo served", resp.StatusCode, tail(string(body), 300))
	}
	seen := e.rec.containing(msg)
	if len(seen) != 1 {
		t.Fatalf("the backend got %d requests with the call, want 1", len(seen))
	}
	if len(seen[0].trailer) != 0 || seen[0].header.Get("Trailer") != "" {
		t.Errorf("the backend received request trailers %v (Trailer: %q)", seen[0].trailer, seen[0].header.Get("Trailer"))
	}
	if hits := e.rec.containing(marker); len(hits) > 0 {
		t.Errorf("the trailer marker reached the backend")
	}
}

// ---------------------------------------------------------------------------
// Probes sent on a raw TCP connection

// hostileRawResp is one response read off a raw connection.
type hostileRawResp struct {
	status int
	header http.Header
	body   string
}

// hostileRawResult is everything a raw exchange saw.
type hostileRawResult struct {
	resps   []hostileRawResp
	closed  bool          // the server closed the connection
	elapsed time.Duration // from dialing to the close (or to giving up)
	err     error         // a failure other than the server closing
}

// hostileRawExchange dials addr, writes parts[0], then each further part
// after gap (a slow client), and reads responses until the server closes
// the connection or wait has passed since dialing. Writing runs on its own
// goroutine, so a server that stops reading cannot block the test.
func hostileRawExchange(addr string, parts []string, gap, wait time.Duration) hostileRawResult {
	start := time.Now()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return hostileRawResult{err: err}
	}
	defer conn.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i, p := range parts {
			if i > 0 {
				select {
				case <-stop:
					return
				case <-time.After(gap):
				}
			}
			if _, err := conn.Write([]byte(p)); err != nil {
				return
			}
		}
	}()
	var res hostileRawResult
	_ = conn.SetReadDeadline(start.Add(wait))
	br := bufio.NewReader(conn)
	for {
		resp, err := http.ReadResponse(br, nil)
		if err == nil {
			b, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			res.resps = append(res.resps, hostileRawResp{status: resp.StatusCode, header: resp.Header, body: string(b)})
			if rerr == nil {
				continue
			}
			err = rerr
		}
		res.elapsed = time.Since(start)
		var ne net.Error
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
			res.closed = true
		case errors.As(err, &ne) && ne.Timeout():
		default:
			res.err = err
		}
		return res
	}
}

func (r hostileRawResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d response(s), closed %v after %v", len(r.resps), r.closed, r.elapsed.Round(time.Millisecond))
	for i, x := range r.resps {
		fmt.Fprintf(&b, "; #%d: %d %s", i+1, x.status, tail(strings.TrimSpace(x.body), 200))
	}
	if r.err != nil {
		fmt.Fprintf(&b, "; error: %v", r.err)
	}
	return b.String()
}

// rawHead is the request line and headers of an authenticated MCP POST by A
// on A's session, without the framing headers and the blank line; extra is
// inserted verbatim (with its own line endings).
func (e *hostileEnv) rawHead(extra string) string {
	return "POST /mcp HTTP/1.1\r\n" +
		"Host: " + e.addr + "\r\n" +
		"Content-Type: application/json\r\n" +
		"Accept: application/json, text/event-stream\r\n" +
		"MCP-Protocol-Version: " + v0618 + "\r\n" +
		"Mcp-Session-Id: " + e.sidA + "\r\n" +
		"X-API-Key: " + e.keyA.Key + "\r\n" +
		extra
}

// rawPost is a complete request: rawHead(extra) with a Content-Length body.
func (e *hostileEnv) rawPost(extra, body string) string {
	return e.rawHead(extra) + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

func hostileChunk(s string) string { return fmt.Sprintf("%x\r\n%s\r\n", len(s), s) }

// hostileRawCase is one hand-written request.
type hostileRawCase struct {
	name string
	// build returns the bytes to send and the marker that must never reach
	// the backend ("" = nothing checked).
	build func(e *hostileEnv, marker string) (req, mustNotReach string)
	// status is the one answer expected; the connection must then be
	// closed, and no second response may follow.
	status int
	// served, if set, is a second acceptable status: the RFC also lets the
	// server process the request by its one safe framing, provided it then
	// closes the connection (the same checks apply).
	served int
	// accept, if set, also admits a served request, checked by it (for
	// the RFC's alternative of normalizing instead of rejecting).
	accept func(t *testing.T, e *hostileEnv, marker string, res hostileRawResult) bool
}

func (e *hostileEnv) runRawCase(t *testing.T, c hostileRawCase) {
	t.Helper()
	marker := fmt.Sprintf("hostile-marker-%d", e.seq.Add(1))
	req, mustNot := c.build(e, marker)
	res := hostileRawExchange(e.addr, []string{req}, 0, 10*time.Second)
	t.Logf("%s", res)
	if res.err != nil {
		t.Fatalf("raw exchange: %v", res.err)
	}
	if c.accept != nil && len(res.resps) == 1 && res.resps[0].status != c.status && c.accept(t, e, marker, res) {
		return
	}
	switch {
	case len(res.resps) > 0 && c.served != 0 && res.resps[0].status == c.served:
		t.Logf("served by its safe framing (allowed instead of %d when the connection is closed after it)", c.status)
	case len(res.resps) == 0 || res.resps[0].status != c.status:
		t.Errorf("want one %d answer; got %s", c.status, res)
	}
	if len(res.resps) > 1 {
		t.Errorf("the server answered %d requests on the connection: a second request was processed", len(res.resps))
	}
	if !res.closed {
		t.Errorf("the connection was not closed after the %d answer (waited %v)", c.status, res.elapsed.Round(time.Millisecond))
	}
	if mustNot != "" {
		if hits := e.rec.containing(mustNot); len(hits) > 0 {
			t.Errorf("the backend received %q: %s %s %v", mustNot, hits[0].method, hits[0].uri, hits[0].header)
		}
	}
}

func hostileInjectionCases() []hostileRawCase {
	// Each sends an echo whose message is the marker, and a header line
	// that would carry an X-Hostile-Injected header if the bytes split it.
	inject := func(line string) func(e *hostileEnv, marker string) (string, string) {
		return func(e *hostileEnv, marker string) (string, string) {
			l := strings.ReplaceAll(line, "MARKER", marker)
			return e.rawPost(l+"Connection: close\r\n", echoBody("1", marker)), marker
		}
	}
	return []hostileRawCase{
		{name: "bare CR in a header value", build: inject("X-Hostile-Cr: a\r" + hostileInjectedHdr + ": MARKER\r\n"), status: 400},
		{
			// net/textproto takes a bare LF for a line end, as RFC 9112 §2.2
			// lets a recipient do: the request then has two header fields,
			// and the gateway decides (authentication, stripping) on the
			// same two it forwards, so it and the backend cannot disagree.
			// Only a front proxy that forwarded an LF inside one value
			// could see it otherwise, and RFC 9110 §5.5 forbids that. So
			// either answer is right: 400, or served with the two fields
			// exactly as parsed.
			name: "bare LF in a header value", build: inject("X-Hostile-Lf: a\n" + hostileInjectedHdr + ": MARKER\r\n"), status: 400,
			accept: func(t *testing.T, e *hostileEnv, marker string, res hostileRawResult) bool {
				if res.resps[0].status != http.StatusOK {
					return false
				}
				seen := e.rec.containing(marker)
				if len(seen) != 1 {
					t.Errorf("bare LF was served; the backend got %d requests with the marker, want 1", len(seen))
				}
				for _, s := range seen {
					if v := s.header.Values("X-Hostile-Lf"); len(v) != 1 || v[0] != "a" {
						t.Errorf("bare LF was served, but the backend got X-Hostile-Lf %q, want [\"a\"] (the field as the gateway parsed it)", v)
					}
					if v := s.header.Values(hostileInjectedHdr); len(v) != 1 || v[0] != marker {
						t.Errorf("bare LF was served, but the backend got %s %q, want [%q] (the second field as the gateway parsed it)", hostileInjectedHdr, v, marker)
					}
				}
				t.Logf("bare LF was taken as a line end and served with the two fields as parsed (RFC 9112 §2.2)")
				return true
			},
		},
		{name: "NUL in a header value", build: inject("X-Hostile-Nul: a\x00" + hostileInjectedHdr + ": MARKER\r\n"), status: 400},
		{name: "DEL in a header value", build: inject("X-Hostile-Del: a\x7fMARKER\r\n"), status: 400},
		{name: "CR in the request target", build: func(e *hostileEnv, marker string) (string, string) {
			return strings.Replace(e.rawPost("Connection: close\r\n", echoBody("1", marker)), "POST /mcp ", "POST /mcp\r"+marker+" ", 1), marker
		}, status: 400},
		{
			// RFC 9112 §5.2: a server MUST either reject obs-fold with 400
			// or replace it with SP before interpreting or forwarding. Both
			// leave no split header; the second is checked at the backend.
			name: "obs-fold continuation line", build: inject("X-Hostile-Fold: a\r\n " + hostileInjectedHdr + ": MARKER\r\n"), status: 400,
			accept: func(t *testing.T, e *hostileEnv, marker string, res hostileRawResult) bool {
				if res.resps[0].status != http.StatusOK {
					return false
				}
				want := "a " + hostileInjectedHdr + ": " + marker
				for _, s := range e.rec.containing(marker) {
					if v := s.header.Values("X-Hostile-Fold"); len(v) != 1 || v[0] != want {
						t.Errorf("obs-fold was served, but the backend got X-Hostile-Fold %q, want [%q] (the fold replaced by SP)", v, want)
					}
					if _, split := s.header[hostileInjectedHdr]; split {
						t.Errorf("obs-fold was served and the backend received a split %s header", hostileInjectedHdr)
					}
				}
				t.Logf("obs-fold was normalized to SP and served (RFC 9112 §5.2 allows this instead of 400)")
				return true
			},
		},
		{name: "space between header name and colon", build: inject("X-Hostile-Space : MARKER\r\n"), status: 400},
		{name: "control byte in the session id", build: func(e *hostileEnv, marker string) (string, string) {
			return strings.Replace(e.rawPost("Connection: close\r\n", echoBody("1", marker)), "Mcp-Session-Id: "+e.sidA, "Mcp-Session-Id: \x01"+e.sidA, 1), marker
		}, status: 400},
		{name: "DEL in the session id", build: func(e *hostileEnv, marker string) (string, string) {
			return strings.Replace(e.rawPost("Connection: close\r\n", echoBody("1", marker)), "Mcp-Session-Id: "+e.sidA, "Mcp-Session-Id: "+e.sidA+"\x7f", 1), marker
		}, status: 400},
		{
			// The limits stage refuses a declared Content-Length over
			// maxBodyBytes before reading any of it.
			name: "declared Content-Length over maxBodyBytes, body never sent", status: 413,
			build: func(e *hostileEnv, marker string) (string, string) {
				return e.rawHead("X-Hostile-Marker: "+marker+"\r\n") + "Content-Length: " + strconv.Itoa(10*hostileMaxBody) + "\r\n\r\n", marker
			},
		},
		{
			// net/http's own cap (2 × maxHeaderBytes) answers before any
			// stage: a plain-text 431.
			name: "header block over net/http's cap", status: 431,
			build: func(e *hostileEnv, marker string) (string, string) {
				return e.rawPost("X-Hostile-Padding: "+strings.Repeat("p", 8*hostileMaxHeader)+"\r\n", echoBody("1", marker)), marker
			},
		},
	}
}

// hostileSmuggled is a complete second request hidden in the first one's
// body; it must never be processed.
func (e *hostileEnv) hostileSmuggled(marker string) string {
	return e.rawPost("Connection: close\r\n", echoBody(fmt.Sprint(990001), marker))
}

func hostileSmugglingCases() []hostileRawCase {
	ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	return []hostileRawCase{
		{
			// CL.TE: a front end that honours Content-Length forwards the
			// whole thing as one body; one that honours chunked sees the
			// smuggled request after the last chunk. RFC 9112 §6.1: the
			// server MAY reject it (400) or use Transfer-Encoding alone,
			// and MUST close the connection after responding either way.
			name: "Content-Length and Transfer-Encoding", status: 400, served: 200,
			build: func(e *hostileEnv, marker string) (string, string) {
				body := hostileChunk(ping) + "0\r\n\r\n" + e.hostileSmuggled(marker)
				return e.rawHead("Content-Length: "+strconv.Itoa(len(body))+"\r\nTransfer-Encoding: chunked\r\n") + "\r\n" + body, marker
			},
		},
		{
			name: "Transfer-Encoding before Content-Length", status: 400, served: 200,
			build: func(e *hostileEnv, marker string) (string, string) {
				body := hostileChunk(ping) + "0\r\n\r\n" + e.hostileSmuggled(marker)
				return e.rawHead("Transfer-Encoding: chunked\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n") + "\r\n" + body, marker
			},
		},
		{
			name: "two different Content-Length headers", status: 400,
			build: func(e *hostileEnv, marker string) (string, string) {
				body := ping + e.hostileSmuggled(marker)
				return e.rawHead("Content-Length: "+strconv.Itoa(len(ping))+"\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n") + "\r\n" + body, marker
			},
		},
		{
			name: "Content-Length list of two values", status: 400,
			build: func(e *hostileEnv, marker string) (string, string) {
				body := ping + e.hostileSmuggled(marker)
				return e.rawHead("Content-Length: "+strconv.Itoa(len(ping))+", "+strconv.Itoa(len(body))+"\r\n") + "\r\n" + body, marker
			},
		},
		{
			name: "Transfer-Encoding with a space before the colon", status: 400,
			build: func(e *hostileEnv, marker string) (string, string) {
				body := hostileChunk(ping) + "0\r\n\r\n" + e.hostileSmuggled(marker)
				return e.rawHead("Content-Length: "+strconv.Itoa(len(body))+"\r\nTransfer-Encoding : chunked\r\n") + "\r\n" + body, marker
			},
		},
		{
			// RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message
			// means the framing is faulty, even with a Content-Length, and
			// the connection MUST be closed after processing the message
			// (net/http ignores the header for HTTP/1.0 and honours
			// keep-alive, so the smuggled request would run).
			name: "HTTP 1.0 with Transfer-Encoding, Content-Length and keep-alive", status: 400, served: 200,
			build: func(e *hostileEnv, marker string) (string, string) {
				body := ping + e.hostileSmuggled(marker)
				head := strings.Replace(e.rawHead("Connection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: "+strconv.Itoa(len(ping))+"\r\n"), "HTTP/1.1\r\n", "HTTP/1.0\r\n", 1)
				return head + "\r\n" + body, marker
			},
		},
		{
			// An unknown coding: RFC 9112 §6.1 says 501 (SHOULD), the one
			// 5xx that is the right answer here.
			name: "Transfer-Encoding xchunked with Content-Length", status: 501,
			build: func(e *hostileEnv, marker string) (string, string) {
				body := ping + e.hostileSmuggled(marker)
				return e.rawHead("Content-Length: "+strconv.Itoa(len(ping))+"\r\nTransfer-Encoding: xchunked\r\n") + "\r\n" + body, marker
			},
		},
	}
}

// ---------------------------------------------------------------------------
// The test

func TestHostile(t *testing.T) {
	t.Parallel()
	e := hostileStart(t)
	e.alive(t)

	httpGroups := []struct {
		name  string
		cases []hostileHTTPCase
	}{
		{"body", hostileBodyCases()},
		{"headers", hostileHeaderCases()},
		{"query string", hostileQueryCases()},
		{"credentials", hostileCredentialCases()},
		{"sessions", hostileSessionCases()},
		{"header hygiene", hostileHygieneCases()},
	}
	for _, grp := range httpGroups {
		t.Run(grp.name, func(t *testing.T) {
			for _, c := range grp.cases {
				t.Run(c.name, func(t *testing.T) {
					c.query = strings.NewReplacer("API_KEY_A", url.QueryEscape(e.keyA.Key), "TOKEN_B", url.QueryEscape(e.tokB)).Replace(c.query)
					e.runHTTPCase(t, c)
					e.alive(t)
				})
			}
		})
	}

	t.Run("header hygiene/request trailers", func(t *testing.T) {
		hostileTrailers(t, e)
		e.alive(t)
	})

	// A can still read its own stream: the 404s above are about who asks.
	t.Run("A reads its own stream", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.g.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header = hostileMCPHeaders(e.credA(), e.sidA)
		req.Header.Del("Content-Type")
		resp, err := rawClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Errorf("A's GET on its own session: %d %q, want 200 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		e.alive(t)
	})

	rawGroups := []struct {
		name  string
		cases []hostileRawCase
	}{
		{"raw headers", hostileInjectionCases()},
		{"smuggling", hostileSmugglingCases()},
	}
	for _, grp := range rawGroups {
		t.Run(grp.name, func(t *testing.T) {
			for _, c := range grp.cases {
				t.Run(c.name, func(t *testing.T) {
					e.runRawCase(t, c)
					e.alive(t)
				})
			}
		})
	}

	t.Run("slowloris", func(t *testing.T) { hostileSlowloris(t, e) })
	t.Run("stalled bodies", func(t *testing.T) { hostileSlowBodies(t, e) })

	t.Run("still healthy", func(t *testing.T) {
		e.alive(t)
		// Fresh sessions of both principals, with the official Go SDK.
		sdkEcho(t, e.g.URL, map[string]string{"X-API-Key": e.keyA.Key}, "hostile: A at the end")
		sdkEcho(t, e.g.URL, map[string]string{"Authorization": "Bearer " + e.tokB}, "hostile: B at the end")
		log := e.g.Log.String()
		for _, bad := range []string{"panic", "runtime error", "goroutine ", "superfluous"} {
			if strings.Contains(strings.ToLower(log), bad) {
				t.Errorf("the gateway log mentions %q:\n%s", bad, tail(log, 4000))
			}
		}
		for _, secret := range []string{e.keyA.Key, e.tokB, e.tokSameA} {
			if strings.Contains(log, secret) {
				t.Errorf("the gateway log contains a credential (%.12s…)", secret)
			}
		}
		for _, s := range e.rec.all() {
			if s.header.Get("X-Api-Key") != "" || s.header.Get("Authorization") != "" {
				t.Errorf("the backend received a client credential header: %s %s", s.method, s.uri)
				break
			}
		}
	})
}

// hostileSlowloris opens connections that send a request's start slowly,
// or stall before its end, and asserts the gateway closes each one after
// timeouts.readHeader while serving other clients meanwhile.
func hostileSlowloris(t *testing.T, e *hostileEnv) {
	trickle := strings.Repeat("a", 400) // 40s at 100ms a byte: never finishes on its own
	// net/http answers a request line cut short by the deadline with 400
	// (it parses the partial line), and closes silently when the cut falls
	// in the headers; either way the connection must be closed.
	shapes := []struct {
		name   string
		answer int // the status net/http sends before closing; 0 = none
		parts  func() []string
	}{
		{"request line trickled", http.StatusBadRequest, func() []string {
			p := []string{"P"}
			for _, c := range "OST /mcp HTTP/1.1\r\nHost: " + e.addr + "\r\nX-Slow: " + trickle {
				p = append(p, string(c))
			}
			return p
		}},
		{"header trickled after the credential", 0, func() []string {
			p := []string{e.rawHead("X-Slow: ")}
			for _, c := range trickle {
				p = append(p, string(c))
			}
			return p
		}},
		{"headers complete but the blank line", 0, func() []string {
			return []string{e.rawHead("Content-Length: 2\r\n")}
		}},
	}
	const perShape = 3
	type result struct {
		shape  string
		answer int
		res    hostileRawResult
	}
	results := make(chan result, len(shapes)*perShape)
	var wg sync.WaitGroup
	for _, s := range shapes {
		for range perShape {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results <- result{s.name, s.answer, hostileRawExchange(e.addr, s.parts(), 100*time.Millisecond, hostileSlowBound)}
			}()
		}
	}
	// Other clients are served while the slow ones hold their connections.
	time.Sleep(200 * time.Millisecond)
	for range 3 {
		e.alive(t)
	}
	wg.Wait()
	close(results)
	for r := range results {
		t.Logf("%s: %s", r.shape, r.res)
		switch {
		case r.res.err != nil:
			t.Errorf("%s: %v", r.shape, r.res.err)
		case !r.res.closed:
			t.Errorf("%s: the gateway kept the connection open for %v (readHeader is %v)", r.shape, hostileSlowBound, hostileReadHeader)
		case r.res.elapsed < hostileReadHeader/2:
			t.Errorf("%s: the gateway closed the connection after %v, before readHeader (%v)", r.shape, r.res.elapsed, hostileReadHeader)
		}
		switch {
		case r.answer == 0 && len(r.res.resps) > 0:
			t.Errorf("%s: answered %d, want the connection closed without an answer", r.shape, r.res.resps[0].status)
		case r.answer != 0 && (len(r.res.resps) != 1 || r.res.resps[0].status != r.answer):
			t.Errorf("%s: want one %d answer before the close; got %s", r.shape, r.answer, r.res)
		}
	}
	e.alive(t)
}

// hostileStallCase is a request whose body never arrives in full.
type hostileStallCase struct {
	name  string
	parts []string      // written with gap between them
	gap   time.Duration //
	// The one answer expected, its JSON-RPC code, and the least time
	// before it (the answer must not come before the timeout it is for).
	status int
	code   int64
	after  time.Duration
}

// hostileSlowBodies sends requests with complete headers and a body that
// stalls or trickles, all at once, while other clients are served; then
// checks each in its own subtest. They run concurrently because each may
// wait its whole bound (the test stays short even when they fail).
//
//   - Slow body: the gateway answers 408 (-32600) after timeouts.readBody,
//     which bounds the whole body (not each read), and closes the
//     connection.
//   - Early answer: a request refused before its body is read, declaring a
//     body that never comes. net/http, after the handler, reads an unread
//     body of up to 256KiB to reuse the connection, with no deadline of its
//     own; timeouts.readBody must bound that too: the answer must arrive
//     and the connection close within the bound.
func hostileSlowBodies(t *testing.T, e *hostileEnv) {
	body := echoBody("1", "slow body "+strings.Repeat("s", 100))
	head := func(framing string) string { return e.rawHead(framing + "\r\n") }
	trickled := []string{head("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")}
	for _, c := range body {
		trickled = append(trickled, string(c))
	}
	stalled := func(old, repl string) []string {
		return []string{strings.Replace(head("Content-Length: 1000\r\n"), old, repl, 1) + `{"jsonrpc":"2.0",`}
	}
	slow := func(name string, parts []string, gap time.Duration) hostileStallCase {
		return hostileStallCase{name: "slow body: " + name, parts: parts, gap: gap,
			status: http.StatusRequestTimeout, code: -32600, after: hostileReadBody / 2}
	}
	early := func(name string, parts []string, status int, code int64) hostileStallCase {
		return hostileStallCase{name: "early answer, body never sent: " + name, parts: parts, status: status, code: code}
	}
	cases := []hostileStallCase{
		slow("partial body then stall", []string{head("Content-Length: "+strconv.Itoa(len(body))+"\r\n") + body[:20]}, 0),
		// 150ms a byte: every read makes progress, yet the whole body takes
		// far longer than readBody.
		slow("body trickled byte by byte", trickled, 150*time.Millisecond),
		slow("partial chunk then stall", []string{head("Transfer-Encoding: chunked\r\n") + fmt.Sprintf("%x\r\n", len(body)) + body[:20]}, 0),
		early("wrong Content-Type", stalled("Content-Type: application/json", "Content-Type: text/plain"), http.StatusUnsupportedMediaType, -32600),
		early("Accept admitting neither JSON nor SSE", stalled("Accept: application/json, text/event-stream", "Accept: text/html"), http.StatusNotAcceptable, -32600),
		early("disallowed Origin", stalled("Accept:", "Origin: https://evil.example\r\nAccept:"), http.StatusForbidden, -32600),
		// The -32022 carries the request's id, so the body is read first: a
		// stalled one is bounded like any other (issue 12).
		slow("unknown protocol version", stalled("MCP-Protocol-Version: "+v0618, "MCP-Protocol-Version: 1999-01-01"), 0),
		early("method PUT", stalled("POST /mcp", "PUT /mcp"), http.StatusMethodNotAllowed, -32600),
	}
	before := len(e.g.requests())
	results := make([]hostileRawResult, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The answer comes after readBody at the latest; the close must
			// follow it at once: a few seconds beyond is a generous bound.
			results[i] = hostileRawExchange(e.addr, c.parts, c.gap, hostileReadBody+6*time.Second)
		}()
	}
	// Other clients are served while these connections stall.
	time.Sleep(200 * time.Millisecond)
	e.alive(t)
	wg.Wait()

	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := results[i]
			t.Logf("%s", res)
			if res.err != nil {
				t.Fatalf("raw exchange: %v", res.err)
			}
			if len(res.resps) != 1 || res.resps[0].status != c.status {
				t.Errorf("want one %d answer; got %s", c.status, res)
			} else {
				r := rawResponse{status: res.resps[0].status, header: res.resps[0].header, body: res.resps[0].body}
				if code, msg, ok := r.rpcError(); !ok || code != c.code {
					t.Errorf("JSON-RPC error %d %q (ok %v), want %d; body %s", code, msg, ok, c.code, r.body)
				}
			}
			if !res.closed {
				t.Errorf("the connection is still open %v after dialing, held for a body that never comes (readBody is %v)",
					res.elapsed.Round(time.Millisecond), hostileReadBody)
			}
			if res.elapsed < c.after {
				t.Errorf("answered after %v, before readBody (%v)", res.elapsed, hostileReadBody)
			}
			e.alive(t)
		})
	}
	// Each 408 is logged as invalid_request.
	t.Run("slow bodies logged", func(t *testing.T) {
		want := 0
		for _, c := range cases {
			if c.status == http.StatusRequestTimeout {
				want++
			}
		}
		var got []logEntry
		for _, l := range e.g.requests()[before:] {
			if l.status() == http.StatusRequestTimeout {
				got = append(got, l)
			}
		}
		if len(got) != want {
			t.Errorf("%d request lines with status 408, want %d", len(got), want)
		}
		for _, l := range got {
			if l.str("reason") != "invalid_request" {
				t.Errorf("408 logged with reason %q (detail %q), want invalid_request", l.str("reason"), l.str("detail"))
			}
		}
	})
}
