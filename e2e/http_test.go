package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestBackendUnreachable: a gateway whose HTTP backend is down answers
// initialize with 502 and a JSON-RPC error naming the backend, logs why, and
// keeps serving /healthz.
func TestBackendUnreachable(t *testing.T) {
	t.Parallel()
	dead := fmt.Sprintf("http://127.0.0.1:%d/mcp", freeClosedPort(t))
	cases := []struct {
		name string
		args func(t *testing.T) []string
	}{
		{"config file", func(t *testing.T) []string {
			return nil // startGateway below
		}},
		{"--upstream flag", func(t *testing.T) []string {
			// --admin on a free port: the default 127.0.0.1:9464 may be
			// held by another process.
			return []string{"serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--upstream", dead}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var g *gateway
			if args := c.args(t); args == nil {
				g = startGateway(t, httpBackend(dead), gatewayOpts{})
			} else {
				g = startGatewayArgs(t, args...)
			}
			body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e-raw","version":"1"}}}`
			for i := range 2 {
				resp := rawDo(t, http.MethodPost, g.URL, []byte(body), nil)
				if resp.status != http.StatusBadGateway {
					t.Fatalf("attempt %d: initialize with the backend down: status %d, want 502; body %s", i, resp.status, resp.body)
				}
				code, msg, ok := resp.rpcError()
				if !ok {
					t.Fatalf("502 body is not a JSON-RPC error: %s", resp.body)
				}
				if !strings.Contains(msg, "everything") && !strings.Contains(msg, "default") && !strings.Contains(msg, dead) {
					t.Errorf("502 error message %q does not name the backend", msg)
				}
				t.Logf("502 JSON-RPC error: code %d, message %q", code, msg)
			}
			g.waitRequest(t, "502 upstream_unavailable", func(e logEntry) bool {
				return e.status() == http.StatusBadGateway && e.str("reason") == "upstream_unavailable"
			})
			resp := rawDo(t, http.MethodGet, g.Base+"/healthz", nil, nil)
			if resp.status != http.StatusOK {
				t.Errorf("/healthz with the backend down: status %d", resp.status)
			}
		})
	}
}
