//lint:file-ignore SA1019 sampling and roots are deprecated as of 2026-07-28, but they are what 2025-11-25 servers such as server-everything use, and the gateway must relay them.

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// sampledText is what the Go client's sampling handler answers.
const sampledText = "sampled-by-go-e2e-client-7f3a"

// goClient is a Go SDK client with every server→client feature wired up,
// plus counters the tests assert on.
type goClient struct {
	*mcp.Client
	sampling    atomic.Int32
	elicitation atomic.Int32
	progressMu  sync.Mutex
	progress    []*mcp.ProgressNotificationParams
}

func newGoClient(name string) *goClient {
	c := &goClient{}
	c.Client = mcp.NewClient(&mcp.Implementation{Name: name, Version: "1.0.0"}, &mcp.ClientOptions{
		CreateMessageHandler: func(_ context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			c.sampling.Add(1)
			return &mcp.CreateMessageResult{
				Model:      "e2e-model",
				Role:       "assistant",
				Content:    &mcp.TextContent{Text: sampledText},
				StopReason: "endTurn",
			}, nil
		},
		ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			c.elicitation.Add(1)
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"name": "E2E Elicited Name"}}, nil
		},
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			c.progressMu.Lock()
			c.progress = append(c.progress, req.Params)
			c.progressMu.Unlock()
		},
	})
	c.AddRoots(&mcp.Root{URI: "file:///e2e/workspace-root", Name: "e2e-root"})
	return c
}

func (c *goClient) progressFor(token any) int {
	c.progressMu.Lock()
	defer c.progressMu.Unlock()
	n := 0
	for _, p := range c.progress {
		if fmt.Sprint(p.ProgressToken) == fmt.Sprint(token) {
			n++
		}
	}
	return n
}

func connect(ctx context.Context, t *testing.T, c *goClient, url, version string) *mcp.ClientSession {
	t.Helper()
	var opts *mcp.ClientSessionOptions
	if version != "" {
		opts = &mcp.ClientSessionOptions{ProtocolVersion: version}
	}
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, MaxRetries: -1}, opts)
	if err != nil {
		t.Fatalf("Connect(%s, version %q): %v", url, version, err)
	}
	return cs
}

// textOf joins a tool result's text content.
func textOf(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func callText(ctx context.Context, t *testing.T, cs *mcp.ClientSession, params *mcp.CallToolParams) string {
	t.Helper()
	res, err := cs.CallTool(ctx, params)
	if err != nil {
		t.Fatalf("tools/call %s: %v", params.Name, err)
	}
	if res.IsError {
		t.Fatalf("tools/call %s: isError, content %q", params.Name, textOf(res))
	}
	return textOf(res)
}

// negotiated collects the protocol revision every Go SDK run negotiated,
// for the version matrix (printed at the end of TestGoSDKClient).
var negotiated sync.Map // "backend/requested" → negotiated

// TestGoSDKClient drives server-everything through the gateway with the
// official Go SDK client, over both backends and two requested protocol
// revisions (the SDK default, 2026-07-28 with server/discover and fallback to
// initialize, and 2025-06-18).
func TestGoSDKClient(t *testing.T) {
	t.Parallel()
	versions := []struct{ name, request, want string }{
		// The SDK tries server/discover at 2026-07-28; server-everything
		// does not speak it, so the client falls back to initialize at
		// 2025-11-25, the newest revision both sides share.
		{"default", "", "2025-11-25"},
		{"2025-06-18", "2025-06-18", "2025-06-18"},
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			spec := b.start(t)
			for _, v := range versions {
				t.Run(v.name, func(t *testing.T) {
					g := startGateway(t, spec, gatewayOpts{admin: spec.kind == "stdio"})
					got := goSDKFlow(t, g, spec, v.request)
					negotiated.Store(b.name+"/"+v.name, got)
					t.Logf("negotiated protocol: backend=%s requested=%q → %s", b.name, v.request, got)
					if got != v.want {
						t.Errorf("negotiated protocol version %q, want %q", got, v.want)
					}
				})
			}
		})
	}
	t.Cleanup(func() {
		var rows []string
		negotiated.Range(func(k, v any) bool { rows = append(rows, fmt.Sprintf("%s=%s", k, v)); return true })
		slices.Sort(rows)
		t.Logf("Go SDK v1.8.0 negotiated revisions: %s", strings.Join(rows, ", "))
	})
}

// goSDKFlow is the core flow; it returns the negotiated protocol version.
func goSDKFlow(t *testing.T, g *gateway, spec backendSpec, version string) string {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	c := newGoClient("mcpgate-e2e-go")
	cs := connect(ctx, t, c, g.URL, version)
	closed := false
	defer func() {
		if !closed {
			cs.Close()
		}
	}()
	init := cs.InitializeResult()
	if init == nil || init.ServerInfo == nil || init.ServerInfo.Name != "mcp-servers/everything" {
		t.Fatalf("InitializeResult = %+v, want serverInfo.name mcp-servers/everything", init)
	}
	sid := cs.ID()
	if sid == "" {
		t.Fatalf("no Mcp-Session-Id after initialize at %s", init.ProtocolVersion)
	}
	if version == "" {
		// The SDK's 2026-07-28 probe reached the server and its refusal
		// came back, which is what made the client fall back.
		e := g.waitRequest(t, "the SDK's server/discover probe", func(e logEntry) bool { return e.str("mcp.method") == "server/discover" })
		t.Logf("server/discover through the gateway: status %s, rpc.error.code %s, then initialize", e.str("status"), e.str("rpc.error.code"))
	}
	var childPID int
	if spec.kind == "stdio" {
		childPID = g.childPID(t, sid)
	}

	goSDKCalls(ctx, t, c, cs, version)

	// Close sends DELETE; the gateway logs it with a 2xx status.
	if err := cs.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	closed = true
	g.waitRequest(t, "the session's DELETE", func(e logEntry) bool {
		return e.str("http.method") == http.MethodDelete && e.status() >= 200 && e.status() < 300
	})
	if spec.kind == "stdio" {
		// The session's child is stopped: no sessions left, process gone.
		g.waitSessions(t, 0)
		waitProcessGone(t, childPID, "the session's stdio child")
	}
	return init.ProtocolVersion
}

// goSDKCalls is the part of the flow between initialize and DELETE: tools
// (echo, streaming progress, sampling, elicitation, roots), resources and
// prompts on the open session cs of c.
func goSDKCalls(ctx context.Context, t *testing.T, c *goClient, cs *mcp.ClientSession, version string) {
	t.Helper()
	sid := cs.ID()
	// tools/list. The sampling, elicitation and roots tools are registered
	// after notifications/initialized; the list can lag by a moment.
	var tools map[string]bool
	for attempt := 0; attempt < 50; attempt++ {
		res, err := cs.ListTools(ctx, nil)
		if err != nil {
			t.Fatalf("tools/list: %v", err)
		}
		tools = map[string]bool{}
		for _, tl := range res.Tools {
			tools[tl.Name] = true
		}
		if tools["trigger-sampling-request"] && tools["get-roots-list"] {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, want := range []string{"echo", "trigger-long-running-operation", "trigger-sampling-request", "get-roots-list"} {
		if !tools[want] {
			t.Fatalf("tools/list lacks %q: %v", want, tools)
		}
	}

	// tools/call echo.
	msg := "hello through mcpgate " + version
	if got := callText(ctx, t, cs, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": msg}}); got != "Echo: "+msg {
		t.Errorf("echo returned %q, want %q", got, "Echo: "+msg)
	}

	// Progress notifications arrive before the result.
	token := "progress-" + sid
	params := &mcp.CallToolParams{Name: "trigger-long-running-operation", Arguments: map[string]any{"duration": 1, "steps": 3}}
	params.SetProgressToken(token)
	got := callText(ctx, t, cs, params)
	if !strings.Contains(got, "Long running operation completed") {
		t.Errorf("long-running operation returned %q", got)
	}
	if n := c.progressFor(token); n < 2 {
		t.Errorf("saw %d progress notifications for token %q before the result, want ≥ 2", n, token)
	}

	// Sampling: a server→client request relayed on the tool call's stream.
	got = callText(ctx, t, cs, &mcp.CallToolParams{Name: "trigger-sampling-request", Arguments: map[string]any{"prompt": "say hi", "maxTokens": 20}})
	if c.sampling.Load() != 1 {
		t.Errorf("sampling handler called %d times, want 1", c.sampling.Load())
	}
	if !strings.Contains(got, sampledText) {
		t.Errorf("trigger-sampling-request result %q lacks the sampled text %q", got, sampledText)
	}

	// Elicitation, if the server offers it.
	if tools["trigger-elicitation-request"] {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "trigger-elicitation-request", Arguments: map[string]any{}})
		if err != nil {
			t.Errorf("trigger-elicitation-request: %v", err)
		} else if text := textOf(res); c.elicitation.Load() == 1 {
			if !strings.Contains(text, "E2E Elicited Name") {
				t.Errorf("trigger-elicitation-request result %q lacks the elicited name", text)
			}
		} else {
			// The Go SDK client validates the requested schema before
			// calling the handler; report what happened rather than
			// blaming the gateway for a client-side refusal.
			t.Logf("elicitation handler not called (calls=%d); tool result isError=%v: %s", c.elicitation.Load(), res.IsError, tail(text, 300))
		}
	} else {
		t.Logf("server did not list trigger-elicitation-request; elicitation not exercised")
	}

	// Roots: the server asks the client with roots/list.
	got = callText(ctx, t, cs, &mcp.CallToolParams{Name: "get-roots-list", Arguments: map[string]any{}})
	if !strings.Contains(got, "file:///e2e/workspace-root") || !strings.Contains(got, "e2e-root") {
		t.Errorf("get-roots-list result lacks the client's root: %q", got)
	}

	// Resources.
	rl, err := cs.ListResources(ctx, nil)
	if err != nil {
		t.Fatalf("resources/list: %v", err)
	}
	if len(rl.Resources) == 0 {
		t.Fatal("resources/list returned no resources")
	}
	uri := rl.Resources[0].URI
	rr, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri})
	if err != nil {
		t.Fatalf("resources/read %s: %v", uri, err)
	}
	if len(rr.Contents) == 0 || rr.Contents[0].URI != uri || (rr.Contents[0].Text == "" && len(rr.Contents[0].Blob) == 0) {
		b, _ := json.Marshal(rr)
		t.Errorf("resources/read %s returned %s", uri, tail(string(b), 400))
	}

	// Prompts.
	pl, err := cs.ListPrompts(ctx, nil)
	if err != nil {
		t.Fatalf("prompts/list: %v", err)
	}
	if !slices.ContainsFunc(pl.Prompts, func(p *mcp.Prompt) bool { return p.Name == "simple-prompt" }) {
		t.Fatalf("prompts/list lacks simple-prompt")
	}
	pg, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "simple-prompt"})
	if err != nil {
		t.Fatalf("prompts/get simple-prompt: %v", err)
	}
	if len(pg.Messages) == 0 {
		t.Errorf("prompts/get simple-prompt returned no messages")
	}
}
