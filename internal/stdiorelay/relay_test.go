package stdiorelay

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

func TestSessionLifecycle(t *testing.T) {
	h := newHarness(t, Options{Name: "fake"})
	a, b := h.initialize(), h.initialize()
	if a == b {
		t.Fatal("two sessions share an id")
	}
	pidA, pidB := h.whoami(a), h.whoami(b)
	if pidA == pidB {
		t.Fatalf("both sessions reached child %d", pidA)
	}
	if n := h.relay.Sessions(); n != 2 {
		t.Fatalf("Sessions() = %d, want 2", n)
	}

	tests := []struct {
		name       string
		method     string
		sid        string
		accept     string
		body       string
		wantStatus int
		wantCode   int64 // JSON-RPC error code in the body; 0: no body check
	}{
		{"unknown session", http.MethodPost, "0123456789abcdef", acceptBoth, callBody(1, "echo", nil, nil), http.StatusNotFound, mcpwire.CodeSessionNotFound},
		{"unknown session GET", http.MethodGet, "0123456789abcdef", "text/event-stream", "", http.StatusNotFound, mcpwire.CodeSessionNotFound},
		{"no session", http.MethodPost, "", acceptBoth, callBody(1, "echo", nil, nil), http.StatusBadRequest, jsonrpc.CodeInvalidRequest},
		{"GET without session", http.MethodGet, "", "text/event-stream", "", http.StatusBadRequest, jsonrpc.CodeInvalidRequest},
		{"DELETE without session", http.MethodDelete, "", "", "", http.StatusBadRequest, jsonrpc.CodeInvalidRequest},
		{"notification", http.MethodPost, a, acceptBoth, `{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}`, http.StatusAccepted, 0},
		{"client response without a request", http.MethodPost, a, acceptBoth, `{"jsonrpc":"2.0","id":"nobody","result":{}}`, http.StatusAccepted, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := h.with(t)
			resp := h.do(t.Context(), tc.method, tc.sid, tc.accept, tc.body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, readAll(t, resp))
			}
			if tc.wantCode == 0 {
				resp.Body.Close()
				return
			}
			var m rpcMsg
			decode(t, resp, &m)
			if m.Error == nil || m.Error.Code != tc.wantCode {
				t.Fatalf("error %+v, want code %d", m.Error, tc.wantCode)
			}
		})
	}

	// DELETE ends the session and stops its child; the other one lives on.
	resp := h.do(t.Context(), http.MethodDelete, a, "", "")
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: status %d", resp.StatusCode)
	}
	resp = h.post(a, acceptBoth, callBody(1, "echo", nil, nil))
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("after DELETE: status %d, want 404", resp.StatusCode)
	}
	resp.Body.Close()
	eventually(t, fmt.Sprintf("child %d of the deleted session exits", pidA), func() bool { return gone(pidA) })
	if gone(pidB) || h.whoami(b) != pidB {
		t.Fatal("the other session's child was disturbed")
	}
}

func TestResponseModes(t *testing.T) {
	h := newHarness(t, Options{})
	sid := h.initialize()

	t.Run("JSON-only client gets JSON", func(t *testing.T) {
		h := h.with(t)
		if got := h.call(sid, 1, "echo", map[string]any{"text": "plain"}).text(t); got != "plain" {
			t.Fatalf("echo = %q", got)
		}
	})

	t.Run("SSE carries only its own progress, then the response", func(t *testing.T) {
		h := h.with(t)
		gatePath, open := gate(t)
		args := func(tag string) map[string]any { return map[string]any{"ms": 60000, "tag": tag, "gate": gatePath} }
		s1 := newSSE(t, h.post(sid, acceptBoth, callBody(11, "slow", args("one"), "tok-1")))
		s2 := newSSE(t, h.post(sid, acceptBoth, callBody(12, "slow", args("two"), "tok-2")))
		// Both are running once each has reported progress.
		s1.next().progress(t)
		s2.next().progress(t)
		open()
		for _, c := range []struct {
			s         *sseStream
			id, token string
			tag       string
		}{{s1, "11", `"tok-1"`, "one"}, {s2, "12", `"tok-2"`, "two"}} {
			before, resp := c.s.untilResponse(c.id)
			for _, m := range before {
				if p := m.progress(t); string(p.ProgressToken) != c.token || p.Message != c.tag {
					t.Errorf("stream of %s got progress %s/%q", c.tag, p.ProgressToken, p.Message)
				}
			}
			if got := resp.text(t); got != c.tag+" done" {
				t.Errorf("response %q", got)
			}
			if rest := c.s.end(); len(rest) != 0 {
				t.Errorf("messages after the response: %+v", rest)
			}
		}
	})

	t.Run("pretty-printed body reaches the child as one line", func(t *testing.T) {
		h := h.with(t)
		var v any
		_ = json.Unmarshal([]byte(callBody(21, "echo", map[string]any{"text": "line1\nline2\r\n"}, nil)), &v)
		pretty, _ := json.MarshalIndent(v, "", "\t")
		if !strings.Contains(string(pretty), "\n") {
			t.Fatal("body is not multi-line")
		}
		resp := h.post(sid, acceptJSON, strings.ReplaceAll(string(pretty), "\n", "\r\n"))
		var m rpcMsg
		decode(t, resp, &m)
		if got := m.text(t); got != "line1\nline2\r\n" {
			t.Fatalf("echo = %q", got)
		}
	})

	t.Run("long stderr line does not stall the child", func(t *testing.T) {
		h := h.with(t)
		if got := h.call(sid, 31, "noisy", nil).text(t); got != "noisy done" {
			t.Fatalf("noisy = %q", got)
		}
		if got := h.call(sid, 32, "echo", map[string]any{"text": "after"}).text(t); got != "after" {
			t.Fatalf("echo = %q", got)
		}
	})
}

func TestServerToClientRequest(t *testing.T) {
	h := newHarness(t, Options{})
	sid := h.initialize()
	s := newSSE(t, h.post(sid, acceptBoth, callBody(7, "ask", map[string]any{"text": "what is six times seven?"}, nil)))
	req := s.next()
	if req.Method != "sampling/createMessage" || len(req.ID) == 0 {
		t.Fatalf("want a sampling request, got %+v", req)
	}
	answer := `{"jsonrpc":"2.0","id":` + string(req.ID) + `,"result":{"role":"assistant","content":{"type":"text","text":"forty-two"},"model":"m"}}`
	resp := h.post(sid, acceptBoth, answer)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("client response: status %d, want 202", resp.StatusCode)
	}
	_, res := s.untilResponse("7")
	if got := res.text(t); got != "forty-two" {
		t.Fatalf("tool result %q", got)
	}
}

func TestGETStream(t *testing.T) {
	h := newHarness(t, Options{})
	sid := h.initialize()
	// With no stream open, the server's log message waits in the backlog.
	if got := h.call(sid, 1, "log", map[string]any{"text": "while nobody listened"}).text(t); got != "logged" {
		t.Fatalf("log = %q", got)
	}
	s := newSSE(t, h.do(t.Context(), http.MethodGet, sid, "text/event-stream", ""))
	m := s.next()
	var p struct {
		Data string `json:"data"`
	}
	if m.Method != "notifications/message" || json.Unmarshal(m.Params, &p) != nil || p.Data != "while nobody listened" {
		t.Fatalf("first event %+v", m)
	}
	// Later session-wide messages reach the open stream.
	h.call(sid, 2, "log", map[string]any{"text": "live"})
	if m := s.next(); !strings.Contains(string(m.Params), "live") {
		t.Fatalf("second event %+v", m)
	}
	resp := h.do(t.Context(), http.MethodDelete, sid, "", "")
	resp.Body.Close()
	if rest := s.end(); len(rest) != 0 {
		t.Fatalf("unexpected events %+v", rest)
	}
}

func TestConcurrentSessions(t *testing.T) {
	h := newHarness(t, Options{})
	const n = 20
	sids := make([]string, n)
	t.Run("initialize", func(t *testing.T) {
		for i := range sids {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				sids[i] = h.with(t).initialize()
			})
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	// One session runs a slow call; the others' fast calls must not wait
	// for it. The slow call ends only when the gate opens, after them.
	gatePath, open := gate(t)
	slowSID := h.initialize()
	slow := newSSE(t, h.post(slowSID, acceptBoth, callBody(1, "slow", map[string]any{"ms": 60000, "tag": "slow", "gate": gatePath}, "t")))
	slow.next().progress(t) // running

	var mu sync.Mutex
	var order []string
	t.Run("echo", func(t *testing.T) {
		for i, sid := range sids {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				payload := fmt.Sprintf("payload-%d-%s", i, sid[:8])
				// Every session uses id 1: ids are per session.
				m := h.with(t).call(sid, 1, "echo", map[string]any{"text": payload})
				if got := m.text(t); got != payload || string(m.ID) != "1" {
					t.Errorf("got %q id %s, want %q id 1", got, m.ID, payload)
				}
				mu.Lock()
				order = append(order, "fast")
				mu.Unlock()
			})
		}
	})
	open()
	_, res := slow.untilResponse("1")
	mu.Lock()
	order = append(order, "slow")
	mu.Unlock()
	if res.text(t) != "slow done" {
		t.Fatalf("slow = %+v", res)
	}
	if want := append(slices.Repeat([]string{"fast"}, n), "slow"); !slices.Equal(order, want) {
		t.Fatalf("completion order %v", order)
	}
}

func TestDuplicateInFlightID(t *testing.T) {
	h := newHarness(t, Options{})
	sid := h.initialize()
	gatePath, open := gate(t)
	s := newSSE(t, h.post(sid, acceptBoth, callBody(5, "slow", map[string]any{"ms": 60000, "tag": "first", "gate": gatePath}, "p")))
	s.next().progress(t)
	resp := h.post(sid, acceptBoth, callBody(5, "echo", map[string]any{"text": "second"}, nil))
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("duplicate id: status %d, want 400", resp.StatusCode)
	}
	var m rpcMsg
	decode(t, resp, &m)
	if m.Error == nil || m.Error.Code != jsonrpc.CodeInvalidRequest || string(m.ID) != "5" {
		t.Fatalf("duplicate id: %+v", m)
	}
	open()
	if _, res := s.untilResponse("5"); res.text(t) != "first done" {
		t.Fatalf("first call: %+v", res)
	}
	// Once answered, the id is free again.
	if got := h.call(sid, 5, "echo", map[string]any{"text": "reused"}).text(t); got != "reused" {
		t.Fatalf("reused id: %q", got)
	}
}

// A null-id error from the child answers the one request in flight rather
// than leaving it waiting forever.
func TestNullIDErrorAnswersTheRequest(t *testing.T) {
	h := newHarness(t, Options{})
	sid := h.initialize()
	m := h.call(sid, 9, "nullid", nil)
	if m.Error == nil || m.Error.Code != -32603 || string(m.ID) != "9" {
		t.Fatalf("got %+v, want error -32603 with id 9", m)
	}
}

func TestChildCrash(t *testing.T) {
	tests := []struct {
		name string
		argv func(fake []string) []string
	}{
		{"direct", func(fake []string) []string { return fake }},
		// A grandchild holding the child's stdout and stderr must not hide
		// the child's exit.
		{"grandchild holds stdout", func(fake []string) []string {
			return []string{"sh", "-c", `sleep 300 & exec "$0"`, fake[0]}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := fakeCommand(t)
			cmd.Argv = tc.argv(cmd.Argv)
			h := newHarness(t, Options{Command: cmd})
			sid := h.initialize()
			pid := h.whoami(sid)
			s := newSSE(t, h.post(sid, acceptBoth, callBody(9, "crash", nil, nil)))
			_, res := s.untilResponse("9")
			if res.Error == nil || res.Error.Code != mcpwire.CodeGateway {
				t.Fatalf("in-flight call: %+v, want JSON-RPC error %d", res, mcpwire.CodeGateway)
			}
			// The session ended before the error was sent.
			resp := h.post(sid, acceptBoth, callBody(10, "echo", nil, nil))
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Fatalf("after crash: status %d, want 404", resp.StatusCode)
			}
			// The crash counts against the (1ms) back-off: retry through it.
			var next string
			eventually(t, "a new session starts", func() bool {
				sid, resp := h.tryInitialize()
				resp.Body.Close()
				next = sid
				return resp.StatusCode == http.StatusOK
			})
			if p := h.whoami(next); p == pid {
				t.Fatalf("new session reached the crashed child %d", p)
			}
		})
	}
}

func TestMaxSessions(t *testing.T) {
	h := newHarness(t, Options{MaxSessions: 2, MaxSessionsPerPrincipal: 2})
	h.initialize()
	h.initialize()
	_, resp := h.tryInitialize()
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third session: status %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if h.relay.Sessions() != 2 {
		t.Fatalf("Sessions() = %d", h.relay.Sessions())
	}
}

func TestIdleExpiry(t *testing.T) {
	h := newHarness(t, Options{IdleTimeout: 200 * time.Millisecond})
	sid := h.initialize()
	pid := h.whoami(sid)
	eventually(t, "the idle session expires", func() bool { return h.relay.Sessions() == 0 })
	eventually(t, "its child exits", func() bool { return gone(pid) })
	resp := h.post(sid, acceptBoth, callBody(1, "echo", nil, nil))
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("expired session: status %d, want 404", resp.StatusCode)
	}
}

func TestFailingCommandBacksOff(t *testing.T) {
	h := newHarness(t, Options{
		Command:        Command{Argv: []string{"/bin/false"}},
		InitialBackoff: time.Minute, MaxBackoff: 2 * time.Minute,
	})
	steps := []struct {
		name       string
		wantStatus int
		retryAfter bool
	}{
		{"first start fails", http.StatusBadGateway, false},
		{"backing off", http.StatusServiceUnavailable, true},
		{"still backing off", http.StatusServiceUnavailable, true},
	}
	for _, st := range steps {
		_, resp := h.tryInitialize()
		body := readAll(t, resp)
		if resp.StatusCode != st.wantStatus {
			t.Fatalf("%s: status %d, want %d: %s", st.name, resp.StatusCode, st.wantStatus, body)
		}
		if ra := resp.Header.Get("Retry-After"); st.retryAfter {
			if n, err := strconv.Atoi(ra); err != nil || n < 1 {
				t.Fatalf("%s: Retry-After %q", st.name, ra)
			}
		}
		if !strings.Contains(body, `"code":-32000`) {
			t.Fatalf("%s: body %s", st.name, body)
		}
	}
	if n := h.relay.Sessions(); n != 0 {
		t.Fatalf("Sessions() = %d after failed starts", n)
	}
}

func TestRelayOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr bool
	}{
		{"empty command", Options{}, true},
		{"unknown isolation", Options{Command: Command{Argv: []string{"x"}}, Isolation: "pooled"}, true},
		{"defaults", Options{Command: Command{Argv: []string{"x"}}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(tc.opts)
			if (err != nil) != tc.wantErr {
				t.Fatalf("New: %v", err)
			}
			if r != nil {
				if r.opts.Isolation != IsolationSession || r.opts.MaxSessions != 100 {
					t.Errorf("defaults: %+v", r.opts)
				}
				if err := r.Close(context.Background()); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestMaxSessionsPerPrincipal: one principal's sessions (and its stateless
// child) are bounded by its share, so it cannot lock others out of
// MaxSessions; the global limit still holds across principals.
func TestMaxSessionsPerPrincipal(t *testing.T) {
	type step struct {
		who       string // principalHeader value; "" is anonymous
		stateless bool   // a stateless call rather than an initialize
		want      int
	}
	cases := []struct {
		name  string
		opts  Options
		steps []step
	}{
		{"share then others", Options{MaxSessions: 3, MaxSessionsPerPrincipal: 2}, []step{
			{who: "alice", want: 200}, {who: "alice", want: 200}, {who: "alice", want: 503},
			{who: "bob", want: 200}, {who: "bob", want: 503}, // global limit (3) now
		}},
		{"default share is a quarter", Options{MaxSessions: 8}, []step{
			{who: "alice", want: 200}, {who: "alice", want: 200}, {who: "alice", want: 503},
			{who: "bob", want: 200}, {who: "", want: 200},
		}},
		{"stateless child counts", Options{MaxSessions: 4, MaxSessionsPerPrincipal: 1}, []step{
			{who: "alice", stateless: true, want: 200}, {who: "alice", stateless: true, want: 200}, // same child
			{who: "alice", want: 503}, {who: "bob", want: 200}, {who: "bob", stateless: true, want: 503},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, c.opts).with(t)
			for i, st := range c.steps {
				var resp *http.Response
				if st.stateless {
					resp = statelessPost(h, i, "echo", map[string]any{"text": "hi"}, principalHeader, st.who)
				} else {
					_, resp = h.tryInitialize(principalHeader, st.who)
				}
				body := readAll(t, resp)
				if resp.StatusCode != st.want {
					t.Fatalf("step %d (%+v): status %d, want %d: %s", i, st, resp.StatusCode, st.want, body)
				}
				if st.want == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
					t.Fatalf("step %d: 503 without Retry-After", i)
				}
			}
		})
	}
}

// TestChildEnvironment: a child sees the minimal environment, its own env
// and what inheritEnv names — never the rest of the gateway's (keys,
// tokens), in session and shared children alike.
func TestChildEnvironment(t *testing.T) {
	t.Setenv("STDIORELAY_TEST_SECRET", "gateway-secret")
	t.Setenv("STDIORELAY_TEST_PASSED", "passed-on")
	t.Setenv("STDIORELAY_TEST_PREFIX_A", "prefixed")
	cases := []struct {
		name      string
		isolation Isolation
		inherit   []string
		want      map[string]string // variable → "found:value"
	}{
		{"session, nothing inherited", IsolationSession, nil, map[string]string{
			"STDIORELAY_TEST_SECRET": "false:", "STDIORELAY_TEST_PASSED": "false:",
			"PATH": "true:" + os.Getenv("PATH"), "STDIORELAY_OWN": "true:own",
		}},
		{"session, inheritEnv", IsolationSession, []string{"STDIORELAY_TEST_PASSED", "STDIORELAY_TEST_PREFIX_*"}, map[string]string{
			"STDIORELAY_TEST_SECRET": "false:", "STDIORELAY_TEST_PASSED": "true:passed-on",
			"STDIORELAY_TEST_PREFIX_A": "true:prefixed",
		}},
		{"shared", IsolationShared, nil, map[string]string{
			"STDIORELAY_TEST_SECRET": "false:", "STDIORELAY_OWN": "true:own",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := fakeCommand(t)
			cmd.Env = append(cmd.Env, "STDIORELAY_OWN=own")
			cmd.InheritEnv = c.inherit
			h := newHarness(t, Options{Command: cmd, Isolation: c.isolation}).with(t)
			sid := h.initialize()
			for name, want := range c.want {
				if got := h.call(sid, 1, "getenv", map[string]any{"text": name}).text(t); got != want {
					t.Errorf("child's %s: %q, want %q", name, got, want)
				}
			}
		})
	}
}
