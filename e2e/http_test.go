package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// rawClient has a bound timeout; tests use fresh connections per request so
// a connection the gateway closes (413) never poisons the next request.
var rawClient = &http.Client{
	Timeout: 30 * time.Second,
	Transport: &http.Transport{
		DisableKeepAlives:      true,
		MaxResponseHeaderBytes: 1 << 20,
		// With "Expect: 100-continue" the body waits for the server's go
		// ahead, so an early 413 is read instead of racing a reset.
		ExpectContinueTimeout: 10 * time.Second,
	},
}

type rawResponse struct {
	status int
	header http.Header
	body   string
}

// rpcError extracts the JSON-RPC error from a JSON or SSE response body.
func (r rawResponse) rpcError() (code int64, message string, ok bool) {
	for _, doc := range r.jsonDocs() {
		var m struct {
			Error *struct {
				Code    int64  `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal([]byte(doc), &m) == nil && m.Error != nil {
			return m.Error.Code, m.Error.Message, true
		}
	}
	return 0, "", false
}

// jsonDocs returns the body as JSON documents: the body itself, or the
// data of each SSE event.
func (r rawResponse) jsonDocs() []string {
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/event-stream") {
		return []string{r.body}
	}
	var docs []string
	var data strings.Builder
	sc := bufio.NewScanner(strings.NewReader(r.body))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if d, ok := strings.CutPrefix(line, "data:"); ok {
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(strings.TrimPrefix(d, " "))
		} else if line == "" && data.Len() > 0 {
			docs = append(docs, data.String())
			data.Reset()
		}
	}
	if data.Len() > 0 {
		docs = append(docs, data.String())
	}
	return docs
}

// rawDo sends one request with MCP's usual POST headers plus headers.
func rawDo(t *testing.T, method, url string, body []byte, headers map[string]string) rawResponse {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	return rawDoReader(t, method, url, rd, headers)
}

func rawDoReader(t *testing.T, method, url string, body io.Reader, headers map[string]string) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// rawInitialize opens a session with plain HTTP at version and returns its
// id, after sending notifications/initialized.
func rawInitialize(t *testing.T, url, version string) string {
	t.Helper()
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":%q,"capabilities":{},"clientInfo":{"name":"e2e-raw","version":"1"}}}`, version)
	resp := rawDo(t, http.MethodPost, url, []byte(body), nil)
	sid := resp.header.Get("Mcp-Session-Id")
	if resp.status != http.StatusOK || sid == "" {
		t.Fatalf("initialize: status %d, session %q, body %s", resp.status, sid, tail(resp.body, 500))
	}
	hdr := map[string]string{"Mcp-Session-Id": sid, "MCP-Protocol-Version": version}
	resp = rawDo(t, http.MethodPost, url, []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`), hdr)
	if resp.status != http.StatusAccepted {
		t.Fatalf("notifications/initialized: status %d, body %s", resp.status, tail(resp.body, 500))
	}
	return sid
}

// mustEcho checks the gateway still serves a normal session end to end.
func mustEcho(t *testing.T, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	c := mcp.NewClient(&mcp.Implementation{Name: "e2e-after", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, MaxRetries: -1, DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatalf("a normal session after bad input: connect: %v", err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "still alive"}})
	if err != nil {
		t.Fatalf("a normal call after bad input: %v", err)
	}
	if got := textOf(res); got != "Echo: still alive" {
		t.Fatalf("a normal call after bad input returned %q", got)
	}
}

// TestBackendUnreachable: a gateway whose HTTP backend is down answers
// initialize with 502 and a JSON-RPC error naming the backend, logs why, and
// keeps serving /healthz.
func TestBackendUnreachable(t *testing.T) {
	t.Parallel()
	dead := fmt.Sprintf("http://127.0.0.1:%d/mcp", freeClosedPort(t))
	cases := []struct {
		name string
		args func(t *testing.T) []string
	}{
		{"config file", func(t *testing.T) []string {
			return nil // startGateway below
		}},
		{"--upstream flag", func(t *testing.T) []string {
			// --admin on a free port: the default 127.0.0.1:9464 may be
			// held by another process.
			return []string{"serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--upstream", dead}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var g *gateway
			if args := c.args(t); args == nil {
				g = startGateway(t, httpBackend(dead), gatewayOpts{})
			} else {
				g = startGatewayArgs(t, args...)
			}
			body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e-raw","version":"1"}}}`
			for i := range 2 {
				resp := rawDo(t, http.MethodPost, g.URL, []byte(body), nil)
				if resp.status != http.StatusBadGateway {
					t.Fatalf("attempt %d: initialize with the backend down: status %d, want 502; body %s", i, resp.status, resp.body)
				}
				code, msg, ok := resp.rpcError()
				if !ok {
					t.Fatalf("502 body is not a JSON-RPC error: %s", resp.body)
				}
				if !strings.Contains(msg, "everything") && !strings.Contains(msg, "default") && !strings.Contains(msg, dead) {
					t.Errorf("502 error message %q does not name the backend", msg)
				}
				t.Logf("502 JSON-RPC error: code %d, message %q", code, msg)
			}
			g.waitRequest(t, "502 upstream_unavailable", func(e logEntry) bool {
				return e.status() == http.StatusBadGateway && e.str("reason") == "upstream_unavailable"
			})
			resp := rawDo(t, http.MethodGet, g.Base+"/healthz", nil, nil)
			if resp.status != http.StatusOK {
				t.Errorf("/healthz with the backend down: status %d", resp.status)
			}
		})
	}
}
