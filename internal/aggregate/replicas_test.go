//lint:file-ignore SA1019 sampling is deprecated as of 2026-07-28, but 2025-11-25 clients and servers use it and the gateway must pass it through.

package aggregate

import (
	"context"
	"net/http"
	"strconv"
	"strings"
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
