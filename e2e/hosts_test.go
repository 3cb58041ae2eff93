package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestHostAndOrigin checks DNS-rebinding protection (issue 12 item 2) the
// same way in relay and aggregating mode, in front of Go SDK backends: a
// same-origin request on the loopback listener passes, and so does the
// name a TLS proxy on the same machine forwards (allowedHosts); a Host that
// is none of the gateway's names is refused 403 with a JSON-RPC error by
// the gateway itself, with or without a matching Origin.
func TestHostAndOrigin(t *testing.T) {
	t.Parallel()
	gob := startGoBackend(t)
	gob2 := startGoBackend(t)
	modes := []struct {
		name string
		spec backendSpec
	}{
		{"relay", httpBackend(gob.URL())},
		{"aggregate", backendSpec{kind: "aggregate", yaml: fmt.Sprintf(`
  - name: one
    url: %q
  - name: two
    url: %q
`, gob.URL(), gob2.URL())}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			g := startGateway(t, m.spec, gatewayOpts{extra: "allowedHosts: [mcp.example.com]\n"})
			u, err := url.Parse(g.Base)
			if err != nil {
				t.Fatal(err)
			}
			_, port, _ := net.SplitHostPort(u.Host)
			cases := []struct {
				name, host, origin string
				status             int
			}{
				{"same-origin on 127.0.0.1", "127.0.0.1:" + port, "http://127.0.0.1:" + port, 200},
				{"same-origin on localhost", "localhost:" + port, "http://localhost:" + port, 200},
				{"same-origin on [::1]", "[::1]:" + port, "http://[::1]:" + port, 200},
				{"the name a TLS proxy forwards, same-origin", "mcp.example.com", "https://mcp.example.com", 200},
				{"the name a TLS proxy forwards, no Origin", "mcp.example.com", "", 200},
				{"rebinding: foreign Host and matching Origin", "evil.example.com:" + port, "http://evil.example.com:" + port, 403},
				{"rebinding: foreign Host, no Origin", "evil.example.com:" + port, "", 403},
				{"loopback name on another port", "127.0.0.1:1", "", 403},
				{"cross-origin page", "127.0.0.1:" + port, "http://127.0.0.1:1", 403},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					h := http.Header{}
					h.Set("Content-Type", "application/json")
					h.Set("Accept", "application/json, text/event-stream")
					h.Set("Host", c.host)
					if c.origin != "" {
						h.Set("Origin", c.origin)
					}
					body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":%q,"capabilities":{},"clientInfo":{"name":"e2e-hosts","version":"1"}}}`, v0618)
					before := len(g.requests())
					r := hostileDo(t, http.MethodPost, g.URL, strings.NewReader(body), h)
					if r.status != c.status {
						t.Fatalf("status %d, want %d; body %s", r.status, c.status, tail(r.body, 300))
					}
					if c.status == 200 {
						if r.header.Get("Mcp-Session-Id") == "" {
							t.Errorf("initialize served without a session id: %s", tail(r.body, 300))
						}
						return
					}
					// The gateway's own answer, not a backend's or the SDK's.
					if code, msg, ok := r.rpcError(); !ok || code != -32600 {
						t.Errorf("body %s: want a JSON-RPC -32600 error (got %d %q)", tail(r.body, 300), code, msg)
					}
					l := g.waitRequestAfter(t, c.name, before, func(l logEntry) bool { return l.status() == r.status })
					if l != nil && l.str("reason") != "origin_rejected" {
						t.Errorf("logged reason %q (detail %q), want origin_rejected", l.str("reason"), l.str("detail"))
					}
				})
			}
		})
	}
}
