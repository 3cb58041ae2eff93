package inspect

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// TestHeaderHygiene: headers that fold into a managed header, protocol
// upgrades and Connection tokens naming a managed header are refused
// (issue 13 items 1, 2 and 11); look-alikes that are not are passed on.
func TestHeaderHygiene(t *testing.T) {
	type hdr = [][2]string
	tests := []struct {
		name   string
		apiKey string // auth.apiKeyHeader; "" = X-API-Key
		method string // "" = POST
		header hdr    // added as received, names as a server canonicalizes them
		refuse string // a substring of the error; "" = passed on
	}{
		// Item 1: spellings a CGI/WSGI backend folds into a managed header.
		{name: "Mcp_Session_Id", header: hdr{{"Mcp_Session_Id", "S"}}, refuse: "Mcp-Session-Id"},
		{name: "mcp_session_id lower case", header: hdr{{"mcp_session_id", "S"}}, refuse: "Mcp-Session-Id"},
		{name: "Mcp_Session_Id on GET", method: http.MethodGet, header: hdr{{"Mcp_Session_Id", "S"}}, refuse: "Mcp-Session-Id"},
		{name: "Mcp_Session_Id on DELETE", method: http.MethodDelete, header: hdr{{"Mcp_Session_Id", "S"}}, refuse: "Mcp-Session-Id"},
		{name: "Mcp-Session_Id mixed", header: hdr{{"Mcp-Session_Id", "S"}}, refuse: "Mcp-Session-Id"},
		{name: "MCP_PROTOCOL_VERSION", header: hdr{{"MCP_PROTOCOL_VERSION", "2025-06-18"}}, refuse: "Mcp-Protocol-Version"},
		{name: "Last_Event_Id", method: http.MethodGet, header: hdr{{"Last_Event_Id", "4"}}, refuse: "Last-Event-Id"},
		{name: "Mcp_Method", header: hdr{{"Mcp_Method", "tools/call"}}, refuse: "Mcp-Method"},
		{name: "Mcp_Name", header: hdr{{"Mcp_Name", "echo"}}, refuse: "Mcp-Name"},
		{name: "Mcp_Param_Region", header: hdr{{"Mcp_Param_Region", "eu"}}, refuse: "Mcp-Param-Region"},
		{name: "Mcp-Param_Region", header: hdr{{"Mcp-Param_Region", "eu"}}, refuse: "Mcp-Param-Region"},
		{name: "X_Api_Key, the configured API-key header", header: hdr{{"X_Api_Key", "k"}}, refuse: "X-Api-Key"},
		{name: "X_Tenant_Key, a configured API-key header", apiKey: "X-Tenant-Key", header: hdr{{"X_Tenant_Key", "k"}}, refuse: "X-Tenant-Key"},
		{name: "Proxy_Authorization", header: hdr{{"Proxy_Authorization", "Basic eA=="}}, refuse: "Proxy-Authorization"},
		{name: "X_Forwarded_User", header: hdr{{"X_Forwarded_User", "admin"}}, refuse: "X-Forwarded-User"},
		{name: "X_Forwarded_For", header: hdr{{"X_Forwarded_For", "10.0.0.1"}}, refuse: "X-Forwarded-For"},
		{name: "X_Amzn_Oidc_Identity", header: hdr{{"X_Amzn_Oidc_Identity", "admin"}}, refuse: "X-Amzn-Oidc-Identity"},
		{name: "X_Goog_Authenticated_User_Email", header: hdr{{"X_Goog_Authenticated_User_Email", "a@b"}}, refuse: "X-Goog-Authenticated-User-Email"},
		{name: "X_Webauth_User", header: hdr{{"X_Webauth_User", "admin"}}, refuse: "X-Webauth-User"},
		{name: "True_Client_Ip", header: hdr{{"True_Client_Ip", "10.0.0.1"}}, refuse: "True-Client-Ip"},
		{name: "X_Original_Url", header: hdr{{"X_Original_Url", "/admin"}}, refuse: "X-Original-Url"},
		{name: "Remote_User", header: hdr{{"Remote_User", "admin"}}, refuse: "Remote-User"},

		// Look-alikes that manage nothing pass.
		{name: "underscore inside a tool's Mcp-Param name", header: hdr{{"Mcp-Param-User_id", "7"}}},
		{name: "unmanaged underscore header", header: hdr{{"X_Custom_Thing", "1"}}},
		{name: "configured API-key header spelled with underscores", apiKey: "X_Tenant_Key", header: hdr{{"X_Tenant_Key", "k"}}},

		// Item 2: protocol upgrades.
		{name: "websocket upgrade", method: http.MethodGet, header: hdr{{"Connection", "Upgrade"}, {"Upgrade", "websocket"}, {"Sec-Websocket-Version", "13"}}, refuse: "upgrade"},
		{name: "h2c upgrade", header: hdr{{"Connection", "Upgrade, HTTP2-Settings"}, {"Upgrade", "h2c"}, {"Http2-Settings", "AAMAAABkAAQAAP__"}}, refuse: "upgrade"},
		{name: "Upgrade without Connection", header: hdr{{"Upgrade", "websocket"}}, refuse: "upgrade"},
		{name: "Connection upgrade without Upgrade", header: hdr{{"Connection", "keep-alive, upgrade"}}, refuse: "upgrade"},

		// Item 11: Connection must not hide a managed header from the backend.
		{name: "Connection names Mcp-Protocol-Version", header: hdr{{"Connection", "Mcp-Protocol-Version"}, {"Mcp-Protocol-Version", "2025-06-18"}}, refuse: "Connection must not name"},
		{name: "Connection names mcp-session-id", header: hdr{{"Connection", "keep-alive, mcp-session-id"}}, refuse: "Connection must not name"},
		{name: "Connection names traceparent", header: hdr{{"Connection", "close"}, {"Connection", "traceparent"}}, refuse: "Connection must not name"},
		{name: "Connection names X-Forwarded-For", header: hdr{{"Connection", "X-Forwarded-For"}}, refuse: "Connection must not name"},
		{name: "Connection keep-alive", header: hdr{{"Connection", "keep-alive"}}},
		{name: "Connection TE", header: hdr{{"Connection", "TE"}, {"Te", "trailers"}}},
		{name: "Connection naming an unmanaged header", header: hdr{{"Connection", "X-Hop"}, {"X-Hop", "1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			apiKey := tt.apiKey
			if apiKey == "" {
				apiKey = "X-API-Key"
			}
			h := New(Options{APIKeyHeader: apiKey})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusTeapot)
			}))
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			body := toolsCall
			if method != http.MethodPost {
				body = ""
			}
			req := httptest.NewRequest(method, "/mcp", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			for _, kv := range tt.header {
				// As net/http's server stores them: canonical where the
				// name allows, so Mcp_Session_Id arrives as Mcp_session_id.
				req.Header.Add(kv[0], kv[1])
			}
			rec := &record.Record{}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req.WithContext(record.NewContext(req.Context(), rec)))
			if tt.refuse == "" {
				if w.Code != http.StatusTeapot {
					t.Fatalf("status %d, want the request passed on; body %s", w.Code, w.Body)
				}
				return
			}
			if w.Code != http.StatusBadRequest || rec.Reason != record.ReasonInvalidRequest {
				t.Fatalf("status %d, reason %q; want 400 %s", w.Code, rec.Reason, record.ReasonInvalidRequest)
			}
			var e rpcError
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code != jsonrpc.CodeInvalidRequest {
				t.Fatalf("body %s: want a -32600 error", w.Body)
			}
			want := strings.ToLower(tt.refuse)
			if !strings.Contains(strings.ToLower(e.Error.Message), want) || !strings.Contains(strings.ToLower(rec.Detail), want) {
				t.Errorf("message %q, detail %q: want both to name %q", e.Error.Message, rec.Detail, tt.refuse)
			}
		})
	}
}

// TestManagedAliasCoversEveryManagedHeader: every managed header has an
// underscore spelling that is refused, and its own spelling is not.
func TestManagedAliasCoversEveryManagedHeader(t *testing.T) {
	names := append([]string{}, mcpwire.ManagedHeaders...)
	for _, p := range mcpwire.ManagedPrefixes {
		names = append(names, p+"X")
	}
	for _, n := range names {
		if !strings.Contains(n, "-") {
			continue // no hyphen, no other spelling (Authorization, Cookie)
		}
		if mcpwire.ManagedAlias(n, "X-API-Key") {
			t.Errorf("%s itself is refused", n)
		}
		if alias := strings.ReplaceAll(n, "-", "_"); !mcpwire.ManagedAlias(http.CanonicalHeaderKey(alias), "X-API-Key") {
			t.Errorf("%s is not refused", alias)
		}
	}
}
