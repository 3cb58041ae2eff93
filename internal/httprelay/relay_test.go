package httprelay

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// seen is what a recording backend received.
type seen struct {
	method, path, rawQuery string
	header                 http.Header
	body                   []byte
	trailer                http.Header // read once the body is
}

// recordingBackend answers every request with respond after recording it.
func recordingBackend(t *testing.T, respond http.HandlerFunc) (*httptest.Server, <-chan seen) {
	t.Helper()
	got := make(chan seen, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("backend: reading body: %v", err)
		}
		got <- seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body, r.Trailer.Clone()}
		respond(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func answerJSON(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}
}

func TestHeadersForwarded(t *testing.T) {
	// Everything a client sends in one request; each case says what the
	// backend must (or must not) receive of it.
	send := http.Header{
		"Authorization":        {"Bearer client-token"},
		"Proxy-Authorization":  {"Basic Y2xpZW50"},
		"Cookie":               {"session=abc"},
		"X-Api-Key":            {"client-key"},
		"Forwarded":            {"for=198.51.100.1;proto=https"},
		"X-Forwarded-For":      {"203.0.113.7, 10.0.0.1"},
		"X-Forwarded-Host":     {"evil.example"},
		"X-Forwarded-Proto":    {"https"},
		"X-Forwarded-User":     {"admin"},
		"X-Forwarded-Email":    {"admin@example.com"},
		"X-Auth-Request-Email": {"admin@example.com"},
		"X-Auth-Request-User":  {"admin"},
		"X-Remote-User":        {"admin"},
		"Remote-User":          {"admin"},
		// CGI and WSGI servers map both spellings to HTTP_X_FORWARDED_USER.
		"X_Forwarded_User":    {"admin"},
		"Proxy_Authorization": {"Basic Y2xpZW50"},
		"Baggage":             {"user.id=alice"},
		"Accept-Encoding":     {"gzip"},
		// Identity headers of authenticating proxies the old deny-list
		// missed (issue 13 item 11): the allow-list drops them all.
		"X-Amzn-Oidc-Identity":               {"admin"},
		"X-Amzn-Oidc-Data":                   {"eyJ..."},
		"X-Goog-Authenticated-User-Email":    {"accounts.google.com:admin@example.com"},
		"X-Authenticated-User":               {"admin"},
		"X-Webauth-User":                     {"admin"},
		"True-Client-Ip":                     {"10.0.0.1"},
		"X-Original-Url":                     {"/admin"},
		"X-Ms-Client-Principal-Name":         {"admin"},
		"Cf-Access-Authenticated-User-Email": {"admin@example.com"},
		"X-Anything-Else":                    {"not on the allow-list"},
		"Origin":                             {"https://app.example.com"},
		"X-Tenant":                           {"acme"}, // on this backend's forwardHeaders

		"Mcp-Session-Id":       {"sess-1"},
		"Mcp-Protocol-Version": {"2025-06-18"},
		"Mcp-Method":           {"tools/call"},
		"Mcp-Name":             {"echo"},
		"Mcp-Param-Region":     {"eu"},
		"Last-Event-Id":        {"41"},
		"Traceparent":          {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
		"Tracestate":           {"vendor=x"},
		"X-Static":             {"from-client"},
		"X-Lower":              {"from-client"},
	}
	static := http.Header{
		"Authorization": {"Bearer upstream-token"},
		"X-Static":      {"configured"},
		"x-lower":       {"configured"}, // not canonical: must still replace X-Lower
	}
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

	always := map[string]string{
		"Authorization":        "Bearer upstream-token",
		"Mcp-Session-Id":       "sess-1",
		"Mcp-Protocol-Version": "2025-06-18",
		"Mcp-Method":           "tools/call",
		"Mcp-Name":             "echo",
		"Mcp-Param-Region":     "eu",
		"Last-Event-Id":        "41",
		"Accept":               "application/json, text/event-stream",
		"Content-Type":         "application/json",
		"Traceparent":          "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"Tracestate":           "vendor=x",
		"X-Static":             "configured",
		"X-Lower":              "configured",
		"X-Tenant":             "acme",
	}
	neverFromClient := []string{
		"Proxy-Authorization", "Cookie", "X-Api-Key", "X-Forwarded-User", "X-Forwarded-Email",
		"X-Auth-Request-Email", "X-Auth-Request-User", "X-Remote-User", "Remote-User",
		"X_forwarded_user", "X-Forwarded_user", "Proxy_authorization", "Baggage",
		"X-Amzn-Oidc-Identity", "X-Amzn-Oidc-Data", "X-Goog-Authenticated-User-Email", "X-Authenticated-User",
		"X-Webauth-User", "True-Client-Ip", "X-Original-Url", "X-Ms-Client-Principal-Name",
		"Cf-Access-Authenticated-User-Email", "X-Anything-Else", "Origin",
	}

	tests := []struct {
		name    string
		trusted []netip.Prefix
		want    map[string]string // exact single value
		absent  []string
	}{
		{
			name:   "untrusted peer",
			want:   map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http"},
			absent: []string{"Forwarded"},
		},
		{
			name:    "peer outside the trusted prefixes",
			trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
			want:    map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http"},
			absent:  []string{"Forwarded"},
		},
		{
			name:    "trusted proxy",
			trusted: loopback,
			want: map[string]string{
				"X-Forwarded-For":   "203.0.113.7, 10.0.0.1, 127.0.0.1",
				"Forwarded":         "for=198.51.100.1;proto=https",
				"X-Forwarded-Host":  "evil.example",
				"X-Forwarded-Proto": "https",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			backend, got := recordingBackend(t, answerJSON(`{"jsonrpc":"2.0","id":7,"result":{}}`))
			relay := newRelay(t, backend.URL+"/mcp", Options{
				Headers: static, TrustedProxies: tc.trusted, ForwardHeaders: []string{"x-tenant"},
			})
			f := newFront(t, relay)
			resp := post(t, f.URL+"/mcp", toolsCall, send)
			io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			f.record(t)
			h := (<-got).header

			for name, want := range always {
				if v := h.Values(name); len(v) != 1 || v[0] != want {
					t.Errorf("%s = %q, want [%q]", name, v, want)
				}
			}
			for name, want := range tc.want {
				if v := h.Values(name); len(v) != 1 || v[0] != want {
					t.Errorf("%s = %q, want [%q]", name, v, want)
				}
			}
			if v := h.Get("X-Forwarded-Host"); tc.trusted == nil && v == "evil.example" {
				t.Errorf("X-Forwarded-Host from an untrusted peer was forwarded: %q", v)
			}
			for _, name := range append(neverFromClient, tc.absent...) {
				if v, ok := h[name]; ok {
					t.Errorf("%s reached the backend: %q", name, v)
				}
			}
			if v := h.Get("Accept-Encoding"); strings.Contains(v, "gzip") {
				t.Errorf("Accept-Encoding = %q: responses must arrive uncompressed", v)
			}
		})
	}
}

func TestStaticHeadersNotShared(t *testing.T) {
	// Rewriting one request must not change the configured headers that
	// every other request shares.
	backend, got := recordingBackend(t, answerJSON(`{"jsonrpc":"2.0","id":7,"result":{}}`))
	static := http.Header{"X-Static": {"configured"}}
	relay := newRelay(t, backend.URL, Options{Headers: static})
	f := newFront(t, relay)
	for range 2 {
		resp := post(t, f.URL, toolsCall, nil)
		io.Copy(io.Discard, resp.Body)
		f.record(t)
		if v := (<-got).header.Values("X-Static"); len(v) != 1 || v[0] != "configured" {
			t.Errorf("X-Static = %q", v)
		}
	}
	if v := static.Values("X-Static"); len(v) != 1 || v[0] != "configured" {
		t.Errorf("Options.Headers changed: %q", v)
	}
}

func TestBodyAndURL(t *testing.T) {
	tests := []struct {
		name, backendPath, clientPath, body string
		wantPath, wantQuery                 string
	}{
		{
			name:        "path and query are the backend's",
			backendPath: "/v1/mcp?tenant=a&x=%2F",
			clientPath:  "/mcp/other?tenant=evil",
			body:        toolsCall,
			wantPath:    "/v1/mcp", wantQuery: "tenant=a&x=%2F",
		},
		{
			name:        "body with whitespace and escapes is sent as received",
			backendPath: "/mcp",
			clientPath:  "/mcp",
			body:        " {\"jsonrpc\" : \"2.0\", \"id\":\"a\\u0062\",\n\t\"method\":\"tools/call\",\"params\":{\"name\":\"\\u00e9cho\",\"arguments\":{\"n\":1.50e0}}}\n",
			wantPath:    "/mcp",
		},
		{
			name:        "batch",
			backendPath: "/mcp",
			clientPath:  "/mcp",
			body:        `[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"}]`,
			wantPath:    "/mcp",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			backend, got := recordingBackend(t, answerJSON(`{"jsonrpc":"2.0","id":7,"result":{}}`))
			f := newFront(t, newRelay(t, backend.URL+tc.backendPath, Options{}))
			resp := post(t, f.URL+tc.clientPath, tc.body, nil)
			io.Copy(io.Discard, resp.Body)
			f.record(t)
			s := <-got
			if s.method != http.MethodPost {
				t.Errorf("method %s", s.method)
			}
			if !bytes.Equal(s.body, []byte(tc.body)) {
				t.Errorf("body\n got %q\nwant %q", s.body, tc.body)
			}
			if s.path != tc.wantPath || s.rawQuery != tc.wantQuery {
				t.Errorf("URL %s?%s, want %s?%s", s.path, s.rawQuery, tc.wantPath, tc.wantQuery)
			}
			if cl := s.header.Get("Content-Length"); cl != "" && cl != "0" {
				t.Logf("Content-Length %s", cl)
			}
		})
	}
}

func TestJSONResponse(t *testing.T) {
	tests := []struct {
		name, request, response string
		op                      int // the op whose outcome is checked
		want                    record.Op
	}{
		{
			name:     "result",
			request:  toolsCall,
			response: `{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"hi"}]}}`,
			want:     record.Op{Answered: true},
		},
		{
			name:     "tool error",
			request:  toolsCall,
			response: `{"jsonrpc":"2.0","id":7,"result":{"content":[],"isError":true}}`,
			want:     record.Op{Answered: true, ToolError: true},
		},
		{
			name:     "JSON-RPC error",
			request:  toolsCall,
			response: `{"jsonrpc":"2.0","id":7,"error":{"code":-32602,"message":"unknown tool \"echo\""}}`,
			want:     record.Op{Answered: true, Error: record.RPCError{Code: -32602, Message: `unknown tool "echo"`, Valid: true}},
		},
		{
			name:     "string id",
			request:  `{"jsonrpc":"2.0","id":"x-1","method":"ping"}`,
			response: "{\"jsonrpc\":\"2.0\",\"id\":\"x-1\",\"result\":{}}\n",
			want:     record.Op{Answered: true},
		},
		{
			name:     "error with a null id answers the one request",
			request:  toolsCall,
			response: `{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"Bad Request: No valid session ID provided"}}`,
			want:     record.Op{Answered: true, Error: record.RPCError{Code: -32000, Message: "Bad Request: No valid session ID provided", Valid: true}},
		},
		{
			name:     "response for another id",
			request:  toolsCall,
			response: `{"jsonrpc":"2.0","id":8,"result":{}}`,
			want:     record.Op{},
		},
		{
			// A client's response to a server request and the client's own
			// request may carry the same id: they are different id spaces.
			name:     "batch: client response and request with the same id",
			request:  `[{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}]`,
			response: `[{"jsonrpc":"2.0","id":1,"result":{"isError":true}}]`,
			op:       1,
			want:     record.Op{Answered: true, ToolError: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			backend, _ := recordingBackend(t, answerJSON(tc.response))
			f := newFront(t, newRelay(t, backend.URL, Options{}))
			resp := post(t, f.URL, tc.request, nil)
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if string(body) != tc.response {
				t.Errorf("body\n got %q\nwant %q", body, tc.response)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			rec := f.record(t)
			op := rec.Ops[tc.op]
			got := record.Op{Answered: op.Answered, Error: op.Error, ToolError: op.ToolError}
			if got != tc.want {
				t.Errorf("op outcome %+v, want %+v", got, tc.want)
			}
			if rec.Backend != "search" || rec.Reason != "" || rec.SSE {
				t.Errorf("record: backend %q reason %q sse %v", rec.Backend, rec.Reason, rec.SSE)
			}
		})
	}
}

func TestBackendUnanswered(t *testing.T) {
	closedPort := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr + "/mcp"
	}
	stalls := func(t *testing.T) string {
		// Holds the response headers back until the relay gives up.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body) // else net/http does not notice the relay hang up
			<-r.Context().Done()
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	tests := []struct {
		name       string
		backend    func(*testing.T) string
		opts       Options
		request    string
		wantStatus int
		wantID     string
		wantReason record.Reason
		wantText   string
	}{
		{
			name: "unreachable", backend: closedPort, request: toolsCall,
			wantStatus: http.StatusBadGateway, wantID: "7",
			wantReason: record.ReasonUpstreamUnavailable, wantText: `backend "search" unreachable`,
		},
		{
			name: "unreachable, string id", backend: closedPort,
			request:    `{"jsonrpc":"2.0","id":"abc","method":"tools/list"}`,
			wantStatus: http.StatusBadGateway, wantID: `"abc"`,
			wantReason: record.ReasonUpstreamUnavailable, wantText: `backend "search" unreachable`,
		},
		{
			name: "unreachable, notification", backend: closedPort,
			request:    `{"jsonrpc":"2.0","method":"notifications/initialized"}`,
			wantStatus: http.StatusBadGateway, wantID: "null",
			wantReason: record.ReasonUpstreamUnavailable, wantText: `backend "search" unreachable`,
		},
		{
			name: "first byte timeout", backend: stalls, request: toolsCall,
			opts:       Options{FirstByteTimeout: 50 * time.Millisecond},
			wantStatus: http.StatusGatewayTimeout, wantID: "7",
			wantReason: record.ReasonUpstreamTimeout, wantText: `backend "search" timed out`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFront(t, newRelay(t, tc.backend(t), tc.opts))
			resp := post(t, f.URL, tc.request, nil)
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			e := decodeError(t, body)
			if string(e.ID) != tc.wantID || e.Error.Code != mcpwire.CodeGateway || e.Error.Message != tc.wantText {
				t.Errorf("error id %s code %d message %q; want id %s code %d message %q",
					e.ID, e.Error.Code, e.Error.Message, tc.wantID, mcpwire.CodeGateway, tc.wantText)
			}
			if rec := f.record(t); rec.Reason != tc.wantReason {
				t.Errorf("reason %q, want %q", rec.Reason, tc.wantReason)
			}
		})
	}
}

func TestGetStreamResumes(t *testing.T) {
	const stream = "id: 42\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"info\",\"data\":\"x\"}}\n\n"
	backend, got := recordingBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, stream)
	})
	f := newFront(t, newRelay(t, backend.URL, Options{}))
	req, _ := http.NewRequest(http.MethodGet, f.URL, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Last-Event-ID", "41")
	req.Header.Set("Mcp-Session-Id", "sess-1")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != stream {
		t.Errorf("body %q, want %q", body, stream)
	}
	s := <-got
	if s.method != http.MethodGet || s.header.Get("Last-Event-ID") != "41" || s.header.Get("Mcp-Session-Id") != "sess-1" {
		t.Errorf("backend got %s Last-Event-ID %q Mcp-Session-Id %q", s.method, s.header.Get("Last-Event-ID"), s.header.Get("Mcp-Session-Id"))
	}
	rec := f.record(t)
	if !rec.SSE || rec.StreamEvents != 1 || rec.Reason != "" {
		t.Errorf("record: sse %v events %d reason %q", rec.SSE, rec.StreamEvents, rec.Reason)
	}
}

func TestDelete(t *testing.T) {
	tests := []struct {
		name   string
		status int
	}{
		{"session ended", http.StatusNoContent},
		{"not supported", http.StatusMethodNotAllowed},
		{"unknown session", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			backend, got := recordingBackend(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
			})
			f := newFront(t, newRelay(t, backend.URL, Options{}))
			req, _ := http.NewRequest(http.MethodDelete, f.URL, nil)
			req.Header.Set("Mcp-Session-Id", "sess-1")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if s := <-got; s.method != http.MethodDelete || s.header.Get("Mcp-Session-Id") != "sess-1" {
				t.Errorf("backend got %s with session %q", s.method, s.header.Get("Mcp-Session-Id"))
			}
			if rec := f.record(t); rec.Reason != "" {
				t.Errorf("reason %q", rec.Reason)
			}
		})
	}
}

func TestServeWithoutRecord(t *testing.T) {
	// Outside the chain there is no record; the relay must still work.
	backend, _ := recordingBackend(t, answerJSON(`{"jsonrpc":"2.0","id":7,"result":{}}`))
	relay := newRelay(t, backend.URL, Options{})
	req := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(toolsCall))
	w := httptest.NewRecorder()
	relay.ServeHTTP(w, req)
	if w.Code != http.StatusOK || w.Body.String() != `{"jsonrpc":"2.0","id":7,"result":{}}` {
		t.Errorf("got %d %q", w.Code, w.Body)
	}
}

func TestNewRejectsBadURL(t *testing.T) {
	tests := []struct {
		name string
		url  string
	}{
		{"no URL", ""},
		{"ftp", "ftp://example.com/mcp"},
		{"relative", "/mcp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{Name: "b"}
			if tc.url != "" {
				u, err := http.NewRequest(http.MethodGet, tc.url, nil)
				if err != nil {
					t.Fatal(err)
				}
				opts.URL = u.URL
			}
			if _, err := New(opts); err == nil {
				t.Error("New accepted it")
			}
		})
	}
}
