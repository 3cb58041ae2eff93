package gateway

import (
	"log/slog"
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
