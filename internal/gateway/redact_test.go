package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/internal/config"
	"github.com/mcpgate/mcpgate/internal/record"
)

// TestResolvedSecretsRedacted: an aggregating gateway whose backends' URLs
// carry ?api_key=${env:K} and cannot be reached. gateway.New is given a
// plain logger: it must redact on its own, in the WARN lines of the failed
// connections, in the admin /readyz lastError and in a failed request's
// detail before the reporters read it.
func TestResolvedSecretsRedacted(t *testing.T) {
	const secret = "unit-secret-0123456789"
	src := `listen: 127.0.0.1:0
admin: {listen: "127.0.0.2:0"}
allowedHosts: [example.com] # the Host of httptest.NewRequest
auth: {mode: anonymous}
backends:
  - name: a
    url: "http://127.0.0.1:1/mcp?api_key=${env:K}"
  - name: b
    url: "http://127.0.0.1:1/other?api_key=${env:K}"
`
	cfg, err := config.Parse("mcpgate.yaml", []byte(src), config.Lookup{Getenv: func(n string) (string, bool) { return secret, n == "K" }})
	if err != nil {
		t.Fatal(err)
	}
	var logs logBuf
	g := newGateway(t, cfg, newLogger(&logs))

	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	req := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	w := httptest.NewRecorder()
	g.Handler().ServeHTTP(w, req)

	rz := httptest.NewRecorder()
	g.adminMux().ServeHTTP(rz, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	const ref = "api_key=${env:K}"
	if !strings.Contains(rz.Body.String(), `"lastError"`) || !strings.Contains(rz.Body.String(), ref) || strings.Contains(rz.Body.String(), secret) {
		t.Errorf("admin /readyz: want lastError quoting %s and never the secret: %s", ref, rz.Body)
	}
	logs.mu.Lock()
	out := logs.b.String()
	logs.mu.Unlock()
	if !strings.Contains(out, ref) || strings.Contains(out, secret) {
		t.Errorf("log: want the URL quoted with %s and never the secret:\n%s", ref, out)
	}

	quoted := `Post "http://127.0.0.1:1/mcp?api_key=` + secret + `": refused`
	rec := &record.Record{Detail: quoted}
	rec.NewOps(1)[0] = record.Op{Error: record.RPCError{Message: quoted, Valid: true}}
	g.reporters()[0].Report(context.Background(), rec)
	if strings.Contains(rec.Detail, secret) || !strings.Contains(rec.Detail, ref) {
		t.Errorf("the first reporter left the detail %q", rec.Detail)
	}
	if strings.Contains(rec.Ops[0].Error.Message, secret) || !strings.Contains(rec.Ops[0].Error.Message, ref) {
		t.Errorf("the first reporter left the op's error message %q", rec.Ops[0].Error.Message)
	}
}
