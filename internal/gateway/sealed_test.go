package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgate/mcpgate/internal/config"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

// countingBackend is a Go SDK server whose tool "count" answers how many
// times it was called in the caller's session: a new backend session
// starts again at 1.
func countingBackend(t *testing.T) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	counts := map[string]int{}
	server := mcp.NewServer(&mcp.Implementation{Name: "counter", Version: "1"}, nil)
	server.AddTool(&mcp.Tool{Name: "count", InputSchema: map[string]any{"type": "object"}},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			mu.Lock()
			defer mu.Unlock()
			counts[req.Session.ID()]++
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: strconv.Itoa(counts[req.Session.ID()])}}}, nil
		})
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil))
	t.Cleanup(srv.Close)
	return srv
}

func digest(key string) string {
	d := sha256.Sum256([]byte(key))
	return hex.EncodeToString(d[:])
}

// sealedGateway is a gateway with sealed sessions under keys (ids of
// testKeys), as replica name, with API keys for alice and bob.
func sealedGateway(t *testing.T, backendURL, replica string, keys ...string) *httptest.Server {
	t.Helper()
	return sealedGatewayOf(t, "  - {name: be, url: \""+backendURL+"/mcp\"}\n", replica, keys...)
}

// sealedGatewayOf is sealedGateway in front of backends (YAML list items).
func sealedGatewayOf(t *testing.T, backends, replica string, keys ...string) *httptest.Server {
	t.Helper()
	var ks strings.Builder
	for _, k := range keys {
		ks.WriteString("{id: " + k + ", env: KEY_" + k + "},")
	}
	src := "listen: 127.0.0.1:0\nadmin: {listen: \"\"}\nallowedHosts: [127.0.0.1]\n" +
		"backends:\n" + backends +
		"auth:\n  mode: apiKey\n  resource: https://lb.example/mcp\n  apiKeys:\n    - {subject: alice, sha256: " + digest("alice-key") + "}\n    - {subject: bob, sha256: " + digest("bob-key") + "}\n" +
		"sessions: {keys: [" + ks.String() + "], replica: " + replica + "}\n"
	look := config.Lookup{Getenv: func(name string) (string, bool) {
		switch name {
		case "KEY_k1":
			return "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", true
		case "KEY_k2":
			return "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=", true
		}
		return "", false
	}}
	cfg, err := config.Parse("mcpgate.yaml", []byte(src), look)
	if err != nil {
		t.Fatal(err)
	}
	g := newGateway(t, cfg, nil)
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	return srv
}

// roundRobin sends each request to the next of its servers, with an API
// key: a load balancer without affinity in front of the replicas.
type roundRobin struct {
	servers []*httptest.Server
	key     string
	n       atomic.Int64
	mu      sync.Mutex
	served  map[string]map[int]bool // session id → replicas that served it
}

func (rr *roundRobin) RoundTrip(r *http.Request) (*http.Response, error) {
	i := int(rr.n.Add(1)-1) % len(rr.servers)
	r = r.Clone(r.Context())
	target := rr.servers[i].URL
	r.URL.Scheme, r.URL.Host, r.Host = "http", strings.TrimPrefix(target, "http://"), ""
	r.Header.Set("X-API-Key", rr.key)
	if sid := r.Header.Get(mcpwire.HeaderSessionID); sid != "" {
		rr.mu.Lock()
		if rr.served[sid] == nil {
			rr.served[sid] = map[int]bool{}
		}
		rr.served[sid][i] = true
		rr.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

func connect(t *testing.T, rt http.RoundTripper) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "replica-test", Version: "1"}, nil)
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint: "http://lb.invalid/mcp", HTTPClient: &http.Client{Transport: rt}, MaxRetries: -1, DisableStandaloneSSE: true,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func count(t *testing.T, cs *mcp.ClientSession) string {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "count", Arguments: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Content[0].(*mcp.TextContent).Text
}

// TestSealedSessionsAcrossReplicas: three gateways with the same keys
// serve one session in turn, and it stays one backend session; another
// principal with the token is refused by every replica; and a gateway
// started later (a restart) serves it too.
func TestSealedSessionsAcrossReplicas(t *testing.T) {
	be := countingBackend(t)
	replicas := []*httptest.Server{sealedGateway(t, be.URL, "gw-0", "k1"), sealedGateway(t, be.URL, "gw-1", "k1"), sealedGateway(t, be.URL, "gw-2", "k1")}
	rr := &roundRobin{servers: replicas, key: "alice-key", served: map[string]map[int]bool{}}
	cs := connect(t, rr)
	token := cs.ID()
	if !strings.HasPrefix(token, "1.k1.") {
		t.Fatalf("client's session id %q is not a sealed token", token)
	}
	for want := 1; want <= 6; want++ {
		if got := count(t, cs); got != strconv.Itoa(want) {
			t.Fatalf("call %d counted %s: the replicas did not share one backend session", want, got)
		}
	}
	if n := len(rr.served[token]); n != 3 {
		t.Fatalf("the session was served by %d replicas, want all 3", n)
	}

	for i, r := range replicas {
		req, _ := http.NewRequest(http.MethodPost, r.URL+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":9,"method":"tools/list"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("MCP-Protocol-Version", "2025-11-25")
		req.Header.Set(mcpwire.HeaderSessionID, token)
		req.Header.Set("X-API-Key", "bob-key")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("replica %d let bob use alice's session: %d", i, resp.StatusCode)
		}
	}

	// A replica that never saw the session — started after it — and one
	// whose keys were rotated (the new key first, the old one still held).
	rr.servers = []*httptest.Server{sealedGateway(t, be.URL, "gw-3", "k1"), sealedGateway(t, be.URL, "gw-4", "k2", "k1")}
	if got := count(t, cs); got != "7" {
		t.Fatalf("after a restart the count is %s, want 7", got)
	}
	if got := count(t, cs); got != "8" {
		t.Fatalf("on a rotated replica the count is %s, want 8", got)
	}
	rotated := connect(t, &roundRobin{servers: rr.servers[1:], key: "alice-key", served: map[string]map[int]bool{}})
	if !strings.HasPrefix(rotated.ID(), "1.k2.") {
		t.Fatalf("a new session on the rotated replica is %q, want it sealed under k2", rotated.ID())
	}
}

// TestSealedAggregatedSessionsAcrossReplicas: three aggregating gateways
// serve one session in turn; each backend keeps one session for it (the
// replicas adopt the session and resume the backends' sessions).
func TestSealedAggregatedSessionsAcrossReplicas(t *testing.T) {
	one, two := countingBackend(t), countingBackend(t)
	backends := "  - {name: one, url: \"" + one.URL + "/mcp\"}\n  - {name: two, url: \"" + two.URL + "/mcp\"}\n"
	var replicas []*httptest.Server
	for i := range 3 {
		replicas = append(replicas, sealedGatewayOf(t, backends, "gw-"+strconv.Itoa(i), "k1"))
	}
	rr := &roundRobin{servers: replicas, key: "alice-key", served: map[string]map[int]bool{}}
	cs := connect(t, rr)
	for want := 1; want <= 6; want++ {
		for _, tool := range []string{"one_count", "two_count"} {
			res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: map[string]any{}})
			if err != nil {
				t.Fatalf("%s: %v", tool, err)
			}
			if got := res.Content[0].(*mcp.TextContent).Text; got != strconv.Itoa(want) {
				t.Fatalf("%s call %d counted %s: a replica opened a new backend session", tool, want, got)
			}
		}
	}
	if n := len(rr.served[cs.ID()]); n != 3 {
		t.Fatalf("the session was served by %d replicas, want all 3", n)
	}
}
