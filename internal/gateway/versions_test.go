package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/internal/aggregate"
	"github.com/mcpgate/mcpgate/internal/config"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

// TestUnsupportedVersionOffers: the gateway answers an unknown revision
// itself, offering what the server the client sees serves. Relayed, that
// is the backend: every known revision until a server/discover result of
// the backend's has been relayed, then the known ones it lists. Aggregating,
// the gateway is the server: what its own server/discover lists.
func TestUnsupportedVersionOffers(t *testing.T) {
	const discover = `{"jsonrpc":"2.0","id":201,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		// A backend that speaks two of the gateway's revisions and one it
		// does not know.
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":201,"result":{"supportedVersions":["2026-07-28","2025-11-25","2099-01-01"],"capabilities":{}}}`)
	}))
	t.Cleanup(backend.Close)
	relayed := newGateway(t, upstreamConfig(t, backend.URL), nil)
	aggCfg := upstreamConfig(t, backend.URL)
	aggCfg.Backends = append(aggCfg.Backends, config.Backend{Name: "second", URL: backend.URL})
	aggCfg.Aggregate.Prefix = true // no start-up probe of the backends' names
	aggregating := newGateway(t, aggCfg, nil)

	all := []string{"2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}
	// What its server/discover lists; TestSupportedVersionsMatchDiscover
	// (internal/aggregate) holds the two together. Today the session-era
	// revisions, which differs from every known revision.
	ownList := aggregating.backend.(*aggregate.Aggregator).SupportedVersions()
	steps := []struct {
		name string
		g    *Gateway
		body string // "" sends the v999.0.0 request
		want []string
	}{
		{"relay, before any discover: every known revision", relayed, "", all},
		{"relay: a discover relayed", relayed, discover, nil},
		{"relay, after it: the backend's known revisions", relayed, "", []string{"2026-07-28", "2025-11-25"}},
		{"aggregating: what its server/discover lists", aggregating, "", ownList},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			body, v := st.body, mcpwire.Version20260728
			if body == "" {
				v = "v999.0.0"
				body = strings.Replace(discover, `"2026-07-28"`, `"`+v+`"`, 1)
			}
			req := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set(mcpwire.HeaderProtocolVersion, v)
			req.Header.Set(mcpwire.HeaderMethod, "server/discover")
			w := httptest.NewRecorder()
			st.g.Handler().ServeHTTP(w, req)
			if st.want == nil {
				if w.Code != http.StatusOK {
					t.Fatalf("discover: %d %s", w.Code, w.Body)
				}
				return
			}
			var e struct {
				Error struct {
					Code int64 `json:"code"`
					Data struct {
						Supported []string `json:"supported"`
					} `json:"data"`
				} `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || w.Code != http.StatusBadRequest || e.Error.Code != mcpwire.CodeUnsupportedProtocolVersion {
				t.Fatalf("got %d %s (%v), want 400 -32022", w.Code, w.Body, err)
			}
			if !slices.Equal(e.Error.Data.Supported, st.want) {
				t.Errorf("supported %v, want %v", e.Error.Data.Supported, st.want)
			}
		})
	}
}
