package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The session-binding tests of issue 13 item 3: with auth.mode [apiKey,
// anonymous] in front of server-everything over Streamable HTTP (whose
// sessions outlive anything the gateway forgets), an anonymous caller must
// never get into a session an API-key principal created — not once the
// binding idled out, not after a gateway restart — and an open GET stream
// keeps the binding alive.

// sessIdle is sessions.idleTimeout of these gateways: short, so that a
// binding expires within the test.
const sessIdle = 2 * time.Second

// startMixedGateway starts mcpgate with the given auth.mode in front of the
// HTTP backend at url, with key as its one API key (unused when mode has no
// apiKey).
func startMixedGateway(t *testing.T, mode string, key apiKey, url string) *authGateway {
	t.Helper()
	cfg := gatewayConfig{
		port:     freeClosedPort(t),
		extra:    fmt.Sprintf("sessions: {idleTimeout: %s}\n", sessIdle),
		backends: []backendSpec{httpBackend(url)},
	}
	if mode != "anonymous" {
		cfg.auth = fmt.Sprintf("\n  mode: %s\n  resource: %s\n  apiKeys:\n    %s", mode, cfg.resource(), key.Entry)
	}
	return &authGateway{gateway: startGatewayConfig(t, nil, cfg.String()), Resource: cfg.resource()}
}

// stopGateway ends g with SIGTERM and waits until its port is closed, as a
// restart would; the harness's cleanup then finds it exited.
func stopGateway(t *testing.T, g *authGateway) {
	t.Helper()
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(g.Base, "http://")
	eventually(t, 15*time.Second, "the gateway's port closes", func() bool {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
}

// expectSessionNotFound asserts that the gateway itself refused r as an
// unknown session: 404 with -32001 (a backend's 404 would not carry it the
// same way, and a 200 means the caller got in).
func expectSessionNotFound(t *testing.T, what string, r reply) {
	t.Helper()
	if r.status != http.StatusNotFound || !strings.Contains(string(r.body), "-32001") {
		t.Errorf("%s: status %d, body %s; want 404 session not found", what, r.status, r.body)
	}
}

// openStream opens a GET stream on sid with headers and returns once its
// headers arrived; stop ends it.
func openStream(t *testing.T, g *authGateway, sid string, headers map[string]string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	req.Header.Set("Mcp-Session-Id", sid)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET stream: %v", err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body.Close()
		cancel()
		t.Fatalf("GET stream: %d %q, want 200 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return func() { cancel(); resp.Body.Close() }
}

func TestAuthSessionsMixedAnonymous(t *testing.T) {
	t.Parallel()
	backend := startEverythingHTTP(t)
	keyA := newAPIKey(t, "mixed-a")
	a := map[string]string{"X-API-Key": keyA.Key}
	g := startMixedGateway(t, "[apiKey, anonymous]", keyA, backend)

	t.Run("an open GET stream keeps the binding", func(t *testing.T) {
		sid := g.initSession(t, a)
		stop := openStream(t, g, sid, a)
		time.Sleep(sessIdle + time.Second) // idle but for the stream
		if r := g.ping(t, sid, a); !isResult(r) {
			t.Errorf("A's ping with its stream open past the idle timeout: status %d, body %s; want a result", r.status, r.body)
		}
		expectSessionNotFound(t, "anonymous ping on A's streaming session", g.ping(t, sid, nil))
		stop()
	})

	t.Run("an idled-out binding is nobody's", func(t *testing.T) {
		sid := g.initSession(t, a)
		time.Sleep(sessIdle + time.Second)
		// The backend still has the session: only the gateway stands
		// between the anonymous caller and A's session.
		expectSessionNotFound(t, "anonymous ping on A's idled-out session", g.ping(t, sid, nil))
		expectSessionNotFound(t, "A's ping on its idled-out session", g.ping(t, sid, a))
	})

	t.Run("after a restart old ids fail closed", func(t *testing.T) {
		sid := g.initSession(t, a)
		stopGateway(t, g)
		g2 := startMixedGateway(t, "[apiKey, anonymous]", keyA, backend)
		expectSessionNotFound(t, "anonymous ping with A's id after a restart", g2.ping(t, sid, nil))
		expectSessionNotFound(t, "A's ping with its id after a restart", g2.ping(t, sid, a))
		g2.waitRequest(t, "the refused anonymous ping", func(e logEntry) bool {
			return e.str("reason") == "session_not_found" && e.str("mcp.method") == "ping"
		})
	})

	t.Run("anonymous only: the gateway stays transparent", func(t *testing.T) {
		anon := startMixedGateway(t, "anonymous", keyA, backend)
		sid := anon.initSession(t, nil)
		restarted := startMixedGateway(t, "anonymous", keyA, backend)
		// The new gateway does not know the id; the backend does, and
		// without credentials the id is the only capability there is.
		if r := restarted.ping(t, sid, nil); !isResult(r) {
			t.Errorf("anonymous-only gateway, id from another instance: status %d, body %s; want it passed to the backend", r.status, r.body)
		}
	})
}
