package guard

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/record"
)

// TestHostAndSameOrigin: DNS-rebinding protection (issue 12 item 2). The
// Host must be one of the gateway's names; a same-origin request of an
// allowed Host passes without a CORS rule; a cross-origin one needs
// cors.allowedOrigins, as before.
func TestHostAndSameOrigin(t *testing.T) {
	// The defaults of a loopback listener on 127.0.0.1:8080 with
	// auth.resource https://mcp.example.com/mcp and allowedHosts
	// [proxy.example.com:8443].
	hosts := &HostPolicy{
		Hosts:      []string{"proxy.example.com:8443", "mcp.example.com"},
		LocalNames: LoopbackNames,
	}
	withCORS := OriginPolicy{AllowedOrigins: []string{"https://app.example.com"}, Hosts: hosts}
	noCORS := OriginPolicy{Hosts: hosts}
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	tests := []struct {
		name   string
		policy OriginPolicy
		host   string
		origin string
		tls    bool
		local  net.Addr // the connection's local address; nil = none known
		status int      // 418: passed on
		cors   bool     // Access-Control-Allow-Origin sent
	}{
		// Same-origin on the loopback listener: refused 403 before.
		{name: "same-origin 127.0.0.1", policy: noCORS, host: "127.0.0.1:8080", origin: "http://127.0.0.1:8080", local: local, status: 418},
		{name: "same-origin localhost", policy: noCORS, host: "localhost:8080", origin: "http://localhost:8080", local: local, status: 418},
		{name: "same-origin [::1]", policy: noCORS, host: "[::1]:8080", origin: "http://[::1]:8080", local: local, status: 418},
		{name: "same-origin, other case", policy: noCORS, host: "LOCALHOST:8080", origin: "http://localhost:8080", local: local, status: 418},
		{name: "same-origin https page behind a TLS proxy", policy: noCORS, host: "mcp.example.com", origin: "https://mcp.example.com", local: local, status: 418},
		{name: "same-origin public name with port", policy: noCORS, host: "proxy.example.com:8443", origin: "https://proxy.example.com:8443", local: local, status: 418},
		{name: "no Origin, loopback Host", policy: noCORS, host: "127.0.0.1:8080", local: local, status: 418},
		{name: "no Origin, trailing-dot name", policy: noCORS, host: "localhost.:8080", local: local, status: 418},
		{name: "allowed cross-origin", policy: withCORS, host: "127.0.0.1:8080", origin: "https://app.example.com", local: local, status: 418, cors: true},
		{name: "in process, no local address", policy: noCORS, host: "localhost:1234", status: 418},

		// The rebinding attack: the attacker's name as Host, a matching Origin.
		{name: "rebinding: foreign Host and matching Origin", policy: withCORS, host: "evil.example.com:8080", origin: "http://evil.example.com:8080", local: local, status: 403},
		{name: "rebinding: foreign Host without Origin", policy: noCORS, host: "evil.example.com:8080", local: local, status: 403},
		{name: "foreign Host without a port", policy: noCORS, host: "evil.example.com", local: local, status: 403},
		{name: "loopback name on another port", policy: noCORS, host: "127.0.0.1:9999", local: local, status: 403},
		{name: "loopback name without a port (80) on 8080", policy: noCORS, host: "localhost", local: local, status: 403},
		{name: "public name on a port not allowed", policy: noCORS, host: "proxy.example.com:9000", local: local, status: 403},
		{name: "empty Host", policy: noCORS, host: "", local: local, status: 403},
		{name: "bare IPv6 Host", policy: noCORS, host: "::1", local: local, status: 403},
		{name: "suffix of an allowed name", policy: noCORS, host: "evilmcp.example.com", local: local, status: 403},

		// Origins that are not the request's own.
		{name: "cross-origin: another local port", policy: noCORS, host: "127.0.0.1:8080", origin: "http://127.0.0.1:9999", local: local, status: 403},
		{name: "cross-origin: other loopback name", policy: noCORS, host: "127.0.0.1:8080", origin: "http://localhost:8080", local: local, status: 403},
		{name: "cross-origin: http page on a TLS listener", policy: noCORS, host: "mcp.example.com", origin: "http://mcp.example.com", tls: true, local: local, status: 403},
		{name: "cross-origin: null", policy: noCORS, host: "127.0.0.1:8080", origin: "null", local: local, status: 403},
		{name: "cross-origin: not allowed by CORS", policy: withCORS, host: "127.0.0.1:8080", origin: "https://evil.example", local: local, status: 403},
		{name: "cross-origin: origin with a path", policy: noCORS, host: "127.0.0.1:8080", origin: "http://127.0.0.1:8080/x", local: local, status: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			req.Host = tt.host
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			if tt.tls {
				req.TLS = &tls.ConnectionState{}
			}
			if tt.local != nil {
				req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, tt.local))
			}
			w, rec := serve(Origin(tt.policy)(ok), req)
			if tt.status == http.StatusForbidden {
				checkRPCError(t, w, http.StatusForbidden, jsonrpc.CodeInvalidRequest)
				if rec.Reason != record.ReasonOriginRejected {
					t.Errorf("reason %q, want %s", rec.Reason, record.ReasonOriginRejected)
				}
				return
			}
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			if got := w.Header().Get("Access-Control-Allow-Origin") != ""; got != tt.cors {
				t.Errorf("Access-Control-Allow-Origin sent: %v, want %v", got, tt.cors)
			}
		})
	}
}

// TestNoHostPolicyKeepsOriginRules: without a HostPolicy (allowedHosts
// "*") the Host is not checked, and no Origin passes as same-origin: a
// rebinding page's Host and Origin agree, so only cors.allowedOrigins may
// admit a browser.
func TestNoHostPolicyKeepsOriginRules(t *testing.T) {
	req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	req.Host = "evil.example.com:8080"
	if w, _ := serve(Origin(OriginPolicy{})(ok), req); w.Code != http.StatusTeapot {
		t.Errorf("no Origin: status %d, want passed on", w.Code)
	}
	req.Header.Set("Origin", "http://evil.example.com:8080")
	w, _ := serve(Origin(OriginPolicy{})(ok), req)
	checkRPCError(t, w, http.StatusForbidden, jsonrpc.CodeInvalidRequest)
}

func TestLocalPortFromListener(t *testing.T) {
	// Over a real listener the local address is the connection's: a
	// loopback Host at the listener's port passes, another port does not.
	h := Origin(OriginPolicy{Hosts: &HostPolicy{LocalNames: LoopbackNames}})(ok)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(record.NewContext(r.Context(), &record.Record{})))
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for host, want := range map[string]int{"127.0.0.1:" + port: 418, "localhost:" + port: 418, "127.0.0.1:1": 403, "rebind.example:" + port: 403} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/mcp", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: status %d, want %d", host, resp.StatusCode, want)
		}
	}
}

// FuzzHost: the Host and Origin parsers never panic, and what splitHost
// returns reassembles into its input.
func FuzzHost(f *testing.F) {
	for _, s := range []string{"127.0.0.1:8080", "[::1]:8080", "[::1]", "localhost", "::1", "[", "[::1]x", "a:", ":1", "EVIL.example.com:80"} {
		f.Add(s, "http://"+s)
	}
	p := &HostPolicy{Hosts: []string{"mcp.example.com", "proxy.example.com:8443"}, LocalNames: LoopbackNames}
	f.Fuzz(func(t *testing.T, host, origin string) {
		if h, port, ok := splitHost(host); ok {
			joined := h
			if port != "" {
				joined += ":" + port
			}
			if h == "" || joined != strings.ToLower(host) {
				t.Errorf("splitHost(%q) = %q, %q", host, h, port)
			}
		}
		req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
		req.Host = host
		p.allowed(req)
		if sameOrigin(origin, req) {
			oh, _, _ := splitHost(strings.SplitN(strings.ToLower(origin), "://", 2)[1])
			rh, _, _ := splitHost(host)
			if oh != rh {
				t.Errorf("sameOrigin(%q) for Host %q", origin, host)
			}
		}
	})
}
