//lint:file-ignore SA1019 sampling is deprecated as of 2026-07-28, but server-everything (2025-11-25) uses it and the gateway must relay it.

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestReplicasAggregate: the Go SDK flow through three aggregating
// replicas over two HTTP backends (server-everything and a Go SDK server).
// A replica that does not hold the session adopts it from its token
// (sessionseal.Session's Backends: each backend's session id, no new
// initialize).
//
// Round robin without stickiness, every request of the session may land
// on any replica, a backend's request to the client (sampling) included:
// the client's answer may reach another replica than the one that relayed
// the request, which sends it to the backend by the route in its id
// (docs/aggregation.md, "Sessions across replicas"). The flow also passes
// with affinity (HAProxy sticking on the Mcp-Session-Id, the same snippet
// as for stdio backends).
func TestReplicasAggregate(t *testing.T) {
	t.Parallel()
	haproxyBin(t)
	web := startEverythingHTTP(t)
	gob := startGoBackend(t)
	f := newReplicaFixture(t, 3, backendSpec{kind: "aggregate", yaml: fmt.Sprintf(`
  - name: web
    url: %q
  - name: gob
    url: %q
`, web, gob.URL())})
	f.startAll(t, "k1")

	t.Run("round robin", func(t *testing.T) {
		f.ha = startHAProxy(t, f.rs, haproxyOpts{port: f.haPort})
		before := f.rs.served()
		sid := aggregateFlow(t, f, true)
		f.requireSpread(t, sid, before)
		f.ha.halt()
	})
	t.Run("with affinity", func(t *testing.T) {
		f.ha = startHAProxy(t, f.rs, haproxyOpts{port: f.haPort, backend: stdioAffinity})
		aggregateFlow(t, f, true)
	})
}

// aggregateFlow runs the Go SDK flow through f's HAProxy as principal A,
// with the sampling step when sampling is set, ends the session and
// returns its id.
func aggregateFlow(t *testing.T, f *replicaFixture, sampling bool) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	c := newGoClient("mcpgate-e2e-replicas-aggregate")
	cs := connectAs(ctx, t, c, f.ha.URL(), f.a)
	sid := cs.ID()
	requireSealed(t, sid, "k1")

	// The capability-dependent tools appear after notifications/initialized.
	want := []string{"web_echo", "gob_greet", "web_trigger-sampling-request", "web_trigger-long-running-operation"}
	waitTools(ctx, t, cs, want...)
	if got := callText(ctx, t, cs, &mcp.CallToolParams{Name: "web_echo", Arguments: map[string]any{"message": "across replicas"}}); got != "Echo: across replicas" {
		t.Errorf("web_echo = %q", got)
	}
	if got := callText(ctx, t, cs, &mcp.CallToolParams{Name: "gob_greet", Arguments: map[string]any{"name": "ada"}}); !strings.Contains(got, goBackendGreeting+", ada") {
		t.Errorf("gob_greet = %q", got)
	}
	token := "replicas-aggregate-progress"
	p := &mcp.CallToolParams{Name: "web_trigger-long-running-operation", Arguments: map[string]any{"duration": 1, "steps": 3}}
	p.SetProgressToken(token)
	callText(ctx, t, cs, p)
	if n := c.progressFor(token); n < 2 {
		t.Errorf("%d progress notifications with token %q, want ≥ 2", n, token)
	}
	if sampling {
		got := callText(ctx, t, cs, &mcp.CallToolParams{Name: "web_trigger-sampling-request", Arguments: map[string]any{"prompt": "say hi", "maxTokens": 20}})
		if !strings.Contains(got, sampledText) || c.sampling.Load() == 0 {
			t.Errorf("web_trigger-sampling-request = %q (sampling requests seen: %d)", got, c.sampling.Load())
		}
	}
	rl, err := cs.ListResources(ctx, nil)
	if err != nil || len(rl.Resources) == 0 {
		t.Fatalf("resources/list: %v, %d resources", err, len(rl.Resources))
	}
	if rr, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: rl.Resources[0].URI}); err != nil || len(rr.Contents) == 0 {
		t.Errorf("resources/read %s: %v", rl.Resources[0].URI, err)
	}
	if pg, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "web_simple-prompt"}); err != nil || len(pg.Messages) == 0 {
		t.Errorf("prompts/get web_simple-prompt: %v", err)
	}
	if err := cs.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	return sid
}
