package aggregate

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// errorBackend is a Go SDK backend whose "refuse" tool answers with a
// JSON-RPC error carrying data (the -32021 a 2026-07-28 server gives for a
// capability the client did not declare), speaking versions, or 2026-07-28
// statelessly with versions nil.
func errorBackend(t *testing.T, name string, versions []string) Backend {
	t.Helper()
	server := mcp.NewServer(&mcp.Implementation{Name: name, Version: "1"}, &mcp.ServerOptions{SupportedProtocolVersions: versions})
	server.AddTool(&mcp.Tool{Name: "refuse", InputSchema: map[string]any{"type": "object"}},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return nil, &jsonrpc.Error{Code: -32021, Message: "Missing required client capability: sampling",
				Data: json.RawMessage(`{"requiredCapabilities":{"sampling":{}}}`)}
		})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, &mcp.StreamableHTTPOptions{Stateless: versions == nil})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return Backend{Name: name, URL: u}
}

// statelessMeta is the _meta of a 2026-07-28 request declaring no
// capabilities.
const statelessMeta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`

// rpcAnswer is one JSON-RPC response as a test reads it.
type rpcAnswer struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int64           `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	} `json:"error"`
}

// postStateless sends one 2026-07-28 tools/call with the standard headers
// plus extra, and returns the HTTP status and the response (JSON or the
// stream's last message).
func postStateless(t *testing.T, url, tool, args string, extra http.Header) (int, rpcAnswer) {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"` + tool + `","arguments":` + args + `,` + statelessMeta + `}}`
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", "tools/call")
	req.Header.Set("Mcp-Name", tool)
	for k, vs := range extra {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	data := string(raw)
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		// The response is the stream's last message.
		data = ""
		for line := range strings.SplitSeq(string(raw), "\n") {
			if d, ok := strings.CutPrefix(line, "data: "); ok && strings.Contains(d, `"id"`) {
				data = d
			}
		}
	}
	var ans rpcAnswer
	if err := json.Unmarshal([]byte(data), &ans); err != nil {
		t.Fatalf("HTTP %d, unreadable answer %q: %v", resp.StatusCode, raw, err)
	}
	return resp.StatusCode, ans
}

// TestAggregatorErrorPassThrough: a backend's JSON-RPC error reaches the
// client with its code, message and data as the backend sent them — not
// with the SDK client's "calling …" prefix and without data, as the SDK's
// server re-raised the wrapped error.
func TestAggregatorErrorPassThrough(t *testing.T) {
	const wantMsg = "Missing required client capability: sampling"
	const wantData = `{"requiredCapabilities":{"sampling":{}}}`
	cases := []struct {
		name     string
		versions []string // the backend's; nil: 2026-07-28 stateless
		client   string   // "sdk", "fast" (2025-11-25 sessions) or "stateless"
	}{
		{"session client, SDK path", sessionEra, "sdk"},
		{"session client declaring nothing", sessionEra, "fast"},
		{"stateless client, session backend", sessionEra, "stateless"},
		{"stateless client, stateless backend", nil, "stateless"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			agg := newAggregator(t, Options{Backends: []Backend{errorBackend(t, "b", tc.versions)}, Stateless: true})
			url := front(t, agg, nil)
			var code int64
			var msg, data string
			if tc.client == "stateless" {
				status, ans := postStateless(t, url, "b_refuse", `{}`, nil)
				if ans.Error == nil {
					t.Fatalf("HTTP %d, no error in the answer: %+v", status, ans)
				}
				if status != http.StatusBadRequest {
					t.Errorf("HTTP %d, want 400 (-32021 on 2026-07-28)", status)
				}
				code, msg, data = ans.Error.Code, ans.Error.Message, string(ans.Error.Data)
			} else {
				cs := clientSessionPath(t, url, tc.client == "fast", nil)
				_, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "b_refuse"})
				var werr *jsonrpc.Error
				if !errors.As(err, &werr) {
					t.Fatalf("CallTool error %v, want a JSON-RPC error", err)
				}
				code, msg, data = werr.Code, werr.Message, string(werr.Data)
			}
			if code != -32021 || msg != wantMsg || data != wantData {
				t.Errorf("error = {%d %q %s}, want {-32021 %q %s}", code, msg, data, wantMsg, wantData)
			}
		})
	}
}
