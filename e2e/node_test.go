package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// tsResult is what e2e/node/ts-client.mjs prints.
type tsResult struct {
	Error                string            `json:"error"`
	SDKVersion           string            `json:"sdkVersion"`
	ProtocolVersion      string            `json:"protocolVersion"`
	SessionID            string            `json:"sessionId"`
	ServerName           string            `json:"serverName"`
	Tools                []string          `json:"tools"`
	Echo                 string            `json:"echo"`
	LongRunning          string            `json:"longRunning"`
	Progress             []json.RawMessage `json:"progress"`
	ProgressBeforeResult int               `json:"progressBeforeResult"`
	Sampling             string            `json:"sampling"`
	SampledText          string            `json:"sampledText"`
	SamplingCalls        int               `json:"samplingCalls"`
	Elicitation          string            `json:"elicitation"`
	ElicitedText         string            `json:"elicitedText"`
	ElicitationCalls     int               `json:"elicitationCalls"`
	ResourceURI          string            `json:"resourceUri"`
	ResourceRead         []struct {
		URI        string `json:"uri"`
		TextLength int    `json:"textLength"`
	} `json:"resourceRead"`
	PromptMessages int  `json:"promptMessages"`
	Terminated     bool `json:"terminated"`
}

// TestTypeScriptSDKClient runs the core flow from the TypeScript SDK client
// (e2e/node/ts-client.mjs) through the gateway, against both backends.
func TestTypeScriptSDKClient(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			spec := b.start(t)
			g := startGateway(t, spec, gatewayOpts{admin: spec.kind == "stdio"})
			r := runTSClient(t, g.URL, nil)
			t.Logf("TypeScript SDK %s negotiated protocol: backend=%s → %s", r.SDKVersion, b.name, r.ProtocolVersion)
			checkTSResult(t, r)

			g.waitRequest(t, "terminateSession's DELETE", func(e logEntry) bool {
				return e.str("http.method") == http.MethodDelete && e.status() >= 200 && e.status() < 300
			})
			if spec.kind == "stdio" {
				g.waitSessions(t, 0)
				waitProcessGone(t, g.childPID(t, r.SessionID), "the session's stdio child")
			}
		})
	}
}

// runTSClient runs e2e/node/ts-client.mjs against url, with headers on
// every request, and returns what it printed, failing the test when it
// failed.
func runTSClient(t *testing.T, url string, headers map[string]string) tsResult {
	t.Helper()
	var env []string
	if headers != nil {
		b, err := json.Marshal(headers)
		if err != nil {
			t.Fatal(err)
		}
		env = append(env, "E2E_HEADERS="+string(b))
	}
	stdout, err := runNode(t, 2*time.Minute, env, nodeBin, filepath.Join(nodeDir, "ts-client.mjs"), url)
	var r tsResult
	if jerr := json.Unmarshal([]byte(lastLine(stdout)), &r); jerr != nil {
		t.Fatalf("ts-client output is not JSON (%v); run error: %v", jerr, err)
	}
	if err != nil || r.Error != "" {
		t.Fatalf("ts-client failed: %s\n%v", r.Error, err)
	}
	return r
}

// checkTSResult checks every step of the TypeScript SDK client's flow
// against server-everything.
func checkTSResult(t *testing.T, r tsResult) {
	t.Helper()
	check := func(ok bool, format string, args ...any) {
		t.Helper()
		if !ok {
			t.Errorf(format, args...)
		}
	}
	check(r.ProtocolVersion == "2025-11-25", "negotiated protocol %q, want 2025-11-25", r.ProtocolVersion)
	check(r.SessionID != "", "no session id after initialize")
	check(r.ServerName == "mcp-servers/everything", "serverInfo.name = %q", r.ServerName)
	check(slices.Contains(r.Tools, "echo"), "tools/list lacks echo: %v", r.Tools)
	check(slices.Contains(r.Tools, "trigger-sampling-request"), "tools/list lacks trigger-sampling-request: %v", r.Tools)
	check(r.Echo == "Echo: hi from ts", "echo returned %q", r.Echo)
	check(strings.Contains(r.LongRunning, "Long running operation completed"), "long-running operation returned %q", r.LongRunning)
	check(r.ProgressBeforeResult >= 2, "%d progress callbacks before the result, want ≥ 2", r.ProgressBeforeResult)
	check(r.SamplingCalls == 1, "sampling handler called %d times, want 1", r.SamplingCalls)
	check(r.SampledText != "" && strings.Contains(r.Sampling, r.SampledText), "sampling result %q lacks %q", r.Sampling, r.SampledText)
	check(slices.Contains(r.Tools, "trigger-elicitation-request"), "tools/list lacks trigger-elicitation-request: %v", r.Tools)
	check(r.ElicitationCalls == 1, "elicitation handler called %d times, want 1", r.ElicitationCalls)
	check(r.ElicitedText != "" && strings.Contains(r.Elicitation, r.ElicitedText), "elicitation result %q lacks %q", r.Elicitation, r.ElicitedText)
	check(r.ResourceURI != "" && len(r.ResourceRead) > 0 && r.ResourceRead[0].URI == r.ResourceURI && r.ResourceRead[0].TextLength > 0,
		"resources/read %q returned %+v", r.ResourceURI, r.ResourceRead)
	check(r.PromptMessages > 0, "prompts/get simple-prompt returned no messages")
	check(r.Terminated, "terminateSession did not clear the session id")
}

// TestInspectorCLI runs the MCP Inspector CLI (2.12.0, on the installed
// Node) against the gateway in front of the stdio backend.
func TestInspectorCLI(t *testing.T) {
	t.Parallel()
	g := startGateway(t, stdioBackend(), gatewayOpts{})
	inspector := filepath.Join(nodeDir, "node_modules", ".bin", "mcp-inspector")
	// The CLI keeps a writable server catalog (default ~/.mcp-inspector);
	// point it into the test's temp dir.
	catalog := filepath.Join(t.TempDir(), "mcp.json")

	cases := []struct {
		name  string
		args  []string
		check func(t *testing.T, out map[string]any)
	}{
		{
			name: "tools/list",
			args: []string{"--method", "tools/list"},
			check: func(t *testing.T, out map[string]any) {
				tools, _ := out["tools"].([]any)
				var names []string
				for _, tl := range tools {
					if m, ok := tl.(map[string]any); ok {
						names = append(names, m["name"].(string))
					}
				}
				if !slices.Contains(names, "echo") {
					t.Errorf("tools/list output lacks echo: %v", names)
				}
			},
		},
		{
			name: "tools/call echo",
			args: []string{"--method", "tools/call", "--tool-name", "echo", "--tool-arg", "message=hi"},
			check: func(t *testing.T, out map[string]any) {
				b, _ := json.Marshal(out["content"])
				if !strings.Contains(string(b), `"text":"Echo: hi"`) {
					t.Errorf("tools/call echo output content = %s, want text \"Echo: hi\"", b)
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{nodeBin, inspector, "--cli", g.URL, "--transport", "http"}, c.args...)
			stdout, err := runNode(t, 90*time.Second, []string{"MCP_CATALOG_PATH=" + catalog}, args...)
			if err != nil {
				t.Fatal(err)
			}
			var out map[string]any
			if err := json.Unmarshal([]byte(jsonPart(stdout)), &out); err != nil {
				t.Fatalf("inspector output is not a JSON object (%v):\n%s", err, tail(stdout, 3000))
			}
			c.check(t, out)
		})
	}
	for _, e := range g.requests() {
		if e.str("mcp.method") == "initialize" {
			t.Logf("Inspector CLI negotiated protocol (gateway log): %s, client %s", e.str("mcp.protocol.version"), e.str("mcp.client.name"))
		}
	}
	_ = os.Remove(catalog)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// jsonPart returns the text from the first '{' on, for CLIs that may print a
// banner first.
func jsonPart(s string) string {
	if i := strings.IndexByte(s, '{'); i >= 0 {
		return s[i:]
	}
	return s
}
