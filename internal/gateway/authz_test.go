package gateway

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestAuthzInTheChain: in enforce mode a denied tools/call reaches no
// backend and is answered 403; a permitted one is relayed; a reload with a
// broken file keeps the set in force, a good one replaces it.
func TestAuthzInTheChain(t *testing.T) {
	var calls atomic.Int32
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{"content":[]}}`))
	}))
	defer backend.Close()
	dir := t.TempDir()
	pol := filepath.Join(dir, "p.cedar")
	write := func(s string) {
		if err := os.WriteFile(pol, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`@id("anon-echo") permit (principal is mcpgate::Anonymous, action == mcpgate::Action::"tools/call", resource == mcpgate::Tool::"echo");`)
	cfg := upstreamConfig(t, backend.URL)
	cfg.Authz.Mode, cfg.Authz.Policies = "enforce", []string{pol}
	g := newGateway(t, cfg, nil)
	h := g.public.Handler
	call := func(tool string) int {
		body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + tool + `"}}`
		r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/json, text/event-stream")
		r.Header.Set("MCP-Protocol-Version", "2025-06-18")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	tests := []struct {
		name   string
		reload string // policy text to reload first; "" none
		broken bool
		tool   string
		status int
		calls  int32
	}{
		{"permitted", "", false, "echo", 200, 1},
		{"denied", "", false, "other", 403, 1},
		{"broken reload keeps the set", "permit (principal, action, resource", true, "echo", 200, 2},
		{"good reload replaces it", `@id("anon-other") permit (principal is mcpgate::Anonymous, action == mcpgate::Action::"tools/call", resource == mcpgate::Tool::"other");`, false, "echo", 403, 2},
		{"the new set permits", "", false, "other", 200, 3},
	}
	for _, tc := range tests {
		if tc.reload != "" {
			write(tc.reload)
			_, err := g.ReloadPolicies()
			if (err != nil) != tc.broken {
				t.Fatalf("%s: reload error %v", tc.name, err)
			}
			if err != nil && !strings.Contains(err.Error(), pol+":1:") {
				t.Errorf("%s: the error does not name file and line: %v", tc.name, err)
			}
		}
		if got := call(tc.tool); got != tc.status || calls.Load() != tc.calls {
			t.Fatalf("%s: status %d, backend calls %d; want %d, %d", tc.name, got, calls.Load(), tc.status, tc.calls)
		}
	}
}

func TestAggregatedBackendOf(t *testing.T) {
	cfg := upstreamConfig(t, "http://127.0.0.1:1/mcp")
	cfg.Backends = append(cfg.Backends, cfg.Backends[0], cfg.Backends[0])
	cfg.Backends[0].Name, cfg.Backends[1].Name, cfg.Backends[2].Name = "git", "git_hub", "files"
	cfg.Aggregate.Prefix, cfg.Aggregate.Separator = true, "_"
	tests := []struct {
		name, target, want string
		noPrefix           bool
	}{
		{"prefixed tool", "git_status", "git", false},
		{"longest prefix wins", "git_hub_issues", "git_hub", false},
		{"no backend", "other_tool", "", false},
		{"wrapped URI", "mcpgate://files/file:///a.md", "files", false},
		{"wrapped URI of no backend", "mcpgate://nope/x", "", false},
		{"plain URI", "file:///a.md", "", false},
		{"prefix off", "git_status", "", true},
		{"prefix off, wrapped URI", "mcpgate://git/x", "git", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := *cfg
			c.Aggregate.Prefix = !tc.noPrefix
			if got := aggregatedBackendOf(&c)(tc.target); got != tc.want {
				t.Errorf("backend of %q = %q, want %q", tc.target, got, tc.want)
			}
		})
	}
}
