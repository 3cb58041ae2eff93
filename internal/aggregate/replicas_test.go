//lint:file-ignore SA1019 sampling is deprecated as of 2026-07-28, but 2025-11-25 clients and servers use it and the gateway must pass it through.

package aggregate

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestIdleCopyLeavesBackendSessions: with Handoff, a copy of a session that
// expires in its replica while the client is busy with it on another is
// only dropped from it; the backend session goes on for the other copy.
// Without Handoff, expiry ends the backend session.
func TestIdleCopyLeavesBackendSessions(t *testing.T) {
	cases := []struct {
		name        string
		handoff     bool
		wantDeletes int
	}{
		{name: "handoff", handoff: true},
		{name: "no handoff", wantDeletes: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			one := newCounterBackend(t, "one")
			opts := func(timeout time.Duration) Options {
				return Options{Backends: []Backend{one.backend(t)}, Handoff: tc.handoff, SessionTimeout: timeout}
			}
			// A expires idle copies fast; B keeps its copy.
			a, b := newAggregator(t, opts(300*time.Millisecond)), newAggregator(t, opts(time.Hour))
			urlA, urlB := front(t, a, nil), front(t, b, nil)
			mt := &moveTransport{}
			c := mcp.NewClient(&mcp.Implementation{Name: "mover", Version: "1"}, &mcp.ClientOptions{
				Capabilities: &mcp.ClientCapabilities{Sampling: &mcp.SamplingCapabilities{}},
			})
			cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{
				Endpoint: urlA, HTTPClient: &http.Client{Transport: mt}, MaxRetries: -1, DisableStandaloneSSE: true,
			}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cs.Close() })
			if got := callText(t, cs, "one_count"); got != "1" {
				t.Fatalf("one_count on A = %s, want 1", got)
			}
			sid := cs.ID()
			mt.mu.Lock()
			sent := mt.caps
			mt.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			local, err := b.Adopt(ctx, alice, sealedOf(t, a, sid, sent))
			if err != nil {
				t.Fatal(err)
			}
			// B opened and ended a session of its own to learn the backend's
			// initialize answer.
			_, before, _ := one.stats()
			mt.move(urlB, sid, local)
			// The client is busy on B while A's copy goes idle and expires.
			// Without Handoff, A's expiry ends the backend session under
			// B's copy, whose next call would fail: not called then.
			want := 2
			for end := time.Now().Add(5 * time.Second); a.Has(sid); time.Sleep(50 * time.Millisecond) {
				if time.Now().After(end) {
					t.Fatal("A's copy did not expire")
				}
				if !tc.handoff {
					continue
				}
				if got := callText(t, cs, "one_count"); got != strconv.Itoa(want) {
					t.Fatalf("one_count on B = %s, want %d", got, want)
				}
				want++
			}
			waitFor(func() bool { _, d, _ := one.stats(); return d-before >= tc.wantDeletes })
			_, deletes, _ := one.stats()
			if deletes -= before; deletes != tc.wantDeletes {
				t.Errorf("A's expiry sent the backend %d DELETE, want %d", deletes, tc.wantDeletes)
			}
			if !tc.handoff {
				return
			}
			// B's copy goes on with the same backend session.
			for range 3 {
				if got := callText(t, cs, "one_count"); got != strconv.Itoa(want) {
					t.Fatalf("one_count on B after A's expiry = %s, want %d", got, want)
				}
				want++
			}
		})
	}
}

// TestUninitializedCopyLeavesBackendSessions: with Handoff, the copy of a
// session whose notifications/initialized went to another replica (which
// adopted the session for it) is closed after InitializeTimeout in the
// replica that answered the initialize, and the backend session goes on
// for the other copy.
func TestUninitializedCopyLeavesBackendSessions(t *testing.T) {
	one := newCounterBackend(t, "one")
	opts := Options{Backends: []Backend{one.backend(t)}, Handoff: true, InitializeTimeout: 300 * time.Millisecond}
	a, b := newAggregator(t, opts), newAggregator(t, opts)
	urlA, urlB := front(t, a, nil), front(t, b, nil)
	const caps = `{"roots":{}}`
	resp := rawPostMCP(t, urlA, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":`+caps+`,"clientInfo":{"name":"mover","version":"1"}}}`)
	sid := resp.Header.Get("Mcp-Session-Id")
	if sid == "" {
		t.Fatal("no session id")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	local, err := b.Adopt(ctx, alice, sealedOf(t, a, sid, caps))
	if err != nil {
		t.Fatal(err)
	}
	_, before, _ := one.stats()
	call := func(want string) {
		t.Helper()
		got := rawCall(t, urlB, local, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"one_count","arguments":{}}}`)
		if !strings.Contains(got, `"text":"`+want+`"`) {
			t.Fatalf("one_count on B answered %s, want %s", got, want)
		}
	}
	call("1")
	if !waitFor(func() bool { return !a.Has(sid) }) {
		t.Fatal("A's uninitialized copy was not closed")
	}
	time.Sleep(100 * time.Millisecond) // a DELETE would be on its way
	if _, deletes, _ := one.stats(); deletes != before {
		t.Errorf("closing A's uninitialized copy sent the backend %d DELETE, want none", deletes-before)
	}
	call("2")
}

// splitTransport sends the client's answers (JSON-RPC results and errors)
// to replica B under B's id of the session, and everything else to A: a
// balancer without affinity at its worst for a backend's request to the
// client.
type splitTransport struct {
	b       *url.URL
	to      string // B's id of the session
	answers atomic.Int64
}

func (s *splitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && r.Body != nil && s.to != "" {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(body))
		if json.Unmarshal(body, &m) == nil && m.Method == "" && len(m.ID) > 0 {
			s.answers.Add(1)
			r.URL.Scheme, r.URL.Host, r.Host = s.b.Scheme, s.b.Host, s.b.Host
			r.Header.Set("Mcp-Session-Id", s.to)
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestAnswerOnAnotherReplica: a backend's sampling request in a call the
// client made on replica A is answered on replica B (which holds a copy of
// the session): B sends the answer to the backend, the call completes on A
// with the sampled text, and A is left waiting on nothing. Before, B's SDK
// had no such request pending and dropped the answer: the call hung.
func TestAnswerOnAnotherReplica(t *testing.T) {
	one := newCounterBackend(t, "one")
	opts := Options{Backends: []Backend{one.backend(t)}, Handoff: true}
	a, b := newAggregator(t, opts), newAggregator(t, opts)
	urlA, urlB := front(t, a, nil), front(t, b, nil)
	// Run before the fronts close, which wait for their requests: a call
	// left waiting for an answer (the failure this test finds) ends when
	// its backend connection does.
	t.Cleanup(one.srv.CloseClientConnections)
	st := &splitTransport{}
	st.b, _ = url.Parse(urlB)
	var sampled atomic.Int64
	c := mcp.NewClient(&mcp.Implementation{Name: "mover", Version: "1"}, &mcp.ClientOptions{
		CreateMessageHandler: func(context.Context, *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			n := sampled.Add(1)
			return &mcp.CreateMessageResult{Model: "m", Role: "assistant", Content: &mcp.TextContent{Text: "via-b" + strconv.FormatInt(n, 10)}}, nil
		},
	})
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint: urlA, HTTPClient: &http.Client{Transport: st}, MaxRetries: -1, DisableStandaloneSSE: true,
	}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	local, err := b.Adopt(ctx, alice, sealedOf(t, a, cs.ID(), `{"sampling":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	st.to = local

	ask := func(n int) {
		t.Helper()
		if got, want := callText(t, cs, "one_ask"), "sampled=via-b"+strconv.Itoa(n); got != want {
			t.Fatalf("one_ask = %q, want %q", got, want)
		}
	}
	ask(1) // opens every connection the later ones reuse
	if st.answers.Load() != 1 {
		t.Fatalf("%d answers went to B, want 1", st.answers.Load())
	}
	const asks = 11
	for n := 2; n <= asks; n++ {
		ask(n)
	}
	if st.answers.Load() != asks {
		t.Fatalf("%d answers went to B, want %d", st.answers.Load(), asks)
	}
	// A's handler that relayed each request gives up with its call. (The
	// count of goroutines is no measure here: B's and A's copies take the
	// backend session's listening stream from each other, and HTTP
	// connections come and go.)
	if !waitFor(func() bool { return !waiting() }) {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("a handler still waits for an answer that went to B:\n%s", buf)
	}
	// The session goes on.
	if got := callText(t, cs, "one_count"); got != "1" {
		t.Errorf("one_count = %s, want 1", got)
	}
}

// waiting reports whether a handler relaying a backend's request to the
// client is waiting for its answer.
func waiting() bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return bytes.Contains(buf, []byte("aggregate.toClient"))
}
