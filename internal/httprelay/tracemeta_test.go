package httprelay

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mcpgate/mcpgate/internal/mcpwire/mcpwiretest"
)

// sessionServer is a minimal session-era MCP server: initialize opens a
// session (Mcp-Session-Id "s1"), everything else gets an empty result.
func sessionServer() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &m)
		if len(m.ID) == 0 {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		if m.Method == "initialize" {
			w.Header().Set("Mcp-Session-Id", "s1")
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":`+string(m.ID)+`,"result":{}}`)
	})
}

// TestTraceMetaEraClassification (issue 12, item 1): through a traced relay,
// a backend that classifies eras as the conformance suite's reference server
// does (no session id + _meta = stateless 2026-07-28) still sees session-era
// requests as session-era: initialize and sessionless requests get no _meta
// the client did not send, while the W3C header always carries the CLIENT
// span. Before the rule, initialize got _meta and was refused 400 -32020.
func TestTraceMetaEraClassification(t *testing.T) {
	const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`
	tests := []struct {
		name     string
		body     string
		header   http.Header
		wantMeta bool // _meta.traceparent upstream, equal to the header's
	}{
		{name: "initialize", body: initialize},
		{name: "initialize with a caller traceparent header", body: initialize, header: http.Header{"Traceparent": {callerTP}}},
		{
			name:     "in-session request without _meta",
			body:     `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`,
			header:   http.Header{"Mcp-Session-Id": {"s1"}, "Mcp-Protocol-Version": {"2025-11-25"}},
			wantMeta: true,
		},
		{
			name:     "in-session notification without params",
			body:     `{"jsonrpc":"2.0","method":"notifications/initialized"}`,
			header:   http.Header{"Mcp-Session-Id": {"s1"}, "Mcp-Protocol-Version": {"2025-11-25"}},
			wantMeta: true,
		},
		{
			name:   "sessionless request of a stateless legacy server",
			body:   `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`,
			header: http.Header{"Mcp-Protocol-Version": {"2025-11-25"}},
		},
		{
			name:   "sessionless notification without _meta",
			body:   `{"jsonrpc":"2.0","method":"notifications/initialized","params":{}}`,
			header: http.Header{"Mcp-Protocol-Version": {"2025-11-25"}},
		},
		{
			name:     "2026-07-28 request: into the client's _meta",
			body:     `{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`,
			header:   http.Header{"Mcp-Protocol-Version": {"2026-07-28"}, "Mcp-Method": {"tools/list"}},
			wantMeta: true,
		},
		{
			name:   "2026-07-28 request with a session id is still stateless",
			body:   `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":4}}`,
			header: http.Header{"Mcp-Session-Id": {"s1"}, "Mcp-Protocol-Version": {"2026-07-28"}, "Mcp-Method": {"notifications/cancelled"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tel, _ := newTelemetry(t)
			ec := &mcpwiretest.EraClassifier{Next: sessionServer()}
			b := httptest.NewServer(ec)
			defer b.Close()
			f := newFront(t, newRelay(t, b.URL, Options{Telemetry: tel}))
			resp := post(t, f.URL, tt.body, tt.header)
			data, _ := io.ReadAll(resp.Body)
			f.record(t)
			if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted {
				t.Errorf("status %d through the traced relay: %s", resp.StatusCode, data)
			}
			seen := ec.Seen()
			if len(seen) != 1 {
				t.Fatalf("backend saw %d POSTs, want 1", len(seen))
			}
			s := seen[0]
			if s.Status != 0 {
				t.Errorf("the era classifier refused the request (%d): it took it for a stateless one", s.Status)
			}
			if s.HeaderTrace == "" || s.HeaderTrace == callerTP {
				t.Errorf("traceparent header %q, want the CLIENT span's", s.HeaderTrace)
			}
			switch {
			case tt.wantMeta && s.MetaTrace != s.HeaderTrace:
				t.Errorf("_meta.traceparent %q, want the CLIENT span's %q", s.MetaTrace, s.HeaderTrace)
			case !tt.wantMeta && s.HasMeta:
				t.Errorf("_meta upstream (traceparent %q) where the client sent none", s.MetaTrace)
			}
		})
	}
}
