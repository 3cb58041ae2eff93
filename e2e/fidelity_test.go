package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgate/mcpgate/internal/mcpwire/mcpwiretest"
)

// consoleTraces turns tracing on without a collector: spans go to the
// gateway's stdout, and trace context is injected upstream as with OTLP.
const consoleTraces = "telemetry:\n  traces: {exporter: console}\n"

// startEraBackend serves a Go SDK server with the tool "greet" behind an
// mcpwiretest.EraClassifier, which detects protocol eras the way the
// conformance suite's reference server does (no session id + _meta = a
// stateless 2026-07-28 request). stateless: no sessions, session-era
// revisions only (a stateless legacy server).
func startEraBackend(t *testing.T, name string, stateless bool) (string, *mcpwiretest.EraClassifier) {
	t.Helper()
	var opts *mcp.ServerOptions
	if stateless {
		opts = &mcp.ServerOptions{SupportedProtocolVersions: []string{"2025-11-25", "2025-06-18"}}
	}
	server := mcp.NewServer(&mcp.Implementation{Name: name, Version: "1"}, opts)
	server.AddTool(&mcp.Tool{Name: "greet", InputSchema: map[string]any{"type": "object"}},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "greetings from " + name}}}, nil
		})
	ec := &mcpwiretest.EraClassifier{Next: mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Stateless: stateless})}
	srv := httptest.NewServer(ec)
	t.Cleanup(srv.Close)
	return srv.URL + "/mcp", ec
}

// TestTracedEraClassification (issue 12, item 1): with tracing on, a
// session starts and a call succeeds through the relay and through
// aggregating mode against backends that classify eras as the reference
// server does; initialize reaches them without _meta, the W3C header always
// carries the trace, and _meta.traceparent is added where the backend
// session pins the era. Before the fix, every initialize was refused
// 400 -32020 ("Missing MCP-Protocol-Version header").
func TestTracedEraClassification(t *testing.T) {
	t.Parallel()
	type backend struct {
		prefix string
		ec     *mcpwiretest.EraClassifier
	}
	tests := []struct {
		name  string
		setup func(t *testing.T) (backendSpec, []backend)
	}{
		{"relay", func(t *testing.T) (backendSpec, []backend) {
			url, ec := startEraBackend(t, "relayed", false)
			return httpBackend(url), []backend{{"", ec}}
		}},
		{"aggregate", func(t *testing.T) (backendSpec, []backend) {
			sURL, sEC := startEraBackend(t, "sessions", false)
			lURL, lEC := startEraBackend(t, "stateless", true)
			return backendSpec{kind: "aggregate", yaml: fmt.Sprintf(`
  - name: sess
    url: %q
  - name: sl
    url: %q
`, sURL, lURL)}, []backend{{"sess_", sEC}, {"sl_", lEC}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec, bs := tt.setup(t)
			g := startGateway(t, spec, gatewayOpts{extra: consoleTraces})
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			defer cancel()
			cs := connect(ctx, t, newGoClient("e2e-era"), g.URL, "")
			defer cs.Close()
			for _, b := range bs {
				if got := callText(ctx, t, cs, &mcp.CallToolParams{Name: b.prefix + "greet", Arguments: map[string]any{}}); got == "" {
					t.Errorf("%sgreet returned nothing", b.prefix)
				}
			}
			for _, b := range bs {
				if r := b.ec.Rejected(); len(r) > 0 {
					t.Errorf("backend %q refused %d request(s) as stateless ones: %+v", b.prefix, len(r), r)
				}
				var inits, calls int
				for _, s := range b.ec.Seen() {
					switch s.Method {
					case "initialize":
						inits++
						if s.HasMeta {
							t.Errorf("backend %q: initialize carried _meta (traceparent %q)", b.prefix, s.MetaTrace)
						}
					case "tools/call":
						calls++
						pinned := s.SessionID != ""
						switch {
						case s.HeaderTrace == "":
							t.Errorf("backend %q: tools/call without a traceparent header", b.prefix)
						case pinned && s.MetaTrace != s.HeaderTrace:
							t.Errorf("backend %q: in-session tools/call _meta.traceparent %q, want the header's %q", b.prefix, s.MetaTrace, s.HeaderTrace)
						case !pinned && s.HasMeta:
							t.Errorf("backend %q: sessionless tools/call got _meta", b.prefix)
						}
					}
				}
				if inits == 0 || calls != 1 {
					t.Errorf("backend %q saw %d initialize and %d tools/call", b.prefix, inits, calls)
				}
			}
		})
	}
}

// statelessErrorCase is one request on a 2026-07-28 error path.
type statelessErrorCase struct {
	name    string
	body    string
	headers map[string]string
	// session sends the Mcp-Session-Id of an unknown session.
	unknownSession bool

	status    int
	code      int64
	id        string // the JSON-RPC id the error must carry
	reason    string // the request log line's reason
	requested string // for -32022: data.requested
}

func statelessErrorCases() []statelessErrorCase {
	const pv = "MCP-Protocol-Version"
	modern := map[string]string{pv: "2026-07-28", "Mcp-Method": "tools/list"}
	return []statelessErrorCase{
		{
			name: "no _meta", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, headers: modern,
			status: 400, code: -32602, id: "1", reason: "invalid_request",
		},
		{
			name: "_meta without the protocol version", headers: modern,
			body:   `{"jsonrpc":"2.0","id":"two","method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{}}}}`,
			status: 400, code: -32602, id: `"two"`, reason: "invalid_request",
		},
		{
			name: "unknown version header", headers: map[string]string{pv: "2099-01-01", "Mcp-Method": "tools/list"},
			body:   `{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01"}}}`,
			status: 400, code: -32022, id: "3", reason: "unsupported_protocol_version", requested: "2099-01-01",
		},
		{
			name: "unknown version in _meta only", headers: map[string]string{},
			body:   `{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01"}}}`,
			status: 400, code: -32022, id: "4", reason: "unsupported_protocol_version", requested: "2099-01-01",
		},
		{
			name: "unknown session", headers: map[string]string{pv: "2025-11-25"}, unknownSession: true,
			body:   `{"jsonrpc":"2.0","id":5,"method":"tools/list"}`,
			status: 404, code: -32001, id: "5", reason: "session_not_found",
		},
	}
}

// TestStatelessErrorPaths (issue 12, item 3): the 2026-07-28 error codes,
// ids and data layouts, through a real gateway in relay mode (stdio and
// HTTP backends) and in aggregating mode.
func TestStatelessErrorPaths(t *testing.T) {
	t.Parallel()
	modes := []struct {
		name string
		spec func(t *testing.T) backendSpec
		// backendOwnsSessions: an HTTP backend answers for its own
		// sessions, and the relay passes its answer on unchanged.
		backendOwnsSessions bool
	}{
		{"relay-stdio", func(*testing.T) backendSpec { return stdioBackend() }, false},
		{"relay-http", func(t *testing.T) backendSpec { url, _ := startEraBackend(t, "http", false); return httpBackend(url) }, true},
		{"aggregate", func(t *testing.T) backendSpec {
			a, _ := startEraBackend(t, "a", false)
			b, _ := startEraBackend(t, "b", true)
			return backendSpec{kind: "aggregate", yaml: fmt.Sprintf("\n  - name: a\n    url: %q\n  - name: b\n    url: %q\n", a, b)}
		}, false},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			g := startGateway(t, mode.spec(t), gatewayOpts{})
			// SEP-2575: a -32022 offers only revisions the server/discover
			// of the server the client sees lists — relayed, the
			// backend's (learned from this very discover), aggregating,
			// the gateway's own. Without a discover result (a session-era
			// backend), every revision the gateway knows.
			supported := discoverThrough(t, g.URL)
			if supported == nil {
				supported = []string{"2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}
			}
			t.Logf("-32022 must offer %v", supported)
			for _, c := range statelessErrorCases() {
				if c.unknownSession && mode.backendOwnsSessions {
					// Not the gateway's error: the relay passes the backend's
					// own answer on unchanged (TestBadInput checks that).
					continue
				}
				t.Run(c.name, func(t *testing.T) {
					headers := map[string]string{}
					for k, v := range c.headers {
						headers[k] = v
					}
					if c.unknownSession {
						headers["Mcp-Session-Id"] = "0123456789abcdef0123456789abcdef"
					}
					before := len(g.requests())
					resp := rawDo(t, http.MethodPost, g.URL, []byte(c.body), headers)
					if resp.status != c.status {
						t.Fatalf("status %d, want %d; body %s", resp.status, c.status, tail(resp.body, 300))
					}
					var e struct {
						ID    json.RawMessage `json:"id"`
						Error struct {
							Code int64 `json:"code"`
							Data struct {
								Supported []string `json:"supported"`
								Requested string   `json:"requested"`
							} `json:"data"`
						} `json:"error"`
					}
					if err := json.Unmarshal([]byte(resp.body), &e); err != nil {
						t.Fatalf("not a JSON-RPC error: %v: %s", err, tail(resp.body, 300))
					}
					if e.Error.Code != c.code || string(e.ID) != c.id {
						t.Errorf("code %d id %s, want code %d id %s: %s", e.Error.Code, e.ID, c.code, c.id, tail(resp.body, 300))
					}
					if c.requested != "" && (e.Error.Data.Requested != c.requested || !slices.Equal(e.Error.Data.Supported, supported)) {
						t.Errorf("data %+v, want supported %v and requested %q", e.Error.Data, supported, c.requested)
					}
					l := g.waitRequestAfter(t, c.name, before, func(e logEntry) bool { return e.status() == resp.status })
					if l != nil && l.str("reason") != c.reason {
						t.Errorf("logged reason %q, want %q", l.str("reason"), c.reason)
					}
				})
			}
		})
	}
}

// discoverThrough sends a 2026-07-28 server/discover to url and returns the
// supportedVersions of its result, or nil when it is not answered with one.
func discoverThrough(t *testing.T, url string) []string {
	t.Helper()
	const body = `{"jsonrpc":"2.0","id":201,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",` +
		`"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"e2e-discover","version":"1"}}}}`
	resp := rawDo(t, http.MethodPost, url, []byte(body), map[string]string{"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "server/discover"})
	msg := resp.body
	if strings.HasPrefix(resp.header.Get("Content-Type"), "text/event-stream") {
		msg = ""
		for line := range strings.Lines(resp.body) {
			if data, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "data: "); ok && strings.Contains(data, `"id":201`) {
				msg = data
			}
		}
	}
	var r struct {
		Result *struct {
			SupportedVersions []string `json:"supportedVersions"`
		} `json:"result"`
	}
	if resp.status != http.StatusOK || json.Unmarshal([]byte(msg), &r) != nil || r.Result == nil {
		t.Logf("server/discover not answered with a result: %d %s", resp.status, tail(resp.body, 300))
		return nil
	}
	if len(r.Result.SupportedVersions) == 0 {
		t.Fatalf("server/discover result lists no supportedVersions: %s", tail(resp.body, 300))
	}
	return r.Result.SupportedVersions
}
