//lint:file-ignore SA1019 sampling, elicitation, roots and logging are deprecated as of 2026-07-28; the gateway must still carry them.

package aggregate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// featureBackend is a Go SDK server over Streamable HTTP (event streams)
// offering what a single backend can besides tools: completion, resource
// subscriptions, logging, server→client requests, multi-round-trip
// results and caching hints. It records the raw tools/call bodies and the
// subscriptions and log levels it was given.
type featureBackend struct {
	name string
	srv  *httptest.Server
	mcp  *mcp.Server
	// release ends the "hold" tool's calls.
	release chan struct{}

	mu     sync.Mutex
	bodies []string
	subs   []string // "+uri" on subscribe, "-uri" on unsubscribe
	levels []mcp.LoggingLevel
	// progress are the tokens of the client's progress notifications on
	// the backend's own requests.
	progress []string
	// rootsChanged counts notifications/roots/list_changed.
	rootsChanged int
}

// newFeatureBackend starts a backend speaking versions, or 2026-07-28
// (stateless) with versions nil; its lists carry ttlMs ttl and cacheScope scope.
func newFeatureBackend(t *testing.T, name string, versions []string, ttl int, scope string) *featureBackend {
	t.Helper()
	b := &featureBackend{name: name, release: make(chan struct{})}
	served := versions
	if served == nil {
		// Only 2026-07-28: the SDK's default list would also take a
		// session-era initialize, statelessly.
		served = []string{"2026-07-28"}
	}
	server := mcp.NewServer(&mcp.Implementation{Name: name, Version: "1"}, &mcp.ServerOptions{
		SupportedProtocolVersions: served,
		CompletionHandler: func(_ context.Context, req *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
			r := req.Params.Ref
			v := fmt.Sprintf("%s:%s%s:%s=%s", name, r.Name, r.URI, req.Params.Argument.Name, req.Params.Argument.Value)
			return &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{Values: []string{v}, Total: 1}}, nil
		},
		SubscribeHandler: func(_ context.Context, req *mcp.SubscribeRequest) error {
			b.mu.Lock()
			b.subs = append(b.subs, "+"+req.Params.URI)
			b.mu.Unlock()
			return nil
		},
		UnsubscribeHandler: func(_ context.Context, req *mcp.UnsubscribeRequest) error {
			b.mu.Lock()
			b.subs = append(b.subs, "-"+req.Params.URI)
			b.mu.Unlock()
			return nil
		},
		RootsListChangedHandler: func(context.Context, *mcp.RootsListChangedRequest) {
			b.mu.Lock()
			b.rootsChanged++
			b.mu.Unlock()
		},
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationServerRequest) {
			b.mu.Lock()
			b.progress = append(b.progress, fmt.Sprint(req.Params.ProgressToken))
			b.mu.Unlock()
		},
		SetCacheable: func(_ context.Context, _ mcp.Request, c *mcp.Cacheable) {
			c.TTLMs, c.CacheScope = ttl, scope
		},
	})
	b.mcp = server
	server.AddPrompt(&mcp.Prompt{Name: "greet", Arguments: []*mcp.PromptArgument{{Name: "who"}}},
		func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "hi"}}}}, nil
		})
	server.AddResource(&mcp.Resource{URI: "x://" + name + "/res", Name: "res"},
		func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: name}}}, nil
		})
	server.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: "x://" + name + "/item/{id}", Name: "item"},
		func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: name}}}, nil
		})
	tool := func(n string, h mcp.ToolHandler) {
		server.AddTool(&mcp.Tool{Name: n, InputSchema: map[string]any{"type": "object"}}, h)
	}
	// touch: the resource changed, and a log line says so.
	tool("touch", func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if err := server.ResourceUpdated(ctx, &mcp.ResourceUpdatedNotificationParams{URI: "x://" + name + "/res"}); err != nil {
			return nil, err
		}
		if err := req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "info", Data: "touched " + name}); err != nil {
			return nil, err
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "touched"}}}, nil
	})
	// ask: sampling, elicitation and roots, answered by the client.
	tool("ask", func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		cm, err := req.Session.CreateMessage(ctx, &mcp.CreateMessageParams{MaxTokens: 5,
			Messages: []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: "q"}}}})
		if err != nil {
			return nil, fmt.Errorf("sampling: %w", err)
		}
		el, err := req.Session.Elicit(ctx, &mcp.ElicitParams{Message: "name?", RequestedSchema: map[string]any{
			"type": "object", "properties": map[string]any{"name": map[string]any{"type": "string"}}}})
		if err != nil {
			return nil, fmt.Errorf("elicitation: %w", err)
		}
		roots, err := req.Session.ListRoots(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("roots: %w", err)
		}
		var rs []string
		for _, r := range roots.Roots {
			rs = append(rs, r.URI)
		}
		tc, _ := cm.Content.(*mcp.TextContent)
		text := fmt.Sprintf("sampled=%s elicited=%v roots=%s", tc.Text, el.Content["name"], strings.Join(rs, ","))
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil
	})
	// confirm: a multi-round-trip tool (SEP-2322): asks for a name first.
	tool("confirm", func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if resp, ok := req.Params.InputResponses["who"].(*mcp.ElicitResult); ok {
			text := fmt.Sprintf("confirmed %v state=%s", resp.Content["name"], req.Params.RequestState)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil
		}
		return &mcp.CallToolResult{RequestState: "st-" + name, InputRequests: mcp.InputRequestMap{
			"who": &mcp.ElicitParams{Message: "who?", RequestedSchema: map[string]any{
				"type": "object", "properties": map[string]any{"name": map[string]any{"type": "string"}}}},
		}}, nil
	})
	// askprogress: a sampling request with a progress token of the
	// backend's; the client reports progress on it.
	tool("askprogress", func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		_, err := req.Session.CreateMessage(ctx, &mcp.CreateMessageParams{MaxTokens: 5, Meta: mcp.Meta{"progressToken": "bt-1"},
			Messages: []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: "progress"}}}})
		if err != nil {
			return nil, err
		}
		// The notification was sent before the answer; give it time.
		for range 50 {
			b.mu.Lock()
			n := len(b.progress)
			b.mu.Unlock()
			if n > 0 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ok"}}}, nil
	})
	// asktools: sampling with tools (2025-11-25).
	tool("asktools", func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		res, err := req.Session.CreateMessageWithTools(ctx, &mcp.CreateMessageWithToolsParams{MaxTokens: 5,
			Messages: []*mcp.SamplingMessageV2{{Role: "user", Content: []mcp.Content{&mcp.TextContent{Text: "q"}}}},
			Tools:    []*mcp.Tool{{Name: "lookup", InputSchema: map[string]any{"type": "object"}}}})
		if err != nil {
			return nil, err
		}
		var texts []string
		for _, c := range res.Content {
			if tc, ok := c.(*mcp.TextContent); ok {
				texts = append(texts, tc.Text)
			}
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: strings.Join(texts, "|")}}}, nil
	})
	// askcancel: a sampling request the backend gives up on.
	tool("askcancel", func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		sctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		_, err := req.Session.CreateMessage(sctx, &mcp.CreateMessageParams{MaxTokens: 5,
			Messages: []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: "wait"}}}})
		// The call's stream stays open for the cancellation to be relayed
		// on it.
		time.Sleep(300 * time.Millisecond)
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf("gave up: %v", err != nil)}}}, nil
	})
	// hold: waits until release is closed (or 10s), to keep a call in
	// flight.
	tool("hold", func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		select {
		case <-b.release:
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "held"}}}, nil
	})
	tool("args", func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ok"}}}, nil
	})
	// Without versions it speaks 2026-07-28, which the SDK serves only
	// statelessly.
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, &mcp.StreamableHTTPOptions{Stateless: versions == nil})
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			b.mu.Lock()
			if strings.Contains(string(body), `"tools/call"`) {
				b.bodies = append(b.bodies, string(body))
			}
			var m struct {
				Method string `json:"method"`
				Params struct {
					Level mcp.LoggingLevel `json:"level"`
				} `json:"params"`
			}
			if json.Unmarshal(body, &m) == nil && m.Method == "logging/setLevel" {
				b.levels = append(b.levels, m.Params.Level)
			}
			b.mu.Unlock()
			r.Body = io.NopCloser(strings.NewReader(string(body)))
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *featureBackend) backend(t *testing.T) Backend {
	u, err := url.Parse(b.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return Backend{Name: b.name, URL: u}
}

func (b *featureBackend) lastBody() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.bodies) == 0 {
		return ""
	}
	return b.bodies[len(b.bodies)-1]
}

func (b *featureBackend) toolCalls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.bodies)
}

func (b *featureBackend) subscriptions() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.subs...)
}

func (b *featureBackend) setLevels() []mcp.LoggingLevel {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]mcp.LoggingLevel(nil), b.levels...)
}

// featureClient is a client session declaring sampling, elicitation and
// roots, recording what the gateway sends it.
type featureClient struct {
	client  *mcp.Client
	cs      *mcp.ClientSession
	mu      sync.Mutex
	updated []string
	logs    []string
	asked   int
	// cancelled counts sampling requests whose context the gateway
	// cancelled.
	cancelled int
	// tokens are the progress tokens of the sampling requests it got.
	tokens []string
}

func newFeatureClient(t *testing.T, url, version string) *featureClient {
	t.Helper()
	fc := &featureClient{}
	c := mcp.NewClient(&mcp.Implementation{Name: "feature-test", Version: "1"}, &mcp.ClientOptions{
		CreateMessageHandler: func(ctx context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			if tc, _ := req.Params.Messages[0].Content.(*mcp.TextContent); tc != nil && tc.Text == "progress" {
				tok := req.Params.GetProgressToken()
				fc.mu.Lock()
				fc.tokens = append(fc.tokens, fmt.Sprint(tok))
				fc.mu.Unlock()
				if err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: 1, Total: 2}); err != nil {
					return nil, err
				}
			}
			if tc, _ := req.Params.Messages[0].Content.(*mcp.TextContent); tc != nil && tc.Text == "wait" {
				// Answer only when cancelled (or after 5s).
				select {
				case <-ctx.Done():
					fc.mu.Lock()
					fc.cancelled++
					fc.mu.Unlock()
					return nil, ctx.Err()
				case <-time.After(5 * time.Second):
				}
			}
			return &mcp.CreateMessageResult{Model: "m", Role: "assistant", Content: &mcp.TextContent{Text: "s-answer"}}, nil
		},
		ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			fc.mu.Lock()
			fc.asked++
			fc.mu.Unlock()
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"name": "ada"}}, nil
		},
		ResourceUpdatedHandler: func(_ context.Context, req *mcp.ResourceUpdatedNotificationRequest) {
			fc.mu.Lock()
			fc.updated = append(fc.updated, req.Params.URI)
			fc.mu.Unlock()
		},
		LoggingMessageHandler: func(_ context.Context, req *mcp.LoggingMessageRequest) {
			fc.mu.Lock()
			fc.logs = append(fc.logs, fmt.Sprintf("%s/%s/%v", req.Params.Logger, req.Params.Level, req.Params.Data))
			fc.mu.Unlock()
		},
	})
	c.AddRoots(&mcp.Root{URI: "file:///client-root"})
	fc.client = c
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: url, MaxRetries: -1},
		&mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	fc.cs = cs
	return fc
}

// waitFor polls cond for up to 5s.
func waitFor(cond func() bool) bool {
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

func rpcCode(err error) int64 {
	var werr *jsonrpc.Error
	if errors.As(err, &werr) {
		return werr.Code
	}
	return 0
}

// sessionEra is the session-based revision the feature tests speak on
// both hops, where sessions hold subscriptions, levels and server→client
// requests.
var sessionEra = []string{"2025-11-25"}

// TestAggregatorCompletion: completion/complete goes to the backend owning
// the prompt or resource the reference names, under the backend's own
// name; a reference nothing offers is -32602.
func TestAggregatorCompletion(t *testing.T) {
	a := newFeatureBackend(t, "a", sessionEra, 0, "")
	b := newFeatureBackend(t, "b", sessionEra, 0, "")
	agg := newAggregator(t, Options{Backends: []Backend{a.backend(t), b.backend(t)}})
	fc := newFeatureClient(t, front(t, agg, nil), "2025-11-25")
	if fc.cs.InitializeResult().Capabilities.Completions == nil {
		t.Error("the gateway does not advertise completions")
	}
	cases := []struct {
		name     string
		ref      mcp.CompleteReference
		want     string
		wantCode int64
	}{
		{"prompt of a", mcp.CompleteReference{Type: "ref/prompt", Name: "a_greet"}, "a:greet:who=ad", 0},
		{"prompt of b", mcp.CompleteReference{Type: "ref/prompt", Name: "b_greet"}, "b:greet:who=ad", 0},
		{"template of b", mcp.CompleteReference{Type: "ref/resource", URI: "x://b/item/{id}"}, "b:x://b/item/{id}:who=ad", 0},
		{"resource of a", mcp.CompleteReference{Type: "ref/resource", URI: "x://a/res"}, "a:x://a/res:who=ad", 0},
		{"unknown prompt", mcp.CompleteReference{Type: "ref/prompt", Name: "nobody"}, "", jsonrpc.CodeInvalidParams},
		{"unknown resource", mcp.CompleteReference{Type: "ref/resource", URI: "x://nowhere"}, "", jsonrpc.CodeInvalidParams},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ref := tc.ref
			res, err := fc.cs.Complete(context.Background(), &mcp.CompleteParams{Ref: &ref, Argument: mcp.CompleteParamsArgument{Name: "who", Value: "ad"}})
			if tc.wantCode != 0 {
				if rpcCode(err) != tc.wantCode {
					t.Fatalf("err = %v, want JSON-RPC code %d", err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Completion.Values) != 1 || res.Completion.Values[0] != tc.want {
				t.Errorf("values = %v, want [%s]", res.Completion.Values, tc.want)
			}
		})
	}
}

// TestAggregatorSubscriptions: resources/subscribe and unsubscribe go to
// the backend owning the URI (unwrapped when the gateway wrapped it);
// its resources/updated reaches the subscribed client under the client's
// URI, and stops after unsubscribe.
func TestAggregatorSubscriptions(t *testing.T) {
	a := newFeatureBackend(t, "a", sessionEra, 0, "")
	b := newFeatureBackend(t, "b", sessionEra, 0, "")
	agg := newAggregator(t, Options{Backends: []Backend{a.backend(t), b.backend(t)}})
	url := front(t, agg, nil)
	fc := newFeatureClient(t, url, "2025-11-25")
	other := newFeatureClient(t, url, "2025-11-25") // subscribes to nothing
	ctx := context.Background()
	if caps := fc.cs.InitializeResult().Capabilities; caps.Resources == nil || !caps.Resources.Subscribe {
		t.Error("the gateway does not advertise resources.subscribe")
	}

	cases := []struct {
		name     string
		uri      string
		backend  *featureBackend
		own      string
		wantCode int64
	}{
		{"listed resource", "x://a/res", a, "x://a/res", 0},
		{"under a template", "x://b/item/7", b, "x://b/item/7", 0},
		{"nothing offers it", "x://nowhere/1", nil, "", jsonrpc.CodeInvalidParams},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := fc.cs.Subscribe(ctx, &mcp.SubscribeParams{URI: tc.uri})
			if tc.wantCode != 0 {
				if rpcCode(err) != tc.wantCode {
					t.Fatalf("err = %v, want JSON-RPC code %d", err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.backend.subscriptions(); len(got) == 0 || got[len(got)-1] != "+"+tc.own {
				t.Errorf("backend %s saw subscriptions %v, want +%s last", tc.backend.name, got, tc.own)
			}
		})
	}

	// a's resource changes: the subscribed client hears it, the other not.
	if _, err := fc.cs.CallTool(ctx, &mcp.CallToolParams{Name: "a_touch"}); err != nil {
		t.Fatal(err)
	}
	if !waitFor(func() bool { fc.mu.Lock(); defer fc.mu.Unlock(); return len(fc.updated) > 0 }) {
		t.Fatal("no notifications/resources/updated reached the subscribed client")
	}
	fc.mu.Lock()
	if fc.updated[0] != "x://a/res" {
		t.Errorf("updated URI = %q, want x://a/res", fc.updated[0])
	}
	fc.mu.Unlock()
	other.mu.Lock()
	if len(other.updated) > 0 {
		t.Errorf("a client that subscribed to nothing got %v", other.updated)
	}
	other.mu.Unlock()

	if err := fc.cs.Unsubscribe(ctx, &mcp.UnsubscribeParams{URI: "x://a/res"}); err != nil {
		t.Fatal(err)
	}
	if got := a.subscriptions(); got[len(got)-1] != "-x://a/res" {
		t.Errorf("backend a saw %v, want -x://a/res last", got)
	}
}

// TestAggregatorLogging: logging/setLevel reaches every backend; their log
// messages reach the client, named after the backend.
func TestAggregatorLogging(t *testing.T) {
	a := newFeatureBackend(t, "a", sessionEra, 0, "")
	b := newFeatureBackend(t, "b", sessionEra, 0, "")
	agg := newAggregator(t, Options{Backends: []Backend{a.backend(t), b.backend(t)}})
	fc := newFeatureClient(t, front(t, agg, nil), "2025-11-25")
	ctx := context.Background()
	if err := fc.cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "info"}); err != nil {
		t.Fatal(err)
	}
	for _, be := range []*featureBackend{a, b} {
		if got := be.setLevels(); len(got) != 1 || got[0] != "info" {
			t.Errorf("backend %s got logging/setLevel %v, want [info]", be.name, got)
		}
	}
	for _, tool := range []string{"a_touch", "b_touch"} {
		if _, err := fc.cs.CallTool(ctx, &mcp.CallToolParams{Name: tool}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]bool{"a/info/touched a": true, "b/info/touched b": true}
	if !waitFor(func() bool {
		fc.mu.Lock()
		defer fc.mu.Unlock()
		n := 0
		for _, l := range fc.logs {
			if want[l] {
				n++
			}
		}
		return n == len(want)
	}) {
		fc.mu.Lock()
		t.Errorf("log messages = %v, want %v", fc.logs, want)
		fc.mu.Unlock()
	}
}

// TestAggregatorServerRequests: a backend's sampling, elicitation and roots
// requests reach the client that owns the backend session, and its answers
// come back: on the stream of the call they belong to when it is the only
// one in flight to that backend, else on the client's standalone stream.
func TestAggregatorServerRequests(t *testing.T) {
	cases := []struct {
		name string
		hold bool // another call to the backend is in flight
	}{
		{"one call in flight", false},
		{"two calls in flight", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newFeatureBackend(t, "a", sessionEra, 0, "")
			agg := newAggregator(t, Options{Backends: []Backend{a.backend(t)}})
			fc := newFeatureClient(t, front(t, agg, nil), "2025-11-25")
			ctx := context.Background()
			held := make(chan error, 1)
			if tc.hold {
				go func() {
					_, err := fc.cs.CallTool(ctx, &mcp.CallToolParams{Name: "a_hold"})
					held <- err
				}()
				if !waitFor(func() bool { return a.toolCalls() >= 1 }) {
					t.Fatal("the holding call did not reach the backend")
				}
			}
			cctx, cancel := context.WithTimeout(ctx, 8*time.Second)
			defer cancel()
			res, err := fc.cs.CallTool(cctx, &mcp.CallToolParams{Name: "a_ask"})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := text(res), "sampled=s-answer elicited=ada roots=file:///client-root"; got != want {
				t.Errorf("a_ask = %q, want %q", got, want)
			}
			if tc.hold {
				close(a.release)
				if err := <-held; err != nil {
					t.Errorf("the holding call: %v", err)
				}
			}
		})
	}
}

// TestAggregatorSamplingWithTools: a backend's sampling request with tools
// reaches a client that samples with tools whole, tools included, and its
// answer (several content blocks) comes back.
func TestAggregatorSamplingWithTools(t *testing.T) {
	a := newFeatureBackend(t, "a", sessionEra, 0, "")
	agg := newAggregator(t, Options{Backends: []Backend{a.backend(t)}})
	c := mcp.NewClient(&mcp.Implementation{Name: "tools-sampler", Version: "1"}, &mcp.ClientOptions{
		CreateMessageWithToolsHandler: func(_ context.Context, req *mcp.CreateMessageWithToolsRequest) (*mcp.CreateMessageWithToolsResult, error) {
			var names []string
			for _, tl := range req.Params.Tools {
				names = append(names, tl.Name)
			}
			return &mcp.CreateMessageWithToolsResult{Model: "m", Role: "assistant", Content: []mcp.Content{
				&mcp.TextContent{Text: "tools=" + strings.Join(names, ",")}, &mcp.TextContent{Text: "second"}}}, nil
		},
	})
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: front(t, agg, nil), MaxRetries: -1},
		&mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "a_asktools"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := text(res), "tools=lookup|second"; got != want {
		t.Errorf("a_asktools = %q, want %q", got, want)
	}
}

// TestAggregatorRootsListChanged: the gateway declares roots.listChanged
// to a backend as the client did, and relays the client's
// notifications/roots/list_changed; the backend then sees the new roots.
func TestAggregatorRootsListChanged(t *testing.T) {
	a := newFeatureBackend(t, "a", sessionEra, 0, "")
	agg := newAggregator(t, Options{Backends: []Backend{a.backend(t)}})
	fc := newFeatureClient(t, front(t, agg, nil), "2025-11-25")
	fc.client.AddRoots(&mcp.Root{URI: "file:///second-root"})
	if !waitFor(func() bool { a.mu.Lock(); defer a.mu.Unlock(); return a.rootsChanged > 0 }) {
		t.Fatal("the backend never got notifications/roots/list_changed")
	}
	res, err := fc.cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "a_ask"})
	if err != nil {
		t.Fatal(err)
	}
	if got := text(res); !strings.HasSuffix(got, "roots=file:///client-root,file:///second-root") {
		t.Errorf("a_ask = %q, want both roots", got)
	}
}

// TestAggregatorServerRequestCancelled: a backend that gives up on its
// sampling request (notifications/cancelled) has the client's handling of
// it cancelled too.
func TestAggregatorServerRequestCancelled(t *testing.T) {
	a := newFeatureBackend(t, "a", sessionEra, 0, "")
	agg := newAggregator(t, Options{Backends: []Backend{a.backend(t)}})
	fc := newFeatureClient(t, front(t, agg, nil), "2025-11-25")
	res, err := fc.cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "a_askcancel"})
	if err != nil {
		t.Fatal(err)
	}
	if got := text(res); got != "gave up: true" {
		t.Errorf("a_askcancel = %q", got)
	}
	if !waitFor(func() bool { fc.mu.Lock(); defer fc.mu.Unlock(); return fc.cancelled == 1 }) {
		t.Error("the client's sampling handler was not cancelled when the backend cancelled its request")
	}
}

// TestAggregatorServerRequestProgress: progress the client reports on a
// backend's sampling request reaches that backend under its own token; the
// client sees a token of the gateway's, which no other backend can share.
func TestAggregatorServerRequestProgress(t *testing.T) {
	a := newFeatureBackend(t, "a", sessionEra, 0, "")
	agg := newAggregator(t, Options{Backends: []Backend{a.backend(t)}})
	fc := newFeatureClient(t, front(t, agg, nil), "2025-11-25")
	if _, err := fc.cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "a_askprogress"}); err != nil {
		t.Fatal(err)
	}
	fc.mu.Lock()
	tokens := fc.tokens
	fc.mu.Unlock()
	if len(tokens) != 1 || !strings.HasPrefix(tokens[0], "mcpgate-p-") {
		t.Errorf("the client saw progress tokens %v, want one of the gateway's", tokens)
	}
	a.mu.Lock()
	got := a.progress
	a.mu.Unlock()
	if len(got) != 1 || got[0] != "bt-1" {
		t.Errorf("the backend got progress under tokens %v, want [bt-1]", got)
	}
}

// TestAggregatorToolArguments: a tools/call's arguments reach the backend
// as the client sent them; absent stays absent (never null), on both
// paths.
func TestAggregatorToolArguments(t *testing.T) {
	cases := []struct {
		name    string
		body    string // the params the client sends
		want    string // must be in the backend's body
		notWant string
	}{
		{"absent", `{"name":"a_args"}`, `"name":"args"`, `"arguments"`},
		{"empty object", `{"name":"a_args","arguments":{}}`, `"arguments":{}`, ""},
		// Members, order and values as sent; the SDK path re-encodes, which
		// drops insignificant whitespace.
		{"values kept as sent", `{"name":"a_args","arguments":{"b":1,"a":[true,null,"x"]}}`, `"arguments":{"b":1,"a":[true,null,"x"]}`, ""},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			a := newFeatureBackend(t, "a", sessionEra, 0, "")
			agg := newAggregator(t, Options{Backends: []Backend{a.backend(t)}})
			url := front(t, agg, nil)
			sid := rawInit(t, url, p.fast)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					rawCall(t, url, sid, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":`+tc.body+`}`)
					got := a.lastBody()
					if !strings.Contains(got, tc.want) || tc.notWant != "" && strings.Contains(got, tc.notWant) {
						t.Errorf("backend got %s; want it to hold %s and not %q", got, tc.want, tc.notWant)
					}
					if fast := strings.Contains(got, `"id":"mcpgate-`); fast != p.fast {
						t.Errorf("fast path used = %v, want %v", fast, p.fast)
					}
				})
			}
		})
	}
}

// rawInit opens a 2025-11-25 session by hand, declaring roots (the SDK
// path) or nothing (the fast path), and returns its id.
func rawInit(t *testing.T, url string, fast bool) string {
	t.Helper()
	caps := `{"roots":{}}`
	if fast {
		caps = `{}`
	}
	resp := rawPostMCP(t, url, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":`+caps+`,"clientInfo":{"name":"raw","version":"1"}}}`)
	sid := resp.Header.Get("Mcp-Session-Id")
	if sid == "" {
		t.Fatal("no session id")
	}
	rawPostMCP(t, url, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return sid
}

func rawCall(t *testing.T, url, sid, body string) string {
	t.Helper()
	resp := rawPostMCP(t, url, sid, body)
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), `"result"`) {
		t.Fatalf("call %s answered %s", body, b)
	}
	return string(b)
}

func rawPostMCP(t *testing.T, url, sid, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	if sid != "" {
		req.Header.Set("Mcp-Session-Id", sid)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: HTTP %d %s", body, resp.StatusCode, b)
	}
	return resp
}

// TestAggregatorMultiRoundTrip: a backend's input_required result reaches
// a 2026-07-28 client as it is; the client's retry with inputResponses
// and requestState reaches the backend. For a 2025-11-25 client, which
// cannot take such a result, the gateway fulfils it by asking the client.
func TestAggregatorMultiRoundTrip(t *testing.T) {
	cases := []struct {
		name    string
		version string
	}{
		{"2026-07-28 client", "2026-07-28"},
		{"2025-11-25 client", "2025-11-25"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newFeatureBackend(t, "a", nil, 0, "") // speaks 2026-07-28
			agg := newAggregator(t, Options{Backends: []Backend{a.backend(t)}, Stateless: true})
			fc := newFeatureClient(t, front(t, agg, nil), tc.version)
			if got := fc.cs.InitializeResult().ProtocolVersion; got != tc.version {
				t.Fatalf("negotiated %s with the gateway, want %s", got, tc.version)
			}
			res, err := fc.cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "a_confirm"})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := text(res), "confirmed ada state=st-a"; got != want {
				t.Errorf("a_confirm = %q, want %q", got, want)
			}
			fc.mu.Lock()
			asked := fc.asked
			fc.mu.Unlock()
			if asked != 1 {
				t.Errorf("the client was asked %d times, want 1", asked)
			}
			if tc.version == "2026-07-28" {
				// The client's SDK fulfilled the input request itself: the
				// retry carried its answer and the backend's state.
				if body := a.lastBody(); !strings.Contains(body, `"inputResponses"`) || !strings.Contains(body, `"requestState":"st-a"`) {
					t.Errorf("the backend's last tools/call lacks the client's retry fields: %s", body)
				}
			}
		})
	}
}

// TestAggregatorCacheHints: on 2026-07-28, a merged list carries the
// smallest ttlMs of the backends and is private when any part is.
func TestAggregatorCacheHints(t *testing.T) {
	cases := []struct {
		name      string
		ttlA      int
		scopeA    string
		ttlB      int
		scopeB    string
		wantTTL   int
		wantScope string
	}{
		{"both public", 60000, "public", 30000, "public", 30000, "public"},
		{"one private", 60000, "private", 90000, "public", 60000, "private"},
		{"one immediately stale", 0, "public", 90000, "public", 0, "public"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newFeatureBackend(t, "a", nil, tc.ttlA, tc.scopeA)
			b := newFeatureBackend(t, "b", nil, tc.ttlB, tc.scopeB)
			agg := newAggregator(t, Options{Backends: []Backend{a.backend(t), b.backend(t)}, Stateless: true})
			url := front(t, agg, nil)
			for _, method := range []string{"tools/list", "prompts/list", "resources/list", "resources/templates/list"} {
				got := statelessList(t, url, method)
				// The gateway listed the backends a moment ago: the TTL
				// left may be a little below theirs, never above.
				if got.TTLMs > tc.wantTTL || got.TTLMs < tc.wantTTL-5000 || got.CacheScope != tc.wantScope {
					t.Errorf("%s: ttlMs=%d cacheScope=%q, want ttlMs≈%d cacheScope=%q", method, got.TTLMs, got.CacheScope, tc.wantTTL, tc.wantScope)
				}
			}
		})
	}
}

// statelessList sends one 2026-07-28 list request and returns its hints.
func statelessList(t *testing.T, url, method string) mcp.Cacheable {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"` + method + `","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}}}`
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", method)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	data := string(raw)
	if i := strings.Index(data, "data: "); i >= 0 {
		data = strings.TrimSpace(data[i+len("data: "):])
		if j := strings.Index(data, "\n"); j >= 0 {
			data = data[:j]
		}
	}
	var msg struct {
		Result *mcp.Cacheable `json:"result"`
	}
	if err := json.Unmarshal([]byte(data), &msg); err != nil || msg.Result == nil {
		t.Fatalf("%s: HTTP %d, answer %s", method, resp.StatusCode, raw)
	}
	return *msg.Result
}

// TestAggregatorStatelessCancel: with Options.Stateless, a 2026-07-28
// client that closes a call's stream (the revision's cancellation: there is
// no session) has the backend's handler cancelled; the backend's progress
// reaches it meanwhile.
func TestAggregatorStatelessCancel(t *testing.T) {
	b := newTestBackendSSE(t, "b", []string{"echo"}, nil, true)
	agg := newAggregator(t, Options{Backends: []Backend{b.backend(t)}, Stateless: true})
	url := front(t, agg, nil)
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"b_slow","arguments":{},"_meta":{"progressToken":"tok-s","io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}}}`
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", "tools/call")
	req.Header.Set("Mcp-Name", "b_slow")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		t.Fatalf("HTTP %d %s", resp.StatusCode, raw)
	}
	// Two progress events, then close the stream.
	buf := make([]byte, 4096)
	var seen strings.Builder
	for strings.Count(seen.String(), `"notifications/progress"`) < 2 {
		n, err := resp.Body.Read(buf)
		seen.Write(buf[:n])
		if err != nil {
			t.Fatalf("stream ended before two progress notifications: %v\n%s", err, seen.String())
		}
	}
	cancel()
	select {
	case <-b.cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("closing the call's stream did not cancel the backend's handler")
	}
}
