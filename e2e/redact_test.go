package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/testidp"
)

// TestAggregateSecretsRedacted reproduces issue 13 item 10: an aggregating
// gateway with a backend that cannot be reached, whose URL carries
// ?api_key=${env:…}. Its start-up probe fails, then its connection in a
// client session fails; on 7934c03 both WARN lines and the admin /readyz
// lastError showed the resolved key (url.Error quotes the whole URL). Now
// they show the reference as written, and neither the log, /readyz nor the
// audit log holds the key. A second backend with the same reference in its
// URL is stopped under a session, so that a failed call's error quotes the
// URL too.
func TestAggregateSecretsRedacted(t *testing.T) {
	t.Parallel()
	gob := startGoBackend(t)
	secret := "e2e-agg-key-" + testidp.RandomString(12)
	sink := filepath.Join(t.TempDir(), "audit.jsonl")
	dead := freeClosedPort(t) // nothing listens there
	cfg := gatewayConfig{
		port:  freeClosedPort(t),
		admin: adminOn,
		extra: fmt.Sprintf("aggregate: {prefix: false}\naudit: {enabled: true, sink: %q}\n", sink),
		backends: []backendSpec{{kind: "http", yaml: fmt.Sprintf(`
  - name: gob
    url: "%s?api_key=${env:E2E_AGG_API_KEY}"
  - name: vault
    url: "http://127.0.0.1:%d/mcp?api_key=${env:E2E_AGG_API_KEY}"
    headers: {Authorization: "Bearer ${env:E2E_AGG_API_KEY}"}
`, gob.URL(), dead)}},
	}.String()
	g := startGatewayConfig(t, []string{"E2E_AGG_API_KEY=" + secret}, cfg)
	const ref = "api_key=${env:E2E_AGG_API_KEY}"

	// The start-up probe has failed by now ("mcpgate serving" comes after
	// it): its WARN line names the backend with the reference.
	if _, ok := g.Log.waitFor(10*time.Second, func(l string) bool {
		return strings.Contains(l, "vault") && strings.Contains(l, "could not be checked at start-up")
	}); !ok {
		t.Fatalf("no start-up probe warning for vault; log:\n%s", tail(g.Log.String(), 3000))
	}

	// A client session: vault's connection fails, gob's tools are served.
	sid := openSession(t, g.URL, 1, "e2e-redact", nil)
	res := postMCP(t, g.URL, sid, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, nil).result(t, "tools/list")
	if !strings.Contains(fmt.Sprint(res), "greet") {
		t.Errorf("tools/list without gob's greet: %v", res)
	}
	if _, ok := g.Log.waitFor(10*time.Second, func(l string) bool {
		return strings.Contains(l, "backend unavailable for a client session") && strings.Contains(l, "vault")
	}); !ok {
		t.Fatalf("no session warning for vault; log:\n%s", tail(g.Log.String(), 3000))
	}

	// gob dies under the session: the failed call's error (the SDK's
	// quotes gob's URL) is logged, and the call's record, span and audit
	// event are written.
	gob.stop()
	if r := postMCP(t, g.URL, sid, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"greet","arguments":{"name":"x"}}}`, nil); r.msg["error"] == nil {
		t.Errorf("tools/call greet with gob down: status %d, body %s; want a JSON-RPC error", r.status, r.body)
	}
	if _, ok := g.Log.waitFor(10*time.Second, func(l string) bool {
		return strings.Contains(l, "backend call failed") && strings.Contains(l, ref)
	}); !ok {
		t.Errorf("the failed call's warning does not quote gob's URL with the reference; log:\n%s", tail(g.Log.String(), 3000))
	}

	resp, err := http.Get(g.Admin + "/readyz")
	if err != nil {
		t.Fatalf("GET admin /readyz: %v", err)
	}
	readyz, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(readyz), `"lastError"`) || !strings.Contains(string(readyz), ref) {
		t.Errorf("admin /readyz has no lastError quoting the URL with the reference %s: %s", ref, readyz)
	}
	if strings.Contains(string(readyz), secret) {
		t.Errorf("admin /readyz shows the resolved api_key: %s", readyz)
	}

	if err := g.stop(); err != nil {
		t.Fatalf("mcpgate did not exit cleanly: %v", err)
	}
	log := g.Log.String()
	if !strings.Contains(log, ref) {
		t.Errorf("the log never quotes the URL with the reference %s (the redacted paths were not exercised):\n%s", ref, tail(log, 3000))
	}
	if strings.Contains(log, secret) {
		t.Errorf("the log shows the resolved api_key:\n%s", tail(log, 3000))
	}
	audit, err := os.ReadFile(sink)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(audit), secret) {
		t.Errorf("the audit log shows the resolved api_key:\n%s", tail(string(audit), 3000))
	}
}
