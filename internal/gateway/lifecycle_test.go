package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/config"
)

// TestNewReleasesOnFailure: when a late step of New fails (here the
// public listener's certificate, read last), what earlier steps started —
// the stdio relay's janitor, the aggregator's reaper, the identity
// provider's key refresh, telemetry — is stopped again: the goroutine
// count settles back to where it was. (Issue 14: they kept running.)
func TestNewReleasesOnFailure(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.pem")
	head := "listen: 127.0.0.1:0\nadmin: {listen: \"\"}\n" +
		"tls: {certFile: " + missing + ", keyFile: " + missing + "}\n"
	anonymous := "auth: {mode: anonymous, allowAnonymousOnPublicListener: true}\n"
	// Nothing listens on port 1: the key fetch fails and keeps retrying
	// in the background until the authenticator is closed.
	oidc := "auth:\n  mode: oidc\n  resource: https://mcp.example.com/mcp\n" +
		"  oidc: {issuer: \"http://127.0.0.1:1\", audience: mcp, jwksURL: \"http://127.0.0.1:1/jwks\"}\n"
	tests := []struct {
		name, yaml string
	}{
		{"stdio relay", head + "backends:\n  - {name: a, command: [/bin/cat]}\n" + anonymous},
		{"shared stdio relay", head + "backends:\n  - {name: a, command: [/bin/cat], isolation: shared}\n" + anonymous},
		{"http relay with oidc", head + "backends:\n  - {name: a, url: \"http://127.0.0.1:1/mcp\"}\n" + oidc},
		{"aggregator", head + "backends:\n  - {name: a, command: [/bin/cat]}\n  - {name: b, url: \"http://127.0.0.1:1/mcp\"}\n" + anonymous},
		{"aggregator with oidc", head + "backends:\n  - {name: a, command: [/bin/cat]}\n  - {name: b, url: \"http://127.0.0.1:1/mcp\"}\n" + oidc},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse("mcpgate.yaml", []byte(tc.yaml), config.Lookup{})
			if err != nil {
				t.Fatal(err)
			}
			before := runtime.NumGoroutine()
			g, err := New(cfg, slog.New(slog.DiscardHandler))
			if err == nil {
				g.shutdown()
				t.Fatal("New succeeded with a missing certificate")
			}
			if !strings.Contains(err.Error(), "missing.pem") {
				t.Fatalf("New failed at another step than the certificate: %v", err)
			}
			settled(t, before)
		})
	}
}

// settled waits for the goroutine count to come back to at most n, and
// fails with every goroutine's stack if it does not.
func settled(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, %d before New: still running:\n%s", runtime.NumGoroutine(), n, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAdminReadyzBackends: the admin /readyz lists what the backend
// reports through Status, in either mode, and agrees with the public one.
func TestAdminReadyzBackends(t *testing.T) {
	stdio, err := config.ForCommand("127.0.0.1:0", []string{"/bin/cat"})
	if err != nil {
		t.Fatal(err)
	}
	stdio.Admin.Listen = "127.0.0.1:0"
	two, err := config.Parse("mcpgate.yaml", []byte("listen: 127.0.0.1:0\nadmin: {listen: \"127.0.0.1:0\"}\n"+
		"backends:\n  - {name: a, command: [/bin/cat]}\n  - {name: b, url: \"http://127.0.0.1:1/mcp\"}\n"+
		"auth: {mode: anonymous}\n"), config.Lookup{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		cfg      *config.Config
		mode     string
		backends string
	}{
		{"relay", upstreamConfig(t, "http://127.0.0.1:1/mcp"), "relay", `[{"kind":"http","name":"default"}]`},
		{"stdio relay", stdio, "relay", `[{"kind":"stdio","name":"default","sessions":0}]`},
		{"aggregate", two, "aggregate", `[{"kind":"stdio","name":"a","sessions":0},{"kind":"http","name":"b","sessions":0}]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newGateway(t, tc.cfg, nil)
			w := httptest.NewRecorder()
			g.adminMux().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			var detail struct {
				Mode     string
				Backends []map[string]any
			}
			if err := json.Unmarshal(w.Body.Bytes(), &detail); err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(detail.Backends)
			if w.Code != http.StatusOK || detail.Mode != tc.mode || string(got) != tc.backends {
				t.Fatalf("admin /readyz %d, mode %q, backends %s; want 200, %q, %s", w.Code, detail.Mode, got, tc.mode, tc.backends)
			}
			g.draining.Store(true)
			for _, h := range []http.Handler{g.Handler(), g.adminMux()} {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
				if w.Code != http.StatusServiceUnavailable {
					t.Fatalf("/readyz while draining: %d %s", w.Code, w.Body)
				}
			}
		})
	}
}

// TestRunReleasesOnListenFailure: when Run cannot bind a listener, what
// New started is stopped before it returns.
func TestRunReleasesOnListenFailure(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	tests := []struct {
		name          string
		listen, admin string
	}{
		{"public", taken.Addr().String(), "127.0.0.1:0"},
		{"admin", "127.0.0.1:0", taken.Addr().String()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.ForCommand(tc.listen, []string{"/bin/cat"})
			if err != nil {
				t.Fatal(err)
			}
			cfg.Admin.Listen = tc.admin
			before := runtime.NumGoroutine()
			g, err := New(cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Run(context.Background(), nil); err == nil || !strings.Contains(err.Error(), tc.name+" listener") {
				t.Fatalf("Run = %v, want a %s listener error", err, tc.name)
			}
			settled(t, before)
		})
	}
}

// TestDrainDelayKeepsAccepting: with timeouts.drainDelay, /readyz answers
// 503 from the signal on while requests are still accepted for the delay,
// then the listener closes.
func TestDrainDelayKeepsAccepting(t *testing.T) {
	cfg := upstreamConfig(t, "http://127.0.0.1:1/mcp")
	cfg.Admin.Listen = ""
	cfg.Timeouts.Shutdown = 10 * time.Second
	cfg.Timeouts.DrainDelay = time.Second
	g := newGateway(t, cfg, nil)
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx, func(public, _ net.Addr) { addr <- public }) }()
	url := "http://" + (<-addr).String()
	cancel()
	// Within the delay: not ready, still serving.
	deadline := time.Now().Add(wait)
	for !g.draining.Load() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatalf("during the drain delay the listener is closed: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz during the drain delay: %d, want 503", resp.StatusCode)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Fatal("the listener still accepts after the drain")
	}
}
