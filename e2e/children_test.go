package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Tests of the gateway's stdio children in both modes: what environment
// they get, that they stop with their grandchildren, how one principal's
// share of them is bounded, and where stateless traffic runs.

// TestChildEnvironment: a stdio child, in relay and in aggregating mode,
// does not see the gateway's secrets (a variable it was started with, the
// OTLP ingest headers), but does see what inheritEnv names and its own env
// — and a server started through npx still runs with that environment.
func TestChildEnvironment(t *testing.T) {
	t.Parallel()
	const (
		secret = "MCPGATE_E2E_SECRET"
		passed = "MCPGATE_E2E_PASSED"
	)
	env := []string{
		secret + "=gateway-only-value",
		passed + "=passed-on-value",
		"OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer ingest-token",
	}
	everything := func(name string) string {
		return fmt.Sprintf(`
  - name: %s
    command: [%q, %q, "stdio"]
    inheritEnv: [%s]
    env: {MCPGATE_E2E_OWN: own-value}
`, name, nodeBin, everythingJS, passed)
	}
	npx := fmt.Sprintf(`
  - name: npx
    command: [npx, -y, "@modelcontextprotocol/server-everything", "stdio"]
    dir: %q
`, nodeDir)
	cases := []struct {
		name     string
		backends string
		tool     string // the get-env tool's name through the gateway
		inherits bool   // the backend has inheritEnv and env
	}{
		{"relay", everything("everything"), "get-env", true},
		{"relay via npx", npx, "get-env", false},
		{"aggregate", everything("local") + npx, "local_get-env", true},
		{"aggregate via npx", everything("local") + npx, "npx_get-env", false},
	}
	for _, c := range cases {
		// One at a time: npx is slow to start on a busy machine, and the
		// aggregator bounds a backend's start at 10 s.
		t.Run(c.name, func(t *testing.T) {
			g := startGatewayConfig(t, env, gatewayConfig{backends: []backendSpec{{kind: "stdio", yaml: c.backends}}}.String())
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			defer cancel()
			// A session-era revision spares the stateless server/discover
			// probe, for which the aggregator would start every child once
			// more.
			cs := connect(ctx, t, newGoClient("e2e-env"), g.URL, "2025-11-25")
			defer cs.Close()
			var childEnv map[string]string
			out := callText(ctx, t, cs, &mcp.CallToolParams{Name: c.tool, Arguments: map[string]any{}})
			if err := json.Unmarshal([]byte(out), &childEnv); err != nil {
				t.Fatalf("%s: not a JSON environment: %v: %s", c.tool, err, tail(out, 500))
			}
			if _, ok := childEnv["PATH"]; !ok {
				t.Errorf("the child has no PATH: %v", childEnv)
			}
			for _, name := range []string{secret, "OTEL_EXPORTER_OTLP_HEADERS"} {
				if v, ok := childEnv[name]; ok {
					t.Errorf("the child inherited the gateway's %s=%q", name, v)
				}
			}
			if c.inherits {
				if got := childEnv[passed]; got != "passed-on-value" {
					t.Errorf("inheritEnv: the child's %s = %q, want the gateway's", passed, got)
				}
				if got := childEnv["MCPGATE_E2E_OWN"]; got != "own-value" {
					t.Errorf("env: the child's MCPGATE_E2E_OWN = %q", got)
				}
			} else if v, ok := childEnv[passed]; ok {
				t.Errorf("a backend without inheritEnv got %s=%q", passed, v)
			}
		})
	}
}

// TestAggregateDeleteKillsGrandchild: in aggregating mode, ending a client
// session stops its stdio children with everything they started (the
// relay's lifecycle), not only the direct child.
func TestAggregateDeleteKillsGrandchild(t *testing.T) {
	t.Parallel()
	pids := t.TempDir()
	// The wrapper leaves a helper running, as npx and shell wrappers do,
	// and becomes the server.
	wrapper := `sleep 600 & echo $! > "$0/grandchild.$$"; exec "$1" "$2" stdio`
	g := startGatewayConfig(t, nil, gatewayConfig{backends: []backendSpec{
		{kind: "stdio", yaml: fmt.Sprintf("\n  - name: wrapped\n    command: [sh, -c, %q, %q, %q, %q]\n", wrapper, pids, nodeBin, everythingJS)},
		namedStdioBackend("plain"),
	}}.String())
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	// A session-era revision: the SDK's default first probes with a
	// stateless server/discover, for which the aggregator starts (and
	// stops) children of its own.
	cs := connect(ctx, t, newGoClient("e2e-grandchild"), g.URL, "2025-11-25")
	if got := callText(ctx, t, cs, &mcp.CallToolParams{Name: "wrapped_echo", Arguments: map[string]any{"message": "up"}}); !strings.Contains(got, "up") {
		t.Fatalf("wrapped_echo = %q", got)
	}
	files, _ := filepath.Glob(filepath.Join(pids, "grandchild.*"))
	if len(files) != 1 {
		t.Fatalf("want one wrapper's grandchild pid file, got %q", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	grandchild, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = killIfRunning(grandchild) })
	if err := syscall.Kill(grandchild, 0); err != nil {
		t.Fatalf("the grandchild %d is not running before the DELETE: %v", grandchild, err)
	}
	if err := cs.Close(); err != nil { // DELETE
		t.Fatalf("closing the session: %v", err)
	}
	waitProcessGone(t, grandchild, "the wrapper's grandchild, after the session's DELETE")
}

// apiKeyPOST sends body to the gateway as the holder of key; sid may be
// empty. extra sets headers over MCP's usual ones (an empty value removes
// one).
func apiKeyPOST(t *testing.T, g *gateway, key apiKey, sid, body string, extra map[string]string) rawResponse {
	t.Helper()
	h := hostileMCPHeaders(http.Header{"X-Api-Key": {key.Key}}, sid)
	for k, v := range extra {
		if v == "" {
			h.Del(k)
		} else {
			h.Set(k, v)
		}
	}
	return hostileDo(t, http.MethodPost, g.URL, strings.NewReader(body), h)
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e-children","version":"1"}}}`

// TestStdioPerPrincipalSessions: with maxSessions 3 and a share of 2, one
// principal's sessions stop at its share (503 with Retry-After, logged as
// session_limit) and another principal still gets one.
func TestStdioPerPrincipalSessions(t *testing.T) {
	t.Parallel()
	a, b := newAPIKey(t, "alice"), newAPIKey(t, "bob")
	g := startGatewayConfig(t, nil, gatewayConfig{
		auth:     "\n  mode: apiKey\n  resource: https://gw.example.com/mcp\n  apiKeys:\n" + strings.TrimSuffix(apiKeyEntries([]apiKey{a, b}), "\n"),
		backends: []backendSpec{{kind: "stdio", yaml: stdioBackend().yaml + "    maxSessions: 3\n    maxSessionsPerPrincipal: 2\n"}},
	}.String())
	steps := []struct {
		who  string
		key  apiKey
		want int
	}{
		{"alice", a, http.StatusOK},
		{"alice", a, http.StatusOK},
		{"alice", a, http.StatusServiceUnavailable},
		{"bob", b, http.StatusOK},
	}
	for i, st := range steps {
		r := apiKeyPOST(t, g, st.key, "", initializeBody, map[string]string{"MCP-Protocol-Version": ""})
		if r.status != st.want {
			t.Fatalf("step %d: %s's initialize: status %d, want %d: %s", i, st.who, r.status, st.want, tail(r.body, 300))
		}
		if r.status == http.StatusServiceUnavailable && r.header.Get("Retry-After") == "" {
			t.Errorf("step %d: 503 without Retry-After", i)
		}
	}
	g.waitRequest(t, "alice's refused initialize", func(e logEntry) bool {
		return e.status() == http.StatusServiceUnavailable && e.str("reason") == "session_limit" &&
			strings.Contains(e.str("detail"), "per-principal")
	})
}

// TestStdioStatelessPerPrincipal: stateless (2026-07-28) calls of two
// principals to an isolation: session stdio backend run in two children —
// not one shared by both — and each principal keeps its own.
func TestStdioStatelessPerPrincipal(t *testing.T) {
	t.Parallel()
	a, b := newAPIKey(t, "alice"), newAPIKey(t, "bob")
	g := startGatewayConfig(t, nil, gatewayConfig{
		auth:     "\n  mode: apiKey\n  resource: https://gw.example.com/mcp\n  apiKeys:\n" + strings.TrimSuffix(apiKeyEntries([]apiKey{a, b}), "\n"),
		backends: []backendSpec{stdioBackend()},
	}.String())
	stateless := map[string]string{"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "echo"}
	call := func(key apiKey, msg string) {
		t.Helper()
		body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"` + msg +
			`"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`
		r := apiKeyPOST(t, g, key, "", body, stateless)
		if r.status != http.StatusOK || !strings.Contains(r.body, "Echo: "+msg) {
			t.Fatalf("stateless echo %q: status %d: %s", msg, r.status, tail(r.body, 300))
		}
		if sid := r.header.Get("Mcp-Session-Id"); sid != "" {
			t.Fatalf("a stateless call was given session %q", sid)
		}
	}
	call(a, "alice-1")
	call(b, "bob-1")
	call(a, "alice-2")
	// Every child writes a start-up line on stderr, logged with its pid.
	children := map[int]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for len(children) < 2 && time.Now().Before(deadline) {
		for _, l := range g.Log.Lines() {
			var e struct {
				Msg string `json:"msg"`
				PID int    `json:"pid"`
			}
			if json.Unmarshal([]byte(l), &e) == nil && e.Msg == "stdio server stderr" && e.PID != 0 {
				children[e.PID] = true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(children) != 2 {
		t.Fatalf("three stateless calls of two principals ran in %d children (%v), want one per principal; log:\n%s",
			len(children), children, tail(g.Log.String(), 3000))
	}
}

func killIfRunning(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }
