package e2e

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// badCase is one hostile or malformed request against a running gateway.
type badCase struct {
	name    string
	method  string            // default POST
	body    []byte            // sent with Content-Length
	stream  func() io.Reader  // sent chunked (no Content-Length) instead of body
	headers map[string]string // added to the usual MCP headers
	// session adds the Mcp-Session-Id of a live session.
	session bool

	status int    // expected HTTP status
	code   int64  // expected JSON-RPC error code in the body; 0 = status only
	reason string // expected "reason" of the gateway's request log line; "" = status only
	// backendAnswers marks cases the gateway relays to an HTTP backend: the
	// expected status is then whatever the backend itself answers.
	backendAnswers bool
}

const v0618 = "2025-06-18"

func badCases() []badCase {
	oversized := func() []byte {
		msg := strings.Repeat("a", 4<<20)
		return []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"` + msg + `"}}}`)
	}
	return []badCase{
		{
			name: "malformed JSON", body: []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list"`),
			status: 400, code: -32700, reason: "parse_error",
		},
		{
			name: "duplicate members", body: []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"get-env","arguments":{}}}`),
			session: true, status: 400, code: -32700, reason: "parse_error",
		},
		{
			name: "duplicate method", body: []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call"}`),
			session: true, status: 400, code: -32700, reason: "parse_error",
		},
		{
			name: "case-variant members", body: []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list","Method":"tools/call"}`),
			session: true, status: 400, code: -32700, reason: "parse_error",
		},
		{
			name: "invalid UTF-8", body: []byte("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"ec\xffho\"}}"),
			session: true, status: 400, code: -32700, reason: "parse_error",
		},
		{
			name: "jsonrpc 1.0", body: []byte(`{"jsonrpc":"1.0","id":1,"method":"tools/list"}`),
			session: true, status: 400, code: -32600, reason: "invalid_request",
		},
		{
			name: "oversized body (Content-Length)", body: oversized(),
			// A client that sends 4 MiB without waiting may see the early
			// 413 lost to the reset of the closed connection (ordinary
			// HTTP/1.1 behaviour); well-behaved large uploads ask first.
			headers: map[string]string{"Expect": "100-continue"},
			session: true, status: 413, code: -32600, reason: "body_too_large",
		},
		{
			name: "oversized body (chunked)", stream: func() io.Reader { return bytes.NewReader(oversized()) },
			session: true, status: 413, code: -32600, reason: "body_too_large",
		},
		{
			name: "huge headers", body: []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`),
			headers: map[string]string{"X-Padding": strings.Repeat("p", 80<<10)},
			session: true, status: 431, code: -32600, reason: "headers_too_large",
		},
		{
			name: "unknown session id", body: []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`),
			headers: map[string]string{"Mcp-Session-Id": "0123456789abcdef0123456789abcdef"},
			status:  404, code: -32001, reason: "session_not_found", backendAnswers: true,
		},
		{
			name:    "2026-07-28 Mcp-Method disagrees with body",
			body:    []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"x"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`),
			headers: map[string]string{"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/list", "Mcp-Name": "echo"},
			status:  400, code: -32020, reason: "header_mismatch",
		},
		{
			name:    "2026-07-28 header version disagrees with _meta",
			body:    []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2025-11-25"}}}`),
			headers: map[string]string{"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/list"},
			status:  400, code: -32020, reason: "header_mismatch",
		},
		{
			name: "disallowed Origin", body: []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`),
			headers: map[string]string{"Origin": "https://evil.example"},
			session: true, status: 403, code: -32600, reason: "origin_rejected",
		},
		{
			name: "batch at 2025-06-18", body: []byte(`[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"prompts/list"}]`),
			session: true, status: 400, code: -32600, reason: "invalid_request",
		},
	}
}

// TestBadInput sends each bad request to a running gateway over both
// backends and checks the HTTP status, the JSON-RPC error code, the logged
// reason — and that a normal session works afterwards.
func TestBadInput(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			spec := b.start(t)
			g := startGateway(t, spec, gatewayOpts{})
			sid := rawInitialize(t, g.URL, v0618)
			// Cases run in order against one gateway: each one's log line is
			// the first new request line with its status.
			for _, c := range badCases() {
				t.Run(c.name, func(t *testing.T) {
					headers := map[string]string{"MCP-Protocol-Version": v0618}
					if c.session {
						headers["Mcp-Session-Id"] = sid
					}
					for k, v := range c.headers {
						headers[k] = v
					}
					method := c.method
					if method == "" {
						method = http.MethodPost
					}
					want := c.status
					checkBody := c.code != 0
					if c.backendAnswers && spec.kind == "http" {
						// The HTTP backend owns its sessions; the gateway
						// relays its answer unchanged.
						direct := rawDo(t, method, spec.url, c.body, headers)
						want, checkBody = direct.status, false
						t.Logf("backend answers %s directly with %d %s", c.name, direct.status, tail(direct.body, 200))
					}
					before := len(g.requests())
					var resp rawResponse
					if c.stream != nil {
						resp = rawDoReader(t, method, g.URL, io.NopCloser(c.stream()), headers)
					} else {
						resp = rawDo(t, method, g.URL, c.body, headers)
					}
					if resp.status != want {
						t.Errorf("status %d, want %d; body %s", resp.status, want, tail(resp.body, 300))
					}
					if checkBody {
						code, msg, ok := resp.rpcError()
						if !ok {
							t.Errorf("body is not a JSON-RPC error: %s", tail(resp.body, 300))
						} else if code != c.code {
							t.Errorf("JSON-RPC error code %d (%q), want %d", code, msg, c.code)
						}
					}
					e := g.waitRequestAfter(t, c.name, before, func(e logEntry) bool {
						return e.status() == resp.status
					})
					if e != nil && c.reason != "" && !(c.backendAnswers && spec.kind == "http") {
						if got := e.str("reason"); got != c.reason {
							t.Errorf("logged reason %q, want %q; line %v", got, c.reason, e)
						}
					}
				})
			}
			// The gateway is unharmed, and the session opened before the
			// bad input still works too.
			mustEcho(t, g.URL)
			resp := rawDo(t, http.MethodPost, g.URL, []byte(`{"jsonrpc":"2.0","id":99,"method":"tools/list"}`),
				map[string]string{"Mcp-Session-Id": sid, "MCP-Protocol-Version": v0618})
			if resp.status != http.StatusOK || !strings.Contains(resp.body, `"echo"`) {
				t.Errorf("tools/list on the pre-existing session after bad input: status %d, body %s", resp.status, tail(resp.body, 300))
			}
			if r := rawDo(t, http.MethodGet, g.Base+"/healthz", nil, nil); r.status != http.StatusOK {
				t.Errorf("/healthz after bad input: %d", r.status)
			}
		})
	}
}
