package aggregate

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/observe"
	"github.com/mcpgate/mcpgate/internal/record"
)

// recorded keeps the records of the requests a front served, for tests
// that check what the fast path noted on them.
type recorded struct {
	mu   sync.Mutex
	recs []*record.Record
}

func (r *recorded) Report(_ context.Context, rec *record.Record) {
	r.mu.Lock()
	r.recs = append(r.recs, rec)
	r.mu.Unlock()
}

// last returns the last record of a request with the method.
func (r *recorded) last(method string) *record.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.recs) - 1; i >= 0; i-- {
		if rec := r.recs[i]; len(rec.Ops) == 1 && rec.Ops[0].Method == method {
			return rec
		}
	}
	return nil
}

// frontRecorded serves agg behind observe (reporting to rep) and inspect.
func frontRecorded(t *testing.T, agg *Aggregator, rep observe.Reporter) string {
	t.Helper()
	srv := httptest.NewServer(observe.New(nil, rep)(inspect.New(inspect.Options{})(agg)))
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = agg.Close(ctx)
	})
	return srv.URL
}

// TestFastPathStatelessBackend: a tools/call to a stateless backend (the
// Go SDK's Stateless: true, which assigns no Mcp-Session-Id) takes the fast
// path as one to a session backend does — no SDK client request reaches
// the backend, which sees the gateway's own id and the tool's own name and
// no session id — with the client's id in the answer and the outcome on
// the record, as JSON or as an event stream. Before, every call to such a
// backend took the SDK path.
func TestFastPathStatelessBackend(t *testing.T) {
	for _, k := range backendKinds {
		for _, sse := range []bool{false, true} {
			name := k.name + "/json"
			if sse {
				name = k.name + "/sse"
			}
			t.Run(name, func(t *testing.T) {
				b := newTestBackendKind(t, "b", []string{"echo"}, nil, sse, k.stateless)
				other := newTestBackendKind(t, "o", []string{"echo"}, nil, false, k.stateless)
				agg := newAggregator(t, Options{Backends: []Backend{b.backend(t), other.backend(t)}})
				rep := &recorded{}
				url := frontRecorded(t, agg, rep)
				sid := rawInit(t, url, true)

				for i, id := range []string{`7`, `"req-8"`} {
					ans := rawCall(t, url, sid, `{"jsonrpc":"2.0","id":`+id+`,"method":"tools/call","params":{"name":"b_echo","arguments":{}}}`)
					if !strings.Contains(ans, `"id":`+id) || !strings.Contains(ans, "b:echo") {
						t.Errorf("call %d answered %s, want id %s and b's echo", i, ans, id)
					}
				}
				b.mu.Lock()
				bodies, hdrs := b.bodies, b.hdrs
				b.mu.Unlock()
				if len(bodies) != 2 {
					t.Fatalf("backend got %d tools/call, want 2: %q", len(bodies), bodies)
				}
				for i, body := range bodies {
					if !strings.Contains(body, `"id":"mcpgate-`) || !strings.Contains(body, `"name":"echo"`) {
						t.Errorf("backend's tools/call %d is %s, want the gateway's id and the own name (the fast path)", i, body)
					}
					if sid := hdrs[i].Get(mcpwire.HeaderSessionID); (sid == "") != k.stateless {
						t.Errorf("tools/call %d: Mcp-Session-Id %q to a stateless=%v backend", i, sid, k.stateless)
					}
					if v := hdrs[i].Get(mcpwire.HeaderProtocolVersion); v != "2025-11-25" {
						t.Errorf("tools/call %d: MCP-Protocol-Version %q, want the backend session's 2025-11-25", i, v)
					}
				}
				rec := rep.last("tools/call")
				if rec == nil {
					t.Fatal("no record of the call")
				}
				if op := rec.Ops[0]; rec.Backend != "b" || !op.Answered || op.ToolError || rec.Reason != "" || rec.SSE != sse {
					t.Errorf("record: backend %q answered %v toolError %v reason %q sse %v; want b, answered, no error, sse %v",
						rec.Backend, op.Answered, op.ToolError, rec.Reason, rec.SSE, sse)
				}
			})
		}
	}
}

// TestFastPathBackendGone: when the backend of a fast call cannot be
// reached, the client gets the gateway's error under its own id, the
// record the upstream reason naming the backend, and the backend leaves
// the session — for a stateless backend as for a session one.
func TestFastPathBackendGone(t *testing.T) {
	for _, k := range backendKinds {
		t.Run(k.name, func(t *testing.T) {
			b := newTestBackendKind(t, "b", []string{"echo"}, nil, false, k.stateless)
			other := newTestBackendKind(t, "o", []string{"echo"}, nil, false, k.stateless)
			agg := newAggregator(t, Options{Backends: []Backend{b.backend(t), other.backend(t)}})
			rep := &recorded{}
			url := frontRecorded(t, agg, rep)
			sid := rawInit(t, url, true)
			rawCall(t, url, sid, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"b_echo","arguments":{}}}`)
			if !b.usedFast() {
				t.Fatal("the first call did not take the fast path")
			}
			b.srv.CloseClientConnections()
			b.srv.Close()

			resp := rawPostMCP(t, url, sid, `{"jsonrpc":"2.0","id":"after","method":"tools/call","params":{"name":"b_echo","arguments":{}}}`)
			raw, _ := io.ReadAll(resp.Body)
			var ans struct {
				ID    json.RawMessage `json:"id"`
				Error *struct {
					Code    int64  `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(raw, &ans); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("HTTP %d %s: %v", resp.StatusCode, raw, err)
			}
			if string(ans.ID) != `"after"` || ans.Error == nil || ans.Error.Code != mcpwire.CodeGateway || ans.Error.Message != `backend "b" is unavailable` {
				t.Errorf("answer %s, want the gateway's error for b under the client's id", raw)
			}
			rec := rep.last("tools/call")
			if rec == nil || rec.Reason != record.ReasonUpstreamUnavailable || rec.Backend != "b" || !rec.Ops[0].Answered {
				t.Errorf("record %+v, want reason %s, backend b, answered", rec, record.ReasonUpstreamUnavailable)
			}
			if st := agg.Statuses()[0]; st.Sessions != 0 || st.LastError == "" {
				t.Errorf("b's status %+v, want out of the session with its error", st)
			}
		})
	}
}

// TestFastPathFollowsRedirect: the fast path sends its request to the
// transport itself, not through http.Client; a backend URL that redirects
// (as the SDK's client, which connected through it, follows) still serves
// fast calls.
func TestFastPathFollowsRedirect(t *testing.T) {
	b := newTestBackend(t, "b", []string{"echo"}, nil)
	moved := httptest.NewServer(http.RedirectHandler(b.srv.URL, http.StatusTemporaryRedirect))
	t.Cleanup(moved.Close)
	be := b.backend(t)
	be.URL, _ = url.Parse(moved.URL)
	other := newTestBackend(t, "o", []string{"echo"}, nil)
	agg := newAggregator(t, Options{Backends: []Backend{be, other.backend(t)}})
	addr := frontRecorded(t, agg, &recorded{})
	sid := rawInit(t, addr, true)
	if ans := rawCall(t, addr, sid, `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"b_echo","arguments":{}}}`); !strings.Contains(ans, "b:echo") || !strings.Contains(ans, `"id":5`) {
		t.Errorf("answer %s, want b's echo under id 5", ans)
	}
	if !b.usedFast() {
		t.Error("the call did not take the fast path")
	}
}

// TestFastPathClientEraMeta: a session client's tools/call whose _meta
// carries a key by which a 2026-07-28 request describes its own hop (here
// clientInfo) takes the SDK path, which leaves such keys out (forwardMeta);
// spliced as they are, they would reach the backend as the gateway's own
// (a stateless backend reads each body on its own). (A protocolVersion that
// contradicts the session's is refused before the aggregator.)
func TestFastPathClientEraMeta(t *testing.T) {
	for _, k := range backendKinds {
		t.Run(k.name, func(t *testing.T) {
			b := newTestBackendKind(t, "b", []string{"echo"}, nil, false, k.stateless)
			other := newTestBackendKind(t, "o", []string{"echo"}, nil, false, k.stateless)
			agg := newAggregator(t, Options{Backends: []Backend{b.backend(t), other.backend(t)}})
			addr := frontRecorded(t, agg, &recorded{})
			sid := rawInit(t, addr, true)
			ans := rawCall(t, addr, sid, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"b_echo","arguments":{},"_meta":{"io.modelcontextprotocol/clientInfo":{"name":"x","version":"1"},"progressToken":"p"}}}`)
			if !strings.Contains(ans, "b:echo") {
				t.Errorf("answer %s, want b's echo", ans)
			}
			if b.usedFast() {
				t.Error("the call took the fast path")
			}
			b.mu.Lock()
			body := b.bodies[len(b.bodies)-1]
			b.mu.Unlock()
			if strings.Contains(body, "io.modelcontextprotocol/") {
				t.Errorf("backend got %s, with the client's own hop keys", body)
			}
		})
	}
}
