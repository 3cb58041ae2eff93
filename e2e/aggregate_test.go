package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// goBackend is a small MCP server written with the official Go SDK, served
// over Streamable HTTP on a fixed 127.0.0.1 port so that it can be stopped
// and started again at the same address.
type goBackend struct {
	t    *testing.T
	addr string
	mu   sync.Mutex
	srv  *http.Server
}

const goBackendGreeting = "hello from the go backend"

func startGoBackend(t *testing.T) *goBackend {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &goBackend{t: t, addr: l.Addr().String()}
	b.serve(l)
	t.Cleanup(b.stop)
	return b
}

func (b *goBackend) URL() string { return "http://" + b.addr + "/mcp" }

func (b *goBackend) serve(l net.Listener) {
	server := mcp.NewServer(&mcp.Implementation{Name: "go-backend", Version: "1.0.0"}, nil)
	type args struct {
		Name string `json:"name"`
	}
	mcp.AddTool(server, &mcp.Tool{Name: "greet", Description: "Greets."}, func(_ context.Context, _ *mcp.CallToolRequest, in args) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: goBackendGreeting + ", " + in.Name}}}, nil, nil
	})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	mux := http.NewServeMux()
	mux.Handle("/mcp", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	b.mu.Lock()
	b.srv = srv
	b.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
}

// stop kills the backend: its listener and every connection close.
func (b *goBackend) stop() {
	b.mu.Lock()
	srv := b.srv
	b.srv = nil
	b.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// restart serves a fresh server (no sessions) at the same address.
func (b *goBackend) restart() {
	b.t.Helper()
	var l net.Listener
	var err error
	for range 50 {
		if l, err = net.Listen("tcp", b.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		b.t.Fatalf("re-listening on %s: %v", b.addr, err)
	}
	b.serve(l)
}

// TestAggregate puts three backends behind one endpoint — server-everything
// over stdio and over Streamable HTTP, and a Go SDK server — and checks the
// merged list, a call to each (one making a server→client sampling
// request), one SERVER and one CLIENT span per call in Jaeger, and the
// behaviour while the Go backend is down and after it returns.
func TestAggregate(t *testing.T) {
	t.Parallel()
	j := startJaeger(t)
	web := startEverythingHTTP(t)
	gob := startGoBackend(t)
	service := "mcpgate-e2e-aggregate"
	backends := fmt.Sprintf(`
  - name: local
    command: [%q, %q, "stdio"]
  - name: web
    url: %q
    exclude: ["trigger-*"]
  - name: gob
    url: %q
`, nodeBin, everythingJS, web, gob.URL())
	g := startGateway(t, backendSpec{kind: "aggregate", yaml: backends}, gatewayOpts{admin: true, extra: fmt.Sprintf(
		"telemetry:\n  serviceName: %s\n  traces: {exporter: otlp, endpoint: %q, batchTimeout: 50ms}\n",
		service, j.OTLPHTTPEndpoint())})

	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	c := newGoClient("e2e-aggregate")
	cs := connect(ctx, t, c, g.URL, "")
	defer cs.Close()

	var names []string
	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			t.Fatalf("tools/list: %v", err)
		}
		names = append(names, tool.Name)
	}
	for _, want := range []string{"local_echo", "local_trigger-sampling-request", "web_echo", "web_get-sum", "gob_greet"} {
		if !slices.Contains(names, want) {
			t.Errorf("merged tools/list lacks %q: %v", want, names)
		}
	}
	for _, n := range names {
		if strings.HasPrefix(n, "web_trigger-") {
			t.Errorf("tools/list has %q, which web's exclude filter removes", n)
		}
	}

	if got := callText(ctx, t, cs, &mcp.CallToolParams{Name: "local_echo", Arguments: map[string]any{"message": "via-stdio"}}); !strings.Contains(got, "via-stdio") {
		t.Errorf("local_echo = %q", got)
	}
	if got := callText(ctx, t, cs, &mcp.CallToolParams{Name: "web_get-sum", Arguments: map[string]any{"a": 2, "b": 3}}); !strings.Contains(got, "5") {
		t.Errorf("web_get-sum = %q", got)
	}
	if got := callText(ctx, t, cs, &mcp.CallToolParams{Name: "gob_greet", Arguments: map[string]any{"name": "ada"}}); !strings.Contains(got, goBackendGreeting+", ada") {
		t.Errorf("gob_greet = %q", got)
	}
	got := callText(ctx, t, cs, &mcp.CallToolParams{Name: "local_trigger-sampling-request", Arguments: map[string]any{"prompt": "say hi", "maxTokens": 20}})
	if !strings.Contains(got, sampledText) || c.sampling.Load() == 0 {
		t.Errorf("local_trigger-sampling-request = %q (sampling requests seen: %d); want the client's sampled text", got, c.sampling.Load())
	}
	// Progress: the backend's notifications reach the client under its token.
	token := "agg-progress-1"
	params := &mcp.CallToolParams{Name: "local_trigger-long-running-operation", Arguments: map[string]any{"duration": 1, "steps": 2}}
	params.SetProgressToken(token)
	callText(ctx, t, cs, params)
	if n := c.progressFor(token); n == 0 {
		t.Errorf("no progress notification with token %q reached the client", token)
	}

	// A client declaring no capabilities gets the fast path for tools/call
	// to HTTP backends (docs/aggregation.md): same results, same spans.
	fast := mcp.NewClient(&mcp.Implementation{Name: "e2e-aggregate-fast", Version: "1"}, &mcp.ClientOptions{Capabilities: &mcp.ClientCapabilities{}})
	fcs, err := fast.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: g.URL, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatalf("fast client: %v", err)
	}
	defer fcs.Close()
	if got := callText(ctx, t, fcs, &mcp.CallToolParams{Name: "web_echo", Arguments: map[string]any{"message": "fast-path"}}); !strings.Contains(got, "fast-path") {
		t.Errorf("web_echo (fast path) = %q", got)
	}

	// One trace per call: the SERVER span under the client-visible name, a
	// CLIENT span under the backend's own name, child of it, to the right
	// backend.
	calls := []struct{ server, client, backend, transport string }{
		{"tools/call local_echo", "tools/call echo", "local", "pipe"},
		{"tools/call web_get-sum", "tools/call get-sum", "web", "tcp"},
		{"tools/call gob_greet", "tools/call greet", "gob", "tcp"},
		{"tools/call local_trigger-sampling-request", "tools/call trigger-sampling-request", "local", "pipe"},
		{"tools/call web_echo", "tools/call echo", "web", "tcp"},
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, want := range calls {
		var server, client *Span
		for server == nil || client == nil {
			server, client = findCallSpans(j.Traces(service, 8), want.server, want.client)
			if server != nil && client != nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if server == nil || client == nil {
			t.Errorf("no trace holds both a SERVER span %q and a CLIENT span %q", want.server, want.client)
			continue
		}
		if client.ParentSpanID != server.SpanID {
			t.Errorf("%s: CLIENT span's parent %s, want the SERVER span %s", want.client, client.ParentSpanID, server.SpanID)
		}
		if b := client.Attributes["mcpgate.backend"]; b != want.backend {
			t.Errorf("%s: CLIENT mcpgate.backend = %q, want %q", want.client, b, want.backend)
		}
		if b := server.Attributes["mcpgate.backend"]; b != want.backend {
			t.Errorf("%s: SERVER mcpgate.backend = %q, want %q", want.server, b, want.backend)
		}
		if tr := client.Attributes["network.transport"]; tr != want.transport {
			t.Errorf("%s: network.transport = %q, want %q", want.client, tr, want.transport)
		}
		if want.transport == "tcp" && client.Attributes["server.address"] != "127.0.0.1" {
			t.Errorf("%s: server.address = %q", want.client, client.Attributes["server.address"])
		}
		if name := client.Attributes["gen_ai.tool.name"]; name != strings.TrimPrefix(want.client, "tools/call ") {
			t.Errorf("%s: gen_ai.tool.name = %q", want.client, name)
		}
	}

	// The Go backend dies: the others keep answering, calls to it get an
	// error naming it, /readyz shows why.
	gob.stop()
	_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "gob_greet", Arguments: map[string]any{"name": "bob"}})
	if err == nil || !strings.Contains(err.Error(), `backend "gob"`) {
		t.Errorf("gob_greet with gob down: err = %v, want a JSON-RPC error naming backend \"gob\"", err)
	}
	if got := callText(ctx, t, cs, &mcp.CallToolParams{Name: "web_echo", Arguments: map[string]any{"message": "still-up"}}); !strings.Contains(got, "still-up") {
		t.Errorf("web_echo with gob down = %q", got)
	}
	if got := callText(ctx, t, cs, &mcp.CallToolParams{Name: "local_echo", Arguments: map[string]any{"message": "still-up"}}); !strings.Contains(got, "still-up") {
		t.Errorf("local_echo with gob down = %q", got)
	}
	if st := aggregateStatus(t, g, "gob"); st.LastError == "" {
		t.Errorf("/readyz shows no lastError for gob while it is down: %+v", st)
	}

	// It comes back at the same address: the gateway reconnects on the next
	// call naming it, once the back-off has passed.
	gob.restart()
	var last error
	ok := false
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "gob_greet", Arguments: map[string]any{"name": "again"}})
		if err == nil && strings.Contains(textOf(res), goBackendGreeting+", again") {
			ok = true
			break
		}
		last = err
	}
	if !ok {
		t.Errorf("gob_greet after the Go backend returned: never succeeded (last error %v)", last)
	}
	if st := aggregateStatus(t, g, "gob"); st.Sessions < 1 {
		t.Errorf("/readyz: gob sessions = %d after reconnecting, want ≥ 1", st.Sessions)
	}
}

// findCallSpans returns the SERVER span named server and the CLIENT span
// named client of the first trace holding both.
func findCallSpans(traces []Trace, server, client string) (*Span, *Span) {
	for _, tr := range traces {
		var s, c *Span
		for i := range tr.Spans {
			sp := &tr.Spans[i]
			switch {
			case sp.Name == server && sp.Kind == "server":
				s = sp
			case sp.Name == client && sp.Kind == "client":
				c = sp
			}
		}
		if s != nil && c != nil {
			return s, c
		}
	}
	return nil, nil
}

type aggregateBackendStatus struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	Sessions  int    `json:"sessions"`
	LastError string `json:"lastError"`
}

// aggregateStatus returns backend's entry in the admin /readyz detail.
func aggregateStatus(t *testing.T, g *gateway, backend string) aggregateBackendStatus {
	t.Helper()
	resp, err := http.Get(g.Admin + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	defer resp.Body.Close()
	var d struct {
		Mode     string                   `json:"mode"`
		Backends []aggregateBackendStatus `json:"backends"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	if d.Mode != "aggregate" {
		t.Errorf("/readyz mode = %q, want aggregate", d.Mode)
	}
	for _, b := range d.Backends {
		if b.Name == backend {
			return b
		}
	}
	t.Fatalf("/readyz has no backend %q: %+v", backend, d.Backends)
	return aggregateBackendStatus{}
}

// TestAggregateInspectorCLI: the MCP Inspector CLI (TypeScript SDK) lists
// the merged tools of a stdio and a Go backend and calls one on each.
func TestAggregateInspectorCLI(t *testing.T) {
	t.Parallel()
	gob := startGoBackend(t)
	g := startGateway(t, backendSpec{kind: "aggregate", yaml: fmt.Sprintf(`
  - name: local
    command: [%q, %q, "stdio"]
  - name: gob
    url: %q
`, nodeBin, everythingJS, gob.URL())}, gatewayOpts{})
	inspector := filepath.Join(nodeDir, "node_modules", ".bin", "mcp-inspector")
	catalog := filepath.Join(t.TempDir(), "mcp.json")
	run := func(args ...string) map[string]any {
		t.Helper()
		argv := append([]string{nodeBin, inspector, "--cli", g.URL, "--transport", "http"}, args...)
		stdout, err := runNode(t, 90*time.Second, []string{"MCP_CATALOG_PATH=" + catalog}, argv...)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		if err := json.Unmarshal([]byte(jsonPart(stdout)), &out); err != nil {
			t.Fatalf("inspector output is not a JSON object (%v):\n%s", err, tail(stdout, 3000))
		}
		return out
	}
	var names []string
	tools, _ := run("--method", "tools/list")["tools"].([]any)
	for _, tl := range tools {
		if m, ok := tl.(map[string]any); ok {
			names = append(names, fmt.Sprint(m["name"]))
		}
	}
	for _, want := range []string{"local_echo", "local_get-sum", "gob_greet"} {
		if !slices.Contains(names, want) {
			t.Errorf("inspector tools/list lacks %q: %v", want, names)
		}
	}
	for _, c := range []struct{ tool, arg, want string }{
		{"local_echo", "message=hi", `"text":"Echo: hi"`},
		{"gob_greet", "name=ts", goBackendGreeting + ", ts"},
	} {
		b, _ := json.Marshal(run("--method", "tools/call", "--tool-name", c.tool, "--tool-arg", c.arg)["content"])
		if !strings.Contains(string(b), c.want) {
			t.Errorf("inspector tools/call %s: content %s, want %s", c.tool, b, c.want)
		}
	}
}
