package audit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcpgate/mcpgate/internal/audit"
	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/observe"
	"github.com/mcpgate/mcpgate/internal/record"
)

// Example wires the audit log the way the gateway does: the reporter on
// observe, Guard and Capture as stages before the relay, Reopen on SIGHUP
// and Close on shutdown.
func Example() {
	dir, _ := os.MkdirTemp("", "audit")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "audit.jsonl")

	l, err := audit.New(audit.Options{Sink: path, FailClosed: true})
	if err != nil {
		panic(err)
	}
	rep, err := l.Reporter(audit.ReportOptions{Principal: audit.PrincipalRaw})
	if err != nil {
		panic(err)
	}
	relay := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// authn and inspect would have filled the record.
		rec := record.FromContext(r.Context())
		rec.Identity = &identity.Identity{Subject: "alice", Issuer: "https://idp.example.com", Method: identity.MethodOIDC}
		rec.Ops = []record.Op{{Kind: record.OpRequest, Method: "tools/call", ID: "1", Name: "search", Answered: true}}
		w.WriteHeader(http.StatusOK)
	})
	h := observe.New(nil, rep)(l.Guard()(rep.Capture()(relay)))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/mcp", strings.NewReader("{}")))

	_ = l.Reopen() // on SIGHUP
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = l.Close(ctx) // on shutdown

	data, _ := os.ReadFile(path)
	line := string(data)
	fmt.Println(strings.Contains(line, `"event":"tool_call","outcome":"success","principal":{"subject":"alice"`))
	// Output: true
}
