package stdiorelay

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

func TestSharedIsolation(t *testing.T) {
	h := newHarness(t, Options{Isolation: IsolationShared})
	a, b := h.initialize(), h.initialize()
	if pa, pb := h.whoami(a), h.whoami(b); pa != pb {
		t.Fatalf("shared sessions reached children %d and %d", pa, pb)
	}

	t.Run("same id and progress token in two sessions", func(t *testing.T) {
		h := h.with(t)
		// Both clients use id 1 and token "tok" at the same time.
		streams := map[string]*sseStream{
			"short": newSSE(t, h.post(a, acceptBoth, callBody(1, "slow", map[string]any{"ms": 30, "tag": "short"}, "tok"))),
			"long":  newSSE(t, h.post(b, acceptBoth, callBody(1, "slow", map[string]any{"ms": 90, "tag": "long"}, "tok"))),
		}
		for tag, s := range streams {
			before, res := s.untilResponse("1")
			if len(before) == 0 {
				t.Errorf("%s: no progress", tag)
			}
			for _, m := range before {
				if p := m.progress(t); string(p.ProgressToken) != `"tok"` || p.Message != tag {
					t.Errorf("%s: got progress %s/%q", tag, p.ProgressToken, p.Message)
				}
			}
			if got := res.text(t); got != tag+" done" {
				t.Errorf("%s: got %q", tag, got)
			}
		}
	})

	t.Run("id after params", func(t *testing.T) {
		h := h.with(t)
		// Members in this order put the id edit after the token edit.
		body := `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"slow","arguments":{"ms":1,"tag":"late-id"},"_meta":{"progressToken":"p"}},"id":"x"}`
		_, res := newSSE(t, h.post(a, acceptBoth, body)).untilResponse(`"x"`)
		if got := res.text(t); got != "late-id done" {
			t.Fatalf("got %q", got)
		}
	})

	t.Run("disconnect cancels the remapped id", func(t *testing.T) {
		h := h.with(t)
		gatePath, open := gate(t)
		defer open()
		ctx, cancel := context.WithCancel(t.Context())
		s := newSSE(t, h.do(ctx, http.MethodPost, a, acceptBoth,
			callBody("client-7", "slow", map[string]any{"ms": 60000, "tag": "gone", "gate": gatePath}, "tok")))
		s.next().progress(t) // the child is running it
		cancel()
		var ids []json.RawMessage
		eventually(t, "the child is told of the cancellation", func() bool {
			ids = nil
			if err := json.Unmarshal([]byte(h.call(b, "q", "cancelled", nil).text(t)), &ids); err != nil {
				t.Fatal(err)
			}
			return len(ids) > 0
		})
		if len(ids) != 1 {
			t.Fatalf("cancelled %s", ids)
		}
		if _, err := strconv.ParseInt(string(ids[0]), 10, 64); err != nil {
			t.Fatalf("child was told of id %s, want its remapped (numeric) id", ids[0])
		}
	})

	t.Run("server-to-client request is refused", func(t *testing.T) {
		h := h.with(t)
		s := newSSE(t, h.post(a, acceptBoth, callBody(3, "ask", map[string]any{"text": "anyone?"}, nil)))
		before, res := s.untilResponse("3")
		for _, m := range before {
			if m.Method == "sampling/createMessage" {
				t.Fatalf("the shared child's request reached a client: %+v", m)
			}
		}
		if res.Error == nil {
			if r := res.tool(t); !r.IsError {
				t.Fatalf("want an error, got %+v", r)
			}
		}
	})
}

// statelessPost sends a 2026-07-28 request: no session, headers that
// match the body.
func statelessPost(h *harness, id any, tool string, args map[string]any, headers ...string) *http.Response {
	h.t.Helper()
	params := map[string]any{"name": tool, "arguments": args,
		"_meta": map[string]any{jsonrpc.MetaKeyProtocolVersion: mcpwire.Version20260728}}
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
	return h.post("", acceptJSON, string(b), append([]string{
		mcpwire.HeaderProtocolVersion, mcpwire.Version20260728,
		mcpwire.HeaderMethod, "tools/call",
		mcpwire.HeaderName, tool}, headers...)...)
}

// statelessPID calls whoami statelessly as principal who ("" anonymous).
func statelessPID(h *harness, who string) int {
	h.t.Helper()
	resp := statelessPost(h, 7, "whoami", nil, principalHeader, who)
	if resp.StatusCode != http.StatusOK || resp.Header.Get(mcpwire.HeaderSessionID) != "" {
		h.t.Fatalf("status %d, session %q: %s", resp.StatusCode, resp.Header.Get(mcpwire.HeaderSessionID), readAll(h.t, resp))
	}
	var m rpcMsg
	decode(h.t, resp, &m)
	pid, err := strconv.Atoi(m.text(h.t))
	if err != nil {
		h.t.Fatal(err)
	}
	return pid
}

// TestStatelessChildPerPrincipal: under session isolation, stateless
// (2026-07-28) calls of different principals never share a child, nor
// reach a session's; under isolation shared they all go to the one shared
// child, as configured. Idle stateless children are stopped.
func TestStatelessChildPerPrincipal(t *testing.T) {
	t.Run("session isolation", func(t *testing.T) {
		h := newHarness(t, Options{IdleTimeout: time.Second}).with(t)
		sessionPID := h.whoami(h.initialize())
		alice, bob, anon := statelessPID(h, "alice"), statelessPID(h, "bob"), statelessPID(h, "")
		if alice == bob || alice == anon || bob == anon {
			t.Fatalf("principals' stateless calls shared a child: alice %d, bob %d, anonymous %d", alice, bob, anon)
		}
		if alice == sessionPID || bob == sessionPID || anon == sessionPID {
			t.Fatalf("a stateless call reached the session's child %d (alice %d, bob %d, anonymous %d)", sessionPID, alice, bob, anon)
		}
		if again := statelessPID(h, "alice"); again != alice {
			t.Fatalf("alice's second stateless call ran in child %d, her first in %d", again, alice)
		}
		if n := h.relay.Sessions(); n != 1 {
			t.Fatalf("Sessions() = %d: stateless traffic made a session", n)
		}
		eventually(t, "idle stateless children stopped", func() bool { return gone(alice) && gone(bob) && gone(anon) })
	})
	t.Run("shared isolation", func(t *testing.T) {
		h := newHarness(t, Options{Isolation: IsolationShared}).with(t)
		if alice, bob := statelessPID(h, "alice"), statelessPID(h, "bob"); alice != bob {
			t.Fatalf("isolation shared: stateless calls ran in %d and %d, want the one shared child", alice, bob)
		}
	})
}

func TestStateless(t *testing.T) {
	h := newHarness(t, Options{}) // session isolation
	sid := h.initialize()
	sessionPID := h.whoami(sid)

	var pids []int
	for i := range 2 {
		resp := statelessPost(h, i, "whoami", nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get(mcpwire.HeaderSessionID) != "" {
			t.Fatalf("status %d, session %q", resp.StatusCode, resp.Header.Get(mcpwire.HeaderSessionID))
		}
		var m rpcMsg
		decode(t, resp, &m)
		pid, err := strconv.Atoi(m.text(t))
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	if pids[0] != pids[1] || pids[0] == sessionPID {
		t.Fatalf("stateless calls reached %v, session child %d: want the principal's one stateless child", pids, sessionPID)
	}
	if n := h.relay.Sessions(); n != 1 {
		t.Fatalf("Sessions() = %d: stateless traffic made a session", n)
	}

	// A stateless client cannot cancel another's request by naming its id.
	gatePath, open := gate(t)
	done := make(chan rpcMsg, 1)
	go func() {
		resp := statelessPost(h.with(t), 1, "slow", map[string]any{"ms": 60000, "tag": "kept", "gate": gatePath})
		var m rpcMsg
		_ = json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		done <- m
	}()
	eventually(t, "the slow call is pending", func() bool {
		h.relay.mu.Lock()
		defer h.relay.mu.Unlock()
		n := 0
		for _, sc := range h.relay.stateless {
			sc.conn.mu.Lock()
			n += len(sc.conn.pending)
			sc.conn.mu.Unlock()
		}
		return n == 1
	})
	resp := h.post("", acceptJSON,
		`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"_meta":{"`+jsonrpc.MetaKeyProtocolVersion+`":"2026-07-28"}}}`,
		mcpwire.HeaderProtocolVersion, mcpwire.Version20260728, mcpwire.HeaderMethod, "notifications/cancelled")
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("cancel: status %d", resp.StatusCode)
	}
	resp = statelessPost(h, 2, "cancelled", nil)
	var m rpcMsg
	decode(t, resp, &m)
	if got := m.text(t); got != "null" && got != "[]" {
		t.Fatalf("child saw cancellations %s", got)
	}
	open()
	select {
	case m := <-done:
		if m.text(t) != "kept done" {
			t.Fatalf("slow call: %+v", m)
		}
	case <-time.After(wait):
		t.Fatal("the slow call did not finish")
	}
}

// TestSharedConnClosedStartsNothing: a request that reaches a shared or
// stateless conn after Close stopped it must not start a child that
// nothing would ever stop.
func TestSharedConnClosedStartsNothing(t *testing.T) {
	c := newSharedConn(fakeCommand(t), slog.New(slog.DiscardHandler), newBackoff(time.Millisecond, time.Millisecond), func(item) {}, nil)
	c.close()
	c.mu.Lock()
	ch, err := c.running()
	c.mu.Unlock()
	if !errors.Is(err, errShuttingDown) || ch != nil {
		if ch != nil {
			ch.stop(context.Background())
		}
		t.Fatalf("running() after close = %v, %v; want no child and errShuttingDown", ch, err)
	}
}
