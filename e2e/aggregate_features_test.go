//lint:file-ignore SA1019 sampling, elicitation, roots and logging are deprecated as of 2026-07-28; aggregating mode must still carry them.

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// featureClient is a Go SDK client with every server→client feature wired
// up, recording the notifications it gets.
type featureClient struct {
	*goClient
	mu      sync.Mutex
	updated []string
	logs    []string // "logger: data"
}

func newFeatureClient(name string) *featureClient {
	// newGoClient's handlers plus the notification recorders (and an
	// elicitation answer every schema accepts).
	fc := &featureClient{goClient: &goClient{}}
	fc.goClient.Client = mcp.NewClient(&mcp.Implementation{Name: name, Version: "1.0.0"}, &mcp.ClientOptions{
		CreateMessageHandler: func(_ context.Context, _ *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			fc.sampling.Add(1)
			return &mcp.CreateMessageResult{Model: "e2e-model", Role: "assistant", Content: &mcp.TextContent{Text: sampledText}, StopReason: "endTurn"}, nil
		},
		ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			fc.elicitation.Add(1)
			return &mcp.ElicitResult{Action: "decline"}, nil
		},
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			fc.progressMu.Lock()
			fc.progress = append(fc.progress, req.Params)
			fc.progressMu.Unlock()
		},
		ResourceUpdatedHandler: func(_ context.Context, req *mcp.ResourceUpdatedNotificationRequest) {
			fc.mu.Lock()
			fc.updated = append(fc.updated, req.Params.URI)
			fc.mu.Unlock()
		},
		LoggingMessageHandler: func(_ context.Context, req *mcp.LoggingMessageRequest) {
			fc.mu.Lock()
			fc.logs = append(fc.logs, fmt.Sprintf("%s: %v", req.Params.Logger, req.Params.Data))
			fc.mu.Unlock()
		},
	})
	fc.AddRoots(&mcp.Root{URI: "file:///e2e/workspace-root", Name: "e2e-root"})
	return fc
}

func (fc *featureClient) sawUpdate(uri string) bool {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for _, u := range fc.updated {
		if u == uri {
			return true
		}
	}
	return false
}

func (fc *featureClient) sawLog(logger, substr string) bool {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for _, l := range fc.logs {
		if strings.HasPrefix(l, logger+": ") && strings.Contains(l, substr) {
			return true
		}
	}
	return false
}

// within polls cond for up to d and reports whether it held (auth_test.go's eventually fails the test instead).
func within(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// TestAggregateFeatures drives, through aggregating mode in front of
// server-everything over stdio (local) and Streamable HTTP (web), what a
// single backend offers besides its lists and calls: server→client
// requests (sampling, elicitation, roots), progress, completion, resource
// subscriptions with their updates, logging, and tools/call without
// arguments.
func TestAggregateFeatures(t *testing.T) {
	t.Parallel()
	web := startEverythingHTTP(t)
	backends := fmt.Sprintf(`
  - name: local
    command: [%q, %q, "stdio"]
  - name: web
    url: %q
`, nodeBin, everythingJS, web)
	g := startGateway(t, backendSpec{kind: "aggregate", yaml: backends}, gatewayOpts{})

	ctx, cancel := context.WithTimeout(context.Background(), 3*callTimeout)
	defer cancel()
	fc := newFeatureClient("e2e-aggregate-features")
	cs := connect(ctx, t, fc.goClient, g.URL, "")
	defer cs.Close()
	caps := cs.InitializeResult().Capabilities
	if caps.Completions == nil || caps.Resources == nil || !caps.Resources.Subscribe || caps.Logging == nil {
		t.Errorf("the gateway advertises %+v; want completions, resources.subscribe and logging", caps)
	}
	// The capability-dependent tools appear after notifications/initialized.
	want := []string{"local_trigger-sampling-request", "web_trigger-sampling-request", "local_get-roots-list", "web_get-roots-list"}
	waitTools(ctx, t, cs, want...)
	if err := cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "debug"}); err != nil {
		t.Fatalf("logging/setLevel: %v", err)
	}

	// The first backend to list a URI keeps it; the second's is wrapped.
	const template = "demo://resource/dynamic/text/{resourceId}"
	uriOf := map[string]func(string) string{
		"local": func(u string) string { return u },
		"web":   func(u string) string { return "mcpgate://web/" + u },
	}
	for _, b := range []string{"local", "web"} {
		t.Run(b, func(t *testing.T) {
			t.Run("sampling", func(t *testing.T) {
				before := fc.sampling.Load()
				got := callText(ctx, t, cs, &mcp.CallToolParams{Name: b + "_trigger-sampling-request", Arguments: map[string]any{"prompt": "say hi", "maxTokens": 20}})
				if !strings.Contains(got, sampledText) || fc.sampling.Load() == before {
					t.Errorf("result %q; the client's sampled text never came back", got)
				}
			})
			t.Run("elicitation", func(t *testing.T) {
				before := fc.elicitation.Load()
				res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: b + "_trigger-elicitation-request", Arguments: map[string]any{}})
				if err != nil {
					t.Fatal(err)
				}
				if fc.elicitation.Load() == before || !strings.Contains(strings.ToLower(textOf(res)), "decline") {
					t.Errorf("elicitation requests seen %d → %d; result %q, want the client's decline", before, fc.elicitation.Load(), tail(textOf(res), 300))
				}
			})
			t.Run("roots", func(t *testing.T) {
				// server-everything asks for the roots right after
				// initialization, outside any call.
				got := callText(ctx, t, cs, &mcp.CallToolParams{Name: b + "_get-roots-list", Arguments: map[string]any{}})
				if !strings.Contains(got, "file:///e2e/workspace-root") {
					t.Errorf("get-roots-list = %q; want the client's root", tail(got, 300))
				}
			})
			t.Run("progress", func(t *testing.T) {
				token := "features-" + b
				p := &mcp.CallToolParams{Name: b + "_trigger-long-running-operation", Arguments: map[string]any{"duration": 1, "steps": 2}}
				p.SetProgressToken(token)
				callText(ctx, t, cs, p)
				if n := fc.progressFor(token); n == 0 {
					t.Errorf("no progress notification with token %q", token)
				}
			})
			t.Run("completion", func(t *testing.T) {
				cases := []struct {
					name string
					ref  mcp.CompleteReference
					arg  mcp.CompleteParamsArgument
					want string
				}{
					{"prompt", mcp.CompleteReference{Type: "ref/prompt", Name: b + "_completable-prompt"}, mcp.CompleteParamsArgument{Name: "department", Value: "Eng"}, "Engineering"},
					{"resource template", mcp.CompleteReference{Type: "ref/resource", URI: uriOf[b](template)}, mcp.CompleteParamsArgument{Name: "resourceId", Value: "7"}, "7"},
				}
				for _, tc := range cases {
					t.Run(tc.name, func(t *testing.T) {
						ref := tc.ref
						res, err := cs.Complete(ctx, &mcp.CompleteParams{Ref: &ref, Argument: tc.arg})
						if err != nil {
							t.Fatal(err)
						}
						if len(res.Completion.Values) == 0 || res.Completion.Values[0] != tc.want {
							t.Errorf("values = %v, want %q first", res.Completion.Values, tc.want)
						}
					})
				}
			})
			t.Run("subscription", func(t *testing.T) {
				uri := uriOf[b]("demo://resource/dynamic/text/1")
				if err := cs.Subscribe(ctx, &mcp.SubscribeParams{URI: uri}); err != nil {
					t.Fatal(err)
				}
				// server-everything acknowledges a subscription with a log
				// message, named after the backend by the gateway.
				if !within(10*time.Second, func() bool { return fc.sawLog(b, "Received Subscribe Resource request") }) {
					fc.mu.Lock()
					t.Errorf("no log message from %s acknowledging the subscription; logs %v", b, fc.logs)
					fc.mu.Unlock()
				}
				// It sends an update at once when asked to simulate them.
				callText(ctx, t, cs, &mcp.CallToolParams{Name: b + "_toggle-subscriber-updates", Arguments: map[string]any{}})
				if !within(12*time.Second, func() bool { return fc.sawUpdate(uri) }) {
					fc.mu.Lock()
					t.Errorf("no notifications/resources/updated for %s; got %v", uri, fc.updated)
					fc.mu.Unlock()
				}
				callText(ctx, t, cs, &mcp.CallToolParams{Name: b + "_toggle-subscriber-updates", Arguments: map[string]any{}})
				if err := cs.Unsubscribe(ctx, &mcp.UnsubscribeParams{URI: uri}); err != nil {
					t.Errorf("unsubscribe: %v", err)
				}
			})
		})
	}

	t.Run("tools/call without arguments", func(t *testing.T) {
		// TypeScript servers reject "arguments": null; absent must stay
		// absent. A client declaring roots takes the SDK path, one
		// declaring nothing the fast path (HTTP backends).
		for _, decl := range []struct{ name, caps string }{{"sdk path", `{"roots":{}}`}, {"fast path", `{}`}} {
			t.Run(decl.name, func(t *testing.T) {
				status, sid, body := rawPost(t, g.URL, "", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":`+decl.caps+`,"clientInfo":{"name":"e2e-raw","version":"0.1"}}}`)
				if status != http.StatusOK || sid == "" {
					t.Fatalf("initialize: %d %q %s", status, sid, body)
				}
				rawPost(t, g.URL, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
				for _, tool := range []string{"local_get-env", "web_get-env"} {
					status, _, body := rawPost(t, g.URL, sid, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"`+tool+`"}}`)
					if status != http.StatusOK || !strings.Contains(body, `"result"`) || strings.Contains(body, `"isError":true`) {
						t.Errorf("%s without arguments: HTTP %d %s", tool, status, tail(body, 400))
					}
				}
			})
		}
	})
}

// tsAggregateResult is what e2e/node/ts-aggregate.mjs prints.
type tsAggregateResult struct {
	Error           string          `json:"error"`
	ProtocolVersion string          `json:"protocolVersion"`
	Capabilities    json.RawMessage `json:"capabilities"`
	Tools           []string        `json:"tools"`
	NoArguments     struct {
		IsError bool   `json:"isError"`
		Text    string `json:"text"`
	} `json:"noArguments"`
	Sampling         string   `json:"sampling"`
	SampledText      string   `json:"sampledText"`
	SamplingCalls    int      `json:"samplingCalls"`
	Elicitation      string   `json:"elicitation"`
	ElicitationCalls int      `json:"elicitationCalls"`
	Roots            string   `json:"roots"`
	Root             string   `json:"root"`
	Completion       []string `json:"completion"`
	SubscribedURI    string   `json:"subscribedUri"`
	Updated          []string `json:"updated"`
	Logs             []string `json:"logs"`
}

// TestAggregateTypeScriptClient runs the same features from the TypeScript
// SDK client (e2e/node/ts-aggregate.mjs), against each backend of one
// aggregating gateway.
func TestAggregateTypeScriptClient(t *testing.T) {
	t.Parallel()
	web := startEverythingHTTP(t)
	g := startGateway(t, backendSpec{kind: "aggregate", yaml: fmt.Sprintf(`
  - name: local
    command: [%q, %q, "stdio"]
  - name: web
    url: %q
`, nodeBin, everythingJS, web)}, gatewayOpts{})
	for _, b := range []string{"local", "web"} {
		t.Run(b, func(t *testing.T) {
			stdout, err := runNode(t, 2*time.Minute, nil, nodeBin, filepath.Join(nodeDir, "ts-aggregate.mjs"), g.URL, b)
			var r tsAggregateResult
			if jerr := json.Unmarshal([]byte(lastLine(stdout)), &r); jerr != nil {
				t.Fatalf("ts-aggregate output is not JSON (%v); run error: %v\n%s", jerr, err, tail(stdout, 2000))
			}
			if err != nil || r.Error != "" {
				t.Fatalf("ts-aggregate failed: %s\n%v", r.Error, err)
			}
			check := func(ok bool, format string, args ...any) {
				t.Helper()
				if !ok {
					t.Errorf(format, args...)
				}
			}
			check(strings.Contains(string(r.Capabilities), `"completions"`) && strings.Contains(string(r.Capabilities), `"subscribe":true`),
				"capabilities %s lack completions or resources.subscribe", r.Capabilities)
			check(!r.NoArguments.IsError, "%s_get-env without arguments: isError, %q", b, r.NoArguments.Text)
			check(r.SamplingCalls == 1 && strings.Contains(r.Sampling, r.SampledText), "sampling: %d calls, result %q", r.SamplingCalls, tail(r.Sampling, 200))
			check(r.ElicitationCalls == 1, "elicitation handler called %d times; result %q", r.ElicitationCalls, tail(r.Elicitation, 200))
			check(strings.Contains(r.Roots, r.Root), "get-roots-list = %q, want %s", tail(r.Roots, 200), r.Root)
			check(slices.Contains(r.Completion, "Sales"), "completion values %v, want Sales", r.Completion)
			check(r.SubscribedURI != "" && slices.Contains(r.Updated, r.SubscribedURI), "resources/updated for %q: got %v", r.SubscribedURI, r.Updated)
			acked := false
			for _, l := range r.Logs {
				acked = acked || strings.HasPrefix(l, b+": ") && strings.Contains(l, "Received Subscribe Resource request")
			}
			check(acked, "no log message from %s acknowledging the subscription: %v", b, r.Logs)
		})
	}
}

// TestAggregateStateless: with aggregate.stateless, the Go SDK's default
// client speaks 2026-07-28 with the gateway (server/discover, no session)
// and its calls reach server-everything (stdio and HTTP, both session-based
// behind it); merged lists carry caching hints, immediately stale since
// server-everything gives none.
func TestAggregateStateless(t *testing.T) {
	t.Parallel()
	web := startEverythingHTTP(t)
	g := startGateway(t, backendSpec{kind: "aggregate", yaml: fmt.Sprintf(`
  - name: local
    command: [%q, %q, "stdio"]
  - name: web
    url: %q
`, nodeBin, everythingJS, web)}, gatewayOpts{extra: "aggregate: {stateless: true}\n"})
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	cs := connect(ctx, t, newGoClient("e2e-aggregate-stateless"), g.URL, "")
	defer cs.Close()
	if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
		t.Fatalf("negotiated %s, want 2026-07-28", v)
	}
	if id := cs.ID(); id != "" {
		t.Errorf("a stateless exchange got session id %q", id)
	}
	for _, b := range []string{"local", "web"} {
		if got := callText(ctx, t, cs, &mcp.CallToolParams{Name: b + "_echo", Arguments: map[string]any{"message": "stateless-" + b}}); !strings.Contains(got, "stateless-"+b) {
			t.Errorf("%s_echo = %q", b, got)
		}
	}
	status, _, body := rawPost(t, g.URL, "", `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}}}`,
		"Mcp-Protocol-Version", "2026-07-28", "Mcp-Method", "tools/list")
	if status != http.StatusOK || !strings.Contains(body, `"ttlMs":0`) || !strings.Contains(body, `"cacheScope":"public"`) || !strings.Contains(body, `"local_echo"`) {
		t.Errorf("stateless tools/list: HTTP %d %s", status, tail(body, 400))
	}
}

// waitTools waits until the session's tools/list holds every name in want:
// an aggregated list grows as backends connect, and the capability-dependent
// tools appear after notifications/initialized.
func waitTools(ctx context.Context, t *testing.T, cs *mcp.ClientSession, want ...string) {
	t.Helper()
	if !within(10*time.Second, func() bool {
		have := map[string]bool{}
		for tool, err := range cs.Tools(ctx, nil) {
			if err != nil {
				return false
			}
			have[tool.Name] = true
		}
		for _, w := range want {
			if !have[w] {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("the merged tools/list never held all of %v", want)
	}
}
