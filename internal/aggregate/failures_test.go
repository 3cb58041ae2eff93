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
			// The reporter runs once the response has ended, which can be
			// after the client has read it: wait for the first call's
			// record, so that the second record is the failed call's.
			waitRecords(t, calls, "b_echo", 1)
			b.srv.CloseClientConnections()
			b.srv.Close()
			_, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "b_echo", Arguments: map[string]any{}})
			if err == nil || !strings.Contains(err.Error(), `backend "b" is unavailable`) {
				t.Fatalf("call to the failed backend: %v, want the gateway's error naming it", err)
			}
			rec := waitRecords(t, calls, "b_echo", 2)[1]
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

// waitRecords waits for n records of calls to tool and returns them.
func waitRecords(t *testing.T, calls func(string) []*record.Record, tool string, n int) []*record.Record {
	t.Helper()
	for range 200 {
		if rs := calls(tool); len(rs) >= n {
			return rs
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d records of %s calls, want %d", len(calls(tool)), tool, n)
	return nil
}
