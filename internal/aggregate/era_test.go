package aggregate

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// dualEraBackend serves both eras as separate servers, the way a server
// that kept its session-era code beside a 2026-07-28 one does (the
// conformance reference server among them): the session server offers
// resource subscriptions, the 2026-07-28 one does not.
type dualEraBackend struct {
	srv *httptest.Server

	mu       sync.Mutex
	versions []string // the protocolVersion of each session initialize
	subs     []string
}

func newDualEraBackend(t *testing.T) *dualEraBackend {
	t.Helper()
	d := &dualEraBackend{}
	res := func(s *mcp.Server) {
		s.AddResource(&mcp.Resource{URI: "x://dual/res", Name: "res"},
			func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
				return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "dual"}}}, nil
			})
	}
	session := mcp.NewServer(&mcp.Implementation{Name: "dual-session", Version: "1"}, &mcp.ServerOptions{
		SupportedProtocolVersions: []string{"2025-11-25", "2025-06-18"},
		SubscribeHandler: func(_ context.Context, req *mcp.SubscribeRequest) error {
			d.mu.Lock()
			d.subs = append(d.subs, req.Params.URI)
			d.mu.Unlock()
			return nil
		},
		UnsubscribeHandler: func(context.Context, *mcp.UnsubscribeRequest) error { return nil },
		InitializedHandler: func(_ context.Context, req *mcp.InitializedRequest) {
			d.mu.Lock()
			d.versions = append(d.versions, req.Session.InitializeParams().ProtocolVersion)
			d.mu.Unlock()
		},
	})
	res(session)
	stateless := mcp.NewServer(&mcp.Implementation{Name: "dual-stateless", Version: "1"}, &mcp.ServerOptions{
		SupportedProtocolVersions: []string{"2026-07-28"},
	})
	res(stateless)
	sh := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return session }, nil)
	lh := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return stateless }, &mcp.StreamableHTTPOptions{Stateless: true})
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			// A 2026-07-28 request names its revision in _meta.
			if bytes.Contains(body, []byte(`"io.modelcontextprotocol/protocolVersion"`)) || bytes.Contains(body, []byte(`"server/discover"`)) {
				lh.ServeHTTP(w, r)
				return
			}
		}
		sh.ServeHTTP(w, r)
	}))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *dualEraBackend) backend(t *testing.T) Backend {
	u, err := url.Parse(d.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return Backend{Name: "dual", URL: u}
}

// TestAggregatorBackendEra: a client of a session-based revision gets
// backend sessions of its own revision, so what a backend offers only in
// a session (here resources/subscribe) is there, as it would be without
// the gateway; a backend that serves only 2026-07-28 is still connected.
func TestAggregatorBackendEra(t *testing.T) {
	cases := []struct {
		name    string
		version string
	}{
		{"2025-11-25 client", "2025-11-25"},
		{"2025-06-18 client", "2025-06-18"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDualEraBackend(t)
			agg := newAggregator(t, Options{Backends: []Backend{d.backend(t)}})
			fc := newFeatureClient(t, front(t, agg, nil), tc.version)
			if err := fc.cs.Subscribe(context.Background(), &mcp.SubscribeParams{URI: "x://dual/res"}); err != nil {
				t.Fatalf("subscribe to a dual-era backend's resource: %v", err)
			}
			d.mu.Lock()
			defer d.mu.Unlock()
			if len(d.versions) != 1 || d.versions[0] != tc.version {
				t.Errorf("backend sessions initialized with %v, want [%s]", d.versions, tc.version)
			}
			if len(d.subs) != 1 || d.subs[0] != "x://dual/res" {
				t.Errorf("the backend's session server saw subscriptions %v, want [x://dual/res]", d.subs)
			}
		})
	}

	t.Run("2026-07-28-only backend, 2025-11-25 client", func(t *testing.T) {
		a := newFeatureBackend(t, "a", nil, 0, "") // refuses a session-era initialize
		agg := newAggregator(t, Options{Backends: []Backend{a.backend(t)}})
		fc := newFeatureClient(t, front(t, agg, nil), "2025-11-25")
		res, err := fc.cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "x://a/res"})
		if err != nil {
			t.Fatalf("read a 2026-07-28-only backend's resource: %v", err)
		}
		if len(res.Contents) != 1 || res.Contents[0].Text != "a" {
			t.Errorf("contents = %+v, want the backend's", res.Contents)
		}
	})
}
