package aggregate

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// newTestBackendServer serves server to every session over Streamable
// HTTP (JSON answers).
func newTestBackendServer(t *testing.T, name string, server *mcp.Server) Backend {
	return newTestBackendFunc(t, name, func(*http.Request) *mcp.Server { return server })
}

// newTestBackendFunc serves the server get returns for each new session.
func newTestBackendFunc(t *testing.T, name string, get func(*http.Request) *mcp.Server) Backend {
	t.Helper()
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(get, &mcp.StreamableHTTPOptions{JSONResponse: true}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return Backend{Name: name, URL: u}
}

// trackedSessions returns the aggregator's tracked client sessions.
func (a *Aggregator) trackedSessions() []*session {
	a.mu.Lock()
	defer a.mu.Unlock()
	var ss []*session
	for s := range a.sessions {
		ss = append(ss, s)
	}
	return ss
}

// offeredCatalog is the catalog s offers for backend, or nil.
func (s *session) offeredCatalog(backend string) *catalog {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.offered[backend]; o != nil {
		return o.cat
	}
	return nil
}

// TestSessionsShareCatalogs: two client sessions whose backends list the
// same share one catalog per backend — the very objects the sessions'
// servers hold — and a backend's list change moves every session to one
// new shared catalog, the old one being collected.
func TestSessionsShareCatalogs(t *testing.T) {
	a := newTestBackend(t, "a", []string{"echo", "sum"}, []string{"x://r"})
	server := mcp.NewServer(&mcp.Implementation{Name: "b", Version: "1"}, nil)
	server.AddTool(&mcp.Tool{Name: "first", InputSchema: map[string]any{"type": "object"}}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{}, nil
	})
	b := newTestBackendServer(t, "b", server)
	agg := newAggregator(t, Options{Backends: []Backend{a.backend(t), b}})
	endpoint := front(t, agg, nil)
	cs1, cs2 := clientSession(t, endpoint), clientSession(t, endpoint)

	ss := agg.trackedSessions()
	if len(ss) != 2 {
		t.Fatalf("%d sessions, want 2", len(ss))
	}
	for _, be := range []string{"a", "b"} {
		c1, c2 := ss[0].offeredCatalog(be), ss[1].offeredCatalog(be)
		if c1 == nil || c1 != c2 {
			t.Fatalf("backend %s: sessions offer catalogs %p and %p, want one shared", be, c1, c2)
		}
		if n := agg.byName[be].sharedCatalogs(); n != 1 {
			t.Errorf("backend %s holds %d catalogs, want 1", be, n)
		}
	}
	if got, want := toolNames(t, cs1), []string{"a_echo", "a_slow", "a_sum", "b_first"}; !slices.Equal(got, want) {
		t.Fatalf("tools = %v, want %v", got, want)
	}
	res, err := cs2.CallTool(context.Background(), &mcp.CallToolParams{Name: "a_sum", Arguments: map[string]any{}})
	if err != nil || text(res) != "a:sum" {
		t.Fatalf("a_sum through the shared catalog: %v %v", res, err)
	}

	old := ss[0].offeredCatalog("b")
	server.AddTool(&mcp.Tool{Name: "second", InputSchema: map[string]any{"type": "object"}}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "b:second"}}}, nil
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c1, c2 := ss[0].offeredCatalog("b"), ss[1].offeredCatalog("b")
		if c1 != old && c1 == c2 && len(c1.tools) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the backend's list changed, the sessions offer %p and %p (old %p)", c1, c2, old)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, cs := range []*mcp.ClientSession{cs1, cs2} {
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "b_second", Arguments: map[string]any{}})
		if err != nil || text(res) != "b:second" {
			t.Fatalf("b_second after the change: %v %v", res, err)
		}
	}
	old = nil
	deadline = time.Now().Add(10 * time.Second)
	for agg.byName["b"].sharedCatalogs() != 1 || len(agg.byName["b"].catalogs.m) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("backend b still holds %d catalogs (%d entries), want the new one only", agg.byName["b"].sharedCatalogs(), len(agg.byName["b"].catalogs.m))
		}
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSessionsListingDifferentlyDoNotShare: a session offers what its own
// backend session listed, never another session's list.
func TestSessionsListingDifferentlyDoNotShare(t *testing.T) {
	var n atomic.Int64
	server := func(*http.Request) *mcp.Server {
		s := mcp.NewServer(&mcp.Implementation{Name: "b", Version: "1"}, nil)
		s.AddTool(&mcp.Tool{Name: fmt.Sprintf("own%d", n.Add(1)), InputSchema: map[string]any{"type": "object"}}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{}, nil
		})
		return s
	}
	b := newTestBackendFunc(t, "b", server)
	a := newTestBackend(t, "a", nil, nil)
	agg := newAggregator(t, Options{Backends: []Backend{a.backend(t), b}})
	endpoint := front(t, agg, nil)
	t1, t2 := toolNames(t, clientSession(t, endpoint)), toolNames(t, clientSession(t, endpoint))
	if len(t1) != 2 || len(t2) != 2 || t1[0] != "a_slow" || t2[0] != "a_slow" || t1[1] == t2[1] {
		t.Fatalf("tools = %v and %v, want a_slow and each session's own tool of b", t1, t2)
	}
	ss := agg.trackedSessions()
	if len(ss) != 2 || ss[0].offeredCatalog("b") == ss[1].offeredCatalog("b") || ss[0].offeredCatalog("a") != ss[1].offeredCatalog("a") {
		t.Errorf("b's catalogs must differ between the sessions, a's be shared")
	}
}

// TestIdleSessionHeap: an idle aggregated session with two backends of
// 1,000 tools each costs the gateway well under a megabyte (each session
// held its own ~5.7 MB copy of the lists before they were shared).
func TestIdleSessionHeap(t *testing.T) {
	const bound = 1 << 20
	gw, _ := idleSessionBytes(t, 6)
	t.Logf("%.0f bytes per idle session", gw)
	if gw > bound {
		t.Errorf("an idle session holds %.0f bytes, want at most %d", gw, bound)
	}
}
