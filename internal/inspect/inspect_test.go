package inspect

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/guard"
	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// serve runs one request through limits and inspect into a handler that
// reports what inspect handed on.
func serve(t *testing.T, method, body string, header map[string]string) (*httptest.ResponseRecorder, *record.Record, *Request) {
	t.Helper()
	var got *Request
	h := guard.Limits(8<<10, 4<<10, time.Second)(New(Options{Limits: jsonrpc.Limits{MaxBatch: 4}})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = FromContext(r.Context())
		w.WriteHeader(http.StatusTeapot)
	})))
	req := httptest.NewRequest(method, "/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	rec := &record.Record{}
	req = req.WithContext(record.NewContext(req.Context(), rec))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w, rec, got
}

type rpcError struct {
	ID    json.RawMessage `json:"id"`
	Error struct {
		Code    int64  `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

const (
	toolsCall   = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}`
	statelessTC = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"échο","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`
)

func TestRejections(t *testing.T) {
	stateless := map[string]string{mcpwire.HeaderProtocolVersion: "2026-07-28", mcpwire.HeaderMethod: "tools/call", mcpwire.HeaderName: "=?base64?w6ljaM6/?="}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range stateless {
			m[a] = b
		}
		m[k] = v
		return m
	}
	tests := []struct {
		name   string
		method string
		body   string
		header map[string]string
		status int
		code   int64
		reason record.Reason
	}{
		{"malformed JSON", "POST", `{"jsonrpc":"2.0",`, nil, 400, jsonrpc.CodeParseError, record.ReasonParseError},
		{"GET with a body", "GET", toolsCall, map[string]string{"Accept": "text/event-stream"}, 400, jsonrpc.CodeInvalidRequest, record.ReasonInvalidRequest},
		{"DELETE with a body", "DELETE", toolsCall, nil, 400, jsonrpc.CodeInvalidRequest, record.ReasonInvalidRequest},
		{"duplicate member", "POST", `{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}`, nil, 400, jsonrpc.CodeParseError, record.ReasonParseError},
		{"case-variant member", "POST", `{"jsonrpc":"2.0","id":1,"method":"tools/list","Method":"tools/call"}`, nil, 400, jsonrpc.CodeParseError, record.ReasonParseError},
		{"invalid UTF-8", "POST", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"\xff\"}}", nil, 400, jsonrpc.CodeParseError, record.ReasonParseError},
		{"wrong jsonrpc version", "POST", `{"jsonrpc":"1.0","id":1,"method":"ping"}`, nil, 400, jsonrpc.CodeInvalidRequest, record.ReasonInvalidRequest},
		{"params not an object", "POST", `{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}`, nil, 400, jsonrpc.CodeInvalidRequest, record.ReasonInvalidRequest},
		{"oversized body", "POST", `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"` + strings.Repeat("a", 5000) + `"}}`, nil, 413, jsonrpc.CodeInvalidRequest, record.ReasonBodyTooLarge},
		{"huge headers", "POST", toolsCall, map[string]string{"X-Big": strings.Repeat("b", 9000)}, 431, jsonrpc.CodeInvalidRequest, record.ReasonHeadersTooLarge},
		{"unknown protocol version", "POST", toolsCall, map[string]string{mcpwire.HeaderProtocolVersion: "1999-01-01"}, 400, mcpwire.CodeUnsupportedProtocolVersion, record.ReasonUnsupportedVersion},
		{"batch on 2025-06-18", "POST", `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, map[string]string{mcpwire.HeaderProtocolVersion: "2025-06-18"}, 400, jsonrpc.CodeInvalidRequest, record.ReasonInvalidRequest},
		{"batch over the cap", "POST", `[` + strings.Repeat(`{"jsonrpc":"2.0","method":"ping"},`, 4) + `{"jsonrpc":"2.0","method":"ping"}]`, nil, 400, jsonrpc.CodeInvalidRequest, record.ReasonInvalidRequest},
		{"initialize in a batch", "POST", `[{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}]`, nil, 400, jsonrpc.CodeInvalidRequest, record.ReasonInvalidRequest},
		{"Mcp-Method disagrees", "POST", statelessTC, with(mcpwire.HeaderMethod, "tools/list"), 400, mcpwire.CodeHeaderMismatch, record.ReasonHeaderMismatch},
		{"Mcp-Method missing", "POST", statelessTC, with(mcpwire.HeaderMethod, ""), 400, mcpwire.CodeHeaderMismatch, record.ReasonHeaderMismatch},
		{"Mcp-Name disagrees", "POST", statelessTC, with(mcpwire.HeaderName, "echo"), 400, mcpwire.CodeHeaderMismatch, record.ReasonHeaderMismatch},
		{"Mcp-Name bad base64", "POST", statelessTC, with(mcpwire.HeaderName, "=?base64?***?="), 400, mcpwire.CodeHeaderMismatch, record.ReasonHeaderMismatch},
		{"version header differs from _meta", "POST", statelessTC, with(mcpwire.HeaderProtocolVersion, "2025-11-25"), 400, mcpwire.CodeHeaderMismatch, record.ReasonHeaderMismatch},
		{"_meta version without header", "POST", statelessTC, map[string]string{mcpwire.HeaderProtocolVersion: ""}, 400, mcpwire.CodeHeaderMismatch, record.ReasonHeaderMismatch},
		{"wrong content type", "POST", toolsCall, map[string]string{"Content-Type": "text/plain"}, 415, jsonrpc.CodeInvalidRequest, record.ReasonInvalidRequest},
		{"accepts neither", "POST", toolsCall, map[string]string{"Accept": "text/html"}, 406, jsonrpc.CodeInvalidRequest, record.ReasonNotAcceptable},
		{"GET without event-stream", "GET", "", map[string]string{"Accept": "application/json"}, 406, jsonrpc.CodeInvalidRequest, record.ReasonNotAcceptable},
		{"GET on a stateless revision", "GET", "", map[string]string{mcpwire.HeaderProtocolVersion: "2026-07-28", "Accept": "text/event-stream"}, 405, jsonrpc.CodeInvalidRequest, record.ReasonMethodNotAllowed},
		{"PUT", "PUT", toolsCall, nil, 405, jsonrpc.CodeInvalidRequest, record.ReasonMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, rec, _ := serve(t, tt.method, tt.body, tt.header)
			if tt.status == 200 {
				// The version header governs: 2025-11-25 is session-based, so
				// the stateless header rules do not apply and the body passes.
				if w.Code != http.StatusTeapot {
					t.Fatalf("status %d, want the request passed on; body %s", w.Code, w.Body)
				}
				return
			}
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			var e rpcError
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
				t.Fatalf("body is not a JSON-RPC error: %v: %s", err, w.Body)
			}
			if e.Error.Code != tt.code {
				t.Errorf("code %d, want %d (%s)", e.Error.Code, tt.code, e.Error.Message)
			}
			if rec.Reason != tt.reason {
				t.Errorf("record reason %q, want %q", rec.Reason, tt.reason)
			}
		})
	}
}

func TestMismatchAnswersWithRequestID(t *testing.T) {
	w, _, _ := serve(t, "POST", statelessTC, map[string]string{mcpwire.HeaderProtocolVersion: "2026-07-28", mcpwire.HeaderMethod: "tools/list"})
	var e rpcError
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || string(e.ID) != "7" {
		t.Fatalf("id %s (err %v), want 7", e.ID, err)
	}
}

func TestAcceptedFillsRecord(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		header  map[string]string
		method  string
		id      string
		target  string
		version string
	}{
		{"tools/call", toolsCall, map[string]string{mcpwire.HeaderProtocolVersion: "2025-06-18"}, "tools/call", "7", "echo", "2025-06-18"},
		{"initialize offers the version", `{"jsonrpc":"2.0","id":"a","method":"initialize","params":{"protocolVersion":"2025-11-25","clientInfo":{"name":"c","version":"1"}}}`, nil, "initialize", `"a"`, "", "2025-11-25"},
		{"stateless with base64 name", statelessTC, map[string]string{mcpwire.HeaderProtocolVersion: "2026-07-28", mcpwire.HeaderMethod: "tools/call", mcpwire.HeaderName: "=?base64?w6ljaM6/?="}, "tools/call", "7", "échο", "2026-07-28"},
		{"notification", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, map[string]string{mcpwire.HeaderProtocolVersion: "2025-06-18"}, "notifications/initialized", "", "", "2025-06-18"},
		{"client response", `{"jsonrpc":"2.0","id":3,"result":{}}`, map[string]string{mcpwire.HeaderProtocolVersion: "2025-06-18"}, "", "3", "", "2025-06-18"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, rec, got := serve(t, "POST", tt.body, tt.header)
			if w.Code != http.StatusTeapot || got == nil {
				t.Fatalf("status %d, want the request passed on; body %s", w.Code, w.Body)
			}
			op := rec.Ops[0]
			if op.Method != tt.method || op.ID != tt.id || op.Name != tt.target {
				t.Errorf("op = %+v, want method %q id %q name %q", op, tt.method, tt.id, tt.target)
			}
			if rec.ProtocolVersion != tt.version {
				t.Errorf("version %q, want %q", rec.ProtocolVersion, tt.version)
			}
			if string(got.Raw) != tt.body {
				t.Errorf("raw body changed")
			}
		})
	}
}

func TestDuplicateMCPHeaders(t *testing.T) {
	h := New(Options{Limits: jsonrpc.Limits{MaxBatch: 4}})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	for _, name := range singleHeaders {
		for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
			t.Run(name+"/"+method, func(t *testing.T) {
				req := httptest.NewRequest(method, "/mcp", strings.NewReader(toolsCall))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/json, text/event-stream")
				req.Header[name] = []string{"first", "second"}
				rec := &record.Record{}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req.WithContext(record.NewContext(req.Context(), rec)))
				if w.Code != http.StatusBadRequest || rec.Reason != record.ReasonInvalidRequest {
					t.Fatalf("status %d, reason %q; want 400 %s", w.Code, rec.Reason, record.ReasonInvalidRequest)
				}
				var e rpcError
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code != jsonrpc.CodeInvalidRequest ||
					!strings.Contains(e.Error.Message, name) {
					t.Errorf("body %s: want a -32600 error naming %s", w.Body, name)
				}
			})
		}
	}
}
