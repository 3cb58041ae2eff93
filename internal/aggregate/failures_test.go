package aggregate

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/observe"
	"github.com/mcpgate/mcpgate/internal/record"
)

// recordingFront serves agg as front does, keeping every request's record.
func recordingFront(t *testing.T, agg *Aggregator) (url string, calls func(tool string) []*record.Record) {
	t.Helper()
	var mu sync.Mutex
	var recs []*record.Record
	keep := observe.ReporterFunc(func(_ context.Context, rec *record.Record) {
		mu.Lock()
		recs = append(recs, rec)
		mu.Unlock()
	})
	authn := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			record.FromContext(r.Context()).Identity = &identity.Identity{Subject: "alice", Issuer: "urn:test"}
			next.ServeHTTP(w, r)
		})
	}
	srv := httptest.NewServer(observe.New(nil, keep)(inspect.New(inspect.Options{})(authn(agg))))
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = agg.Close(ctx)
	})
	return srv.URL, func(tool string) []*record.Record {
		mu.Lock()
		defer mu.Unlock()
		var out []*record.Record
		for _, rec := range recs {
			if len(rec.Ops) == 1 && rec.Ops[0].Method == "tools/call" && rec.Ops[0].Name == tool {
				out = append(out, rec)
			}
		}
		return out
	}
}

// TestGatewayFailureRecorded: the gateway's error for a backend that
// failed reaches the client as the JSON-RPC error naming the backend and
// the request's record as a typed reason and the backend — on the SDK path
// (the failure happens on the SDK's goroutine) and on the fast path.
func TestGatewayFailureRecorded(t *testing.T) {
	tests := []struct {
		name string
		fast bool
	}{
		{"SDK path", false},
		{"fast path", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestBackend(t, "a", []string{"echo"}, nil)
			b := newTestBackend(t, "b", []string{"echo"}, nil)
			agg := newAggregator(t, Options{Backends: []Backend{a.backend(t), b.backend(t)}, ConnectTimeout: 2 * time.Second})
			url, calls := recordingFront(t, agg)
			cs := clientSessionPath(t, url, tc.fast, nil)
			if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "b_echo", Arguments: map[string]any{}}); err != nil {
				t.Fatalf("first call: %v", err)
			}
			b.srv.CloseClientConnections()
			b.srv.Close()
			_, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "b_echo", Arguments: map[string]any{}})
			if err == nil || !strings.Contains(err.Error(), `backend "b" is unavailable`) {
				t.Fatalf("call to the failed backend: %v, want the gateway's error naming it", err)
			}
			var rec *record.Record
			for range 100 { // the reporter runs as the response ends
				if rs := calls("b_echo"); len(rs) == 2 {
					rec = rs[1]
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if rec == nil {
				t.Fatal("no record of the failed call")
			}
			op := rec.Ops[0]
			if rec.Reason != record.ReasonUpstreamUnavailable || rec.Backend != "b" ||
				!op.Error.Valid || op.Error.Code != -32000 || op.Error.Message != `backend "b" is unavailable` {
				t.Errorf("record reason %q backend %q op %+v: want upstream_unavailable against b, answered with the gateway's error", rec.Reason, rec.Backend, op)
			}
			if o := rec.OpOutcome(&rec.Ops[0]); o.Reason != record.ReasonUpstreamUnavailable || o.Class != record.ClassFailure {
				t.Errorf("outcome %+v: want the reason, a failure", o)
			}
		})
	}
}
