package aggregate

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

// catalogTools is the size of each backend's tool list in the memory
// measurements: issue 13 measured 2 backends × 1,000 tools.
const catalogTools = 1000

// newCatalogBackend is an HTTP backend offering n tools whose definitions
// look like real ones: a sentence of description and a small input schema.
func newCatalogBackend(t testing.TB, name string, n int) Backend {
	t.Helper()
	server := mcp.NewServer(&mcp.Implementation{Name: name, Version: "1"}, nil)
	for i := range n {
		server.AddTool(&mcp.Tool{
			Name:        fmt.Sprintf("lookup_record_%04d", i),
			Description: fmt.Sprintf("Looks up records of kind %d in the inventory and returns the matching ones, newest first.", i),
			InputSchema: map[string]any{
				"type": "object",
				"properties": map[string]any{
					"query":  map[string]any{"type": "string", "description": "Full-text query over the record's fields."},
					"limit":  map[string]any{"type": "integer", "minimum": 1, "maximum": 100, "description": "Most records returned."},
					"cursor": map[string]any{"type": "string", "description": "Opaque cursor of a previous answer."},
				},
				"required": []any{"query"},
			},
		}, func(_ context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{}, nil
		})
	}
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, &mcp.StreamableHTTPOptions{JSONResponse: true})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return Backend{Name: name, URL: u}
}

// rawClient opens sessions with plain POSTs, so that the measuring process
// holds next to nothing per session on the client side.
type rawClient struct {
	t      testing.TB
	url    string
	client *http.Client
	who    string // whoHeader, for frontWho; "" none
}

func (c *rawClient) post(sid, body string) *http.Response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.url, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if c.who != "" {
		req.Header.Set(whoHeader, c.who)
	}
	if sid != "" {
		req.Header.Set(mcpwire.HeaderSessionID, sid)
		req.Header.Set(mcpwire.HeaderProtocolVersion, "2025-06-18")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	var buf bytes.Buffer
	_, _ = io.Copy(&buf, resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(&buf)
	return resp
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"mem","version":"1"}}}`

// open initializes one session and reports its id.
func (c *rawClient) open() string {
	c.t.Helper()
	resp := c.post("", initializeBody)
	sid := resp.Header.Get(mcpwire.HeaderSessionID)
	if resp.StatusCode != http.StatusOK || sid == "" {
		body, _ := io.ReadAll(resp.Body)
		c.t.Fatalf("initialize: HTTP %d, session %q: %s", resp.StatusCode, sid, body)
	}
	if resp := c.post(sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); resp.StatusCode != http.StatusAccepted {
		c.t.Fatalf("notifications/initialized: HTTP %d", resp.StatusCode)
	}
	return sid
}

func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// idleSessionBytes opens n aggregated sessions with two HTTP backends of
// catalogTools tools each and returns the live heap each idle session
// holds, gateway side only: the in-process backends' own per-session
// state, measured by opening n sessions with each backend directly, is
// subtracted.
func idleSessionBytes(t testing.TB, n int) (gateway, backends float64) {
	t.Helper()
	ba, bb := newCatalogBackend(t, "alpha", catalogTools), newCatalogBackend(t, "beta", catalogTools)
	// One principal opens every session: the caps must let it.
	agg := newAggregator(t, Options{Backends: []Backend{ba, bb}, MaxSessions: n + 1, MaxSessionsPerPrincipal: n + 1})
	front := front(t, agg, nil)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	t.Cleanup(hc.CloseIdleConnections)

	// Warm up: the first session pays for lazily built state (SDK method
	// tables, connection pools) that is not per session.
	(&rawClient{t: t, url: front, client: hc}).open()
	for _, b := range []Backend{ba, bb} {
		(&rawClient{t: t, url: b.URL.String(), client: hc}).open()
	}

	before := liveHeap()
	for _, b := range []Backend{ba, bb} {
		c := &rawClient{t: t, url: b.URL.String(), client: hc}
		for range n {
			c.open()
		}
	}
	mid := liveHeap()
	c := &rawClient{t: t, url: front, client: hc}
	for range n {
		c.open()
	}
	after := liveHeap()
	if st := agg.Statuses(); st[0].Sessions != n+1 || st[1].Sessions != n+1 {
		t.Fatalf("backend sessions %d and %d, want %d each", st[0].Sessions, st[1].Sessions, n+1)
	}
	backends = float64(int64(mid)-int64(before)) / float64(n)
	// Each aggregated session also opened one session with each backend.
	gateway = float64(int64(after)-int64(mid))/float64(n) - backends
	return gateway, backends
}

// BenchmarkIdleSessionBytes reports the live heap one idle aggregated
// session costs the gateway with two HTTP backends of 1,000 tools each. It
// opens a fixed number of sessions whatever b.N is; run it once:
//
//	go test ./internal/aggregate/ -run '^$' -bench IdleSessionBytes -benchtime 1x
func BenchmarkIdleSessionBytes(b *testing.B) {
	const sessions = 40
	var gw, be float64
	for b.Loop() {
		gw, be = idleSessionBytes(b, sessions)
	}
	b.ReportMetric(gw, "bytes/session")
	b.ReportMetric(be, "backend-bytes/session")
}
