package aggregate

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestAggregatorHTTPErrorsAreJSONRPC (issue 12, item 3): the SDK's
// HTTP-level errors reach the client as JSON-RPC errors with the request's
// id (null only where there is none), not as a line of plain text.
func TestAggregatorHTTPErrorsAreJSONRPC(t *testing.T) {
	a := newTestBackend(t, "a", []string{"echo"}, nil)
	url := front(t, newAggregator(t, Options{Backends: []Backend{a.backend(t)}}), nil)
	tests := []struct {
		name   string
		method string
		body   string
		sid    string
		status int
		code   int64
		id     string
	}{
		{"unknown session, request", http.MethodPost, `{"jsonrpc":"2.0","id":41,"method":"tools/list"}`, "no-such-session", 404, -32001, "41"},
		{"unknown session, string id", http.MethodPost, `{"jsonrpc":"2.0","id":"r-9","method":"ping"}`, "no-such-session", 404, -32001, `"r-9"`},
		{"unknown session, notification", http.MethodPost, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, "no-such-session", 404, -32001, "null"},
		{"DELETE without a session", http.MethodDelete, "", "", 400, -32600, "null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, url, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
			if tt.sid != "" {
				req.Header.Set("Mcp-Session-Id", tt.sid)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("%d %q %s, want %d application/json", resp.StatusCode, resp.Header.Get("Content-Type"), body, tt.status)
			}
			var e struct {
				JSONRPC string          `json:"jsonrpc"`
				ID      json.RawMessage `json:"id"`
				Error   struct {
					Code    int64  `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("not JSON-RPC: %v: %s", err, body)
			}
			if e.JSONRPC != "2.0" || string(e.ID) != tt.id || e.Error.Code != tt.code || e.Error.Message == "" {
				t.Errorf("got %s, want id %s code %d and a message", body, tt.id, tt.code)
			}
		})
	}
}
