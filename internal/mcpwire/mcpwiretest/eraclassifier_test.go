package mcpwiretest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestEraClassifier pins the classification the tests of the relays lean on:
// if it passed everything, they could not fail.
func TestEraClassifier(t *testing.T) {
	tests := []struct {
		name, body, sid, version string
		status                   int // 0: served by Next
		code                     string
	}{
		{"initialize without _meta", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`, "", "", 0, ""},
		{"initialize with _meta", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"_meta":{"traceparent":"x"}}}`, "", "", 400, "-32020"},
		{"sessionless with _meta, session-era header", `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta":{}}}`, "", "2025-11-25", 400, "-32022"},
		{"sessionless with _meta, 2026-07-28 header", `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta":{}}}`, "", "2026-07-28", 0, ""},
		{"in a session with _meta", `{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":{"traceparent":"x"}}}`, "s1", "2025-11-25", 0, ""},
		{"_meta null is no _meta", `{"jsonrpc":"2.0","id":4,"method":"ping","params":{"_meta":null}}`, "", "", 0, ""},
		{"batch", `[{"jsonrpc":"2.0","id":5,"method":"ping","params":{"_meta":{}}}]`, "", "", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &EraClassifier{Next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })}
			req := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(tt.body))
			if tt.sid != "" {
				req.Header.Set("Mcp-Session-Id", tt.sid)
			}
			if tt.version != "" {
				req.Header.Set("Mcp-Protocol-Version", tt.version)
			}
			w := httptest.NewRecorder()
			c.ServeHTTP(w, req)
			want := tt.status
			if want == 0 {
				want = http.StatusTeapot
			}
			if w.Code != want || !strings.Contains(w.Body.String(), tt.code) {
				t.Errorf("%d %s, want %d with code %q", w.Code, w.Body, want, tt.code)
			}
		})
	}
}
