package inspect

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// TestStatelessErrorPaths (issue 12, item 3): the 2026-07-28 error codes,
// ids and data layouts. A request without the per-request _meta fields is
// malformed (-32602, HTTP 400), not a header mismatch; an unknown revision
// gets -32022 with SEP-2575's {"supported","requested"} data; every error
// about a single request carries its id.
func TestStatelessErrorPaths(t *testing.T) {
	const pv = mcpwire.HeaderProtocolVersion
	modern := func(method string, extra ...string) map[string]string {
		h := map[string]string{pv: "2026-07-28", mcpwire.HeaderMethod: method}
		for i := 0; i+1 < len(extra); i += 2 {
			h[extra[i]] = extra[i+1]
		}
		return h
	}
	tests := []struct {
		name          string
		method        string // default POST
		body          string
		header        map[string]string
		status        int   // 0: passed on
		code          int64 // expected JSON-RPC error code
		id            string
		reason        record.Reason
		wantRequested string // non-empty: the -32022 data must name it
	}{
		{
			name: "request without _meta", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, header: modern("tools/list"),
			status: 400, code: jsonrpc.CodeInvalidParams, id: "1", reason: record.ReasonInvalidRequest,
		},
		{
			name: "request with params but without _meta", body: `{"jsonrpc":"2.0","id":"x","method":"tools/list","params":{"cursor":"c"}}`, header: modern("tools/list"),
			status: 400, code: jsonrpc.CodeInvalidParams, id: `"x"`, reason: record.ReasonInvalidRequest,
		},
		{
			name: "_meta without the protocol version", body: `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{}}}}`, header: modern("tools/list"),
			status: 400, code: jsonrpc.CodeInvalidParams, id: "2", reason: record.ReasonInvalidRequest,
		},
		{
			name: "protocol version not a string", body: `{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":20260728}}}`, header: modern("tools/list"),
			status: 400, code: jsonrpc.CodeInvalidParams, id: "3", reason: record.ReasonInvalidRequest,
		},
		{
			name: "_meta null", body: `{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"_meta":null}}`, header: modern("tools/list"),
			status: 400, code: jsonrpc.CodeInvalidParams, id: "4", reason: record.ReasonInvalidRequest,
		},
		{
			name: "header and _meta disagree", body: `{"jsonrpc":"2.0","id":5,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2025-11-25"}}}`, header: modern("tools/list"),
			status: 400, code: mcpwire.CodeHeaderMismatch, id: "5", reason: record.ReasonHeaderMismatch,
		},
		{
			name: "session-era header, 2026-07-28 _meta", body: `{"jsonrpc":"2.0","id":6,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`,
			header: map[string]string{pv: "2025-11-25"}, status: 400, code: mcpwire.CodeHeaderMismatch, id: "6", reason: record.ReasonHeaderMismatch,
		},
		{
			name: "unknown version header", body: `{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01"}}}`,
			header: map[string]string{pv: "2099-01-01", mcpwire.HeaderMethod: "tools/list"}, status: 400, code: mcpwire.CodeUnsupportedProtocolVersion, id: "7",
			reason: record.ReasonUnsupportedVersion, wantRequested: "2099-01-01",
		},
		{
			name: "unknown version header, session-era body", body: `{"jsonrpc":"2.0","id":"q","method":"ping"}`,
			header: map[string]string{pv: "1999-01-01"}, status: 400, code: mcpwire.CodeUnsupportedProtocolVersion, id: `"q"`,
			reason: record.ReasonUnsupportedVersion, wantRequested: "1999-01-01",
		},
		{
			name: "unknown version header on a notification", body: `{"jsonrpc":"2.0","method":"notifications/initialized"}`,
			header: map[string]string{pv: "1999-01-01"}, status: 400, code: mcpwire.CodeUnsupportedProtocolVersion, id: "null",
			reason: record.ReasonUnsupportedVersion, wantRequested: "1999-01-01",
		},
		{
			name: "unknown version header on GET", method: http.MethodGet,
			header: map[string]string{pv: "1999-01-01", "Accept": "text/event-stream"}, status: 400, code: mcpwire.CodeUnsupportedProtocolVersion, id: "null",
			reason: record.ReasonUnsupportedVersion, wantRequested: "1999-01-01",
		},
		{
			name: "unknown version in _meta, no header", body: `{"jsonrpc":"2.0","id":8,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01"}}}`,
			header: map[string]string{pv: ""}, status: 400, code: mcpwire.CodeUnsupportedProtocolVersion, id: "8",
			reason: record.ReasonUnsupportedVersion, wantRequested: "2099-01-01",
		},
		{
			name: "2026-07-28 _meta, no header", body: `{"jsonrpc":"2.0","id":9,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`,
			header: map[string]string{pv: ""}, status: 400, code: mcpwire.CodeHeaderMismatch, id: "9", reason: record.ReasonHeaderMismatch,
		},
		{
			name: "valid request passes", body: `{"jsonrpc":"2.0","id":10,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`,
			header: modern("tools/list"),
		},
		{
			// The per-request fields are required of requests only.
			name: "notification without _meta passes", body: `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}`,
			header: modern("notifications/cancelled"),
		},
		{
			name: "notification naming another version", body: `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"_meta":{"io.modelcontextprotocol/protocolVersion":"2025-11-25"}}}`,
			header: modern("notifications/cancelled"), status: 400, code: mcpwire.CodeHeaderMismatch, id: "null", reason: record.ReasonHeaderMismatch,
		},
		{
			name: "session-era request without _meta passes", body: `{"jsonrpc":"2.0","id":11,"method":"tools/list"}`,
			header: map[string]string{pv: "2025-11-25"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			w, rec, _ := serve(t, method, tt.body, tt.header)
			if tt.status == 0 {
				if w.Code != http.StatusTeapot {
					t.Fatalf("status %d, want the request passed on; body %s", w.Code, w.Body)
				}
				return
			}
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			var e struct {
				ID    json.RawMessage `json:"id"`
				Error struct {
					Code    int64           `json:"code"`
					Message string          `json:"message"`
					Data    json.RawMessage `json:"data"`
				} `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
				t.Fatalf("not a JSON-RPC error: %v: %s", err, w.Body)
			}
			if e.Error.Code != tt.code {
				t.Errorf("code %d, want %d (%s)", e.Error.Code, tt.code, e.Error.Message)
			}
			if string(e.ID) != tt.id {
				t.Errorf("id %s, want %s", e.ID, tt.id)
			}
			if rec.Reason != tt.reason {
				t.Errorf("reason %q, want %q", rec.Reason, tt.reason)
			}
			if v := rec.ProtocolVersion; v != "" && !mcpwire.KnownVersion(v) {
				t.Errorf("record holds the unknown version %q (it reaches span attributes)", v)
			}
			if tt.wantRequested == "" {
				if len(e.Error.Data) != 0 {
					t.Errorf("unexpected data %s", e.Error.Data)
				}
				return
			}
			var data struct {
				Supported []string `json:"supported"`
				Requested string   `json:"requested"`
			}
			if err := json.Unmarshal(e.Error.Data, &data); err != nil {
				t.Fatalf("data %s: %v", e.Error.Data, err)
			}
			want := slices.Clone(mcpwire.Versions)
			slices.Reverse(want)
			if !slices.Equal(data.Supported, want) || data.Requested != tt.wantRequested {
				t.Errorf("data %s, want supported %v (newest first), requested %q", e.Error.Data, want, tt.wantRequested)
			}
		})
	}
}

// TestUnsupportedVersionOffers: every path that answers an unknown revision
// with -32022 offers Options.Supported — what the server the client sees
// serves (a relayed backend's advertised revisions) — in the data and the
// message, and every known revision without it.
func TestUnsupportedVersionOffers(t *testing.T) {
	const pv = mcpwire.HeaderProtocolVersion
	meta := `{"jsonrpc":"2.0","id":301,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"v999.0.0"}}}`
	paths := []struct {
		name   string
		method string
		body   string
		header map[string]string
	}{
		{"header and _meta, as the conformance suite sends", http.MethodPost, meta, map[string]string{pv: "v999.0.0", mcpwire.HeaderMethod: "server/discover"}},
		{"_meta alone", http.MethodPost, meta, map[string]string{pv: ""}},
		{"header on a session-era body", http.MethodPost, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, map[string]string{pv: "v999.0.0"}},
		{"header on GET", http.MethodGet, "", map[string]string{pv: "v999.0.0", "Accept": "text/event-stream"}},
	}
	learned := new(mcpwire.Advertised)
	learned.LearnDiscover([]byte(`{"supportedVersions":["2026-07-28","2025-11-25","2099-01-01"]}`))
	offers := []struct {
		name      string
		supported func() []string
		want      []string
	}{
		{"no Supported: every known revision", nil, []string{"2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}},
		{"a backend's advertised revisions", learned.Supported, []string{"2026-07-28", "2025-11-25"}},
		{"an aggregator's session-era revisions", func() []string { return []string{"2025-11-25", "2025-06-18"} }, []string{"2025-11-25", "2025-06-18"}},
	}
	for _, o := range offers {
		for _, p := range paths {
			t.Run(o.name+"/"+p.name, func(t *testing.T) {
				h := New(Options{Supported: o.supported})(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					w.WriteHeader(http.StatusTeapot)
				}))
				req := httptest.NewRequest(p.method, "/mcp", strings.NewReader(p.body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/json, text/event-stream")
				for k, v := range p.header {
					if v == "" {
						req.Header.Del(k)
					} else {
						req.Header.Set(k, v)
					}
				}
				req = req.WithContext(record.NewContext(req.Context(), &record.Record{}))
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				var e struct {
					Error struct {
						Code    int64  `json:"code"`
						Message string `json:"message"`
						Data    struct {
							Supported []string `json:"supported"`
							Requested string   `json:"requested"`
						} `json:"data"`
					} `json:"error"`
				}
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || w.Code != http.StatusBadRequest || e.Error.Code != mcpwire.CodeUnsupportedProtocolVersion {
					t.Fatalf("got %d %s, want 400 -32022 (%v)", w.Code, w.Body, err)
				}
				if !slices.Equal(e.Error.Data.Supported, o.want) || e.Error.Data.Requested != "v999.0.0" {
					t.Errorf("data supported %v requested %q, want %v and v999.0.0", e.Error.Data.Supported, e.Error.Data.Requested, o.want)
				}
				if want := "(supported: " + strings.Join(o.want, ", ") + ")"; !strings.HasSuffix(e.Error.Message, want) {
					t.Errorf("message %q, want it to end %q", e.Error.Message, want)
				}
			})
		}
	}
}
