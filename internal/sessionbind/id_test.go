package sessionbind

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// TestNotFoundCarriesRequestID (issue 12, item 3): the 404 for a session
// that is not the caller's answers with the request's id, not null, when
// the body was one request.
func TestNotFoundCarriesRequestID(t *testing.T) {
	tests := []struct {
		name string
		ops  []record.Op
		want string
	}{
		{"request", []record.Op{{Kind: record.OpRequest, Method: "tools/list", ID: `"r-1"`}}, `"r-1"`},
		{"numeric id", []record.Op{{Kind: record.OpRequest, Method: "ping", ID: "42"}}, "42"},
		{"notification", []record.Op{{Kind: record.OpNotification, Method: "notifications/initialized"}}, "null"},
		{"batch", []record.Op{{Kind: record.OpRequest, ID: "1"}, {Kind: record.OpRequest, ID: "2"}}, "null"},
		{"no body (GET)", nil, "null"},
	}
	h := New(Options{}).Middleware()(backend())
	_, sid := do(h, alice, "POST", "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/mcp", nil)
			req.Header.Set(mcpwire.HeaderSessionID, sid)
			rec := &record.Record{Identity: bob}
			ops := rec.NewOps(len(tt.ops))
			copy(ops, tt.ops)
			req = req.WithContext(record.NewContext(req.Context(), rec))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			var e struct {
				ID    json.RawMessage      `json:"id"`
				Error struct{ Code int64 } `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || w.Code != http.StatusNotFound {
				t.Fatalf("%d %s (%v)", w.Code, w.Body, err)
			}
			if string(e.ID) != tt.want || e.Error.Code != mcpwire.CodeSessionNotFound {
				t.Errorf("id %s code %d, want id %s code %d", e.ID, e.Error.Code, tt.want, mcpwire.CodeSessionNotFound)
			}
		})
	}
}
