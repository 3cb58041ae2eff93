//lint:file-ignore SA1019 sampling is deprecated as of 2026-07-28, but 2025-11-25 clients and servers use it and the gateway must pass it through.

package aggregate

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/observe"
	"github.com/mcpgate/mcpgate/internal/sessionseal"
)

// counterBackend is a Go SDK server over Streamable HTTP (event streams)
// whose tool "count" answers how many times it was called in the calling
// session — state only the same backend session continues — and whose
// tool "ask" asks the client to sample. It counts the initialize requests
// it is sent and the sessions it deleted.
type counterBackend struct {
	name   string
	srv    *httptest.Server
	server *mcp.Server

	mu      sync.Mutex
	counts  map[string]int // by backend session id
	inits   int
	deletes int
	ids     []string // the session ids it issued, in order
	call    string   // the last tools/call body
	// down makes it answer every request 503, failLists its tools/list.
	down, failLists atomic.Bool
}

func newCounterBackend(t testing.TB, name string) *counterBackend {
	t.Helper()
	b := &counterBackend{name: name, counts: map[string]int{}}
	server := mcp.NewServer(&mcp.Implementation{Name: name, Version: "1"}, nil)
	b.server = server
	server.AddTool(&mcp.Tool{Name: "count", InputSchema: map[string]any{"type": "object"}},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			b.mu.Lock()
			b.counts[req.Session.ID()]++
			n := b.counts[req.Session.ID()]
			b.mu.Unlock()
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: strconv.Itoa(n)}}}, nil
		})
	server.AddTool(&mcp.Tool{Name: "ask", InputSchema: map[string]any{"type": "object"}},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res, err := req.Session.CreateMessage(ctx, &mcp.CreateMessageParams{MaxTokens: 5,
				Messages: []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: "q"}}}})
			if err != nil {
				return nil, err
			}
			tc, _ := res.Content.(*mcp.TextContent)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "sampled=" + tc.Text}}}, nil
		})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		init := false
		if r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			var m struct {
				Method string `json:"method"`
			}
			init = json.Unmarshal(body, &m) == nil && m.Method == "initialize"
			if m.Method == "tools/list" && b.failLists.Load() {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			if m.Method == "tools/call" {
				b.mu.Lock()
				b.call = string(body)
				b.mu.Unlock()
			}
			r.Body = io.NopCloser(strings.NewReader(string(body)))
		}
		b.mu.Lock()
		if init {
			b.inits++
		}
		if r.Method == http.MethodDelete {
			b.deletes++
		}
		b.mu.Unlock()
		h.ServeHTTP(&idWriter{ResponseWriter: w, b: b, init: init}, r)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// idWriter notes the session id an initialize's answer issues.
type idWriter struct {
	http.ResponseWriter
	b    *counterBackend
	init bool
}

func (w *idWriter) WriteHeader(code int) {
	if id := w.Header().Get("Mcp-Session-Id"); w.init && id != "" {
		w.b.mu.Lock()
		w.b.ids = append(w.b.ids, id)
		w.b.mu.Unlock()
	}
	w.init = false
	w.ResponseWriter.WriteHeader(code)
}

func (w *idWriter) Write(p []byte) (int, error) {
	if w.init {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

func (w *idWriter) Flush() { w.ResponseWriter.(http.Flusher).Flush() }

func (b *counterBackend) backend(t testing.TB) Backend {
	u, err := url.Parse(b.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return Backend{Name: b.name, URL: u}
}

func (b *counterBackend) stats() (inits, deletes int, ids []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.inits, b.deletes, append([]string(nil), b.ids...)
}

// askOutsideCall sends, as the backend session id, a sampling request of
// no call: on the session's listening stream (GET).
func (b *counterBackend) askOutsideCall(ctx context.Context, id string) (string, error) {
	for ss := range b.server.Sessions() {
		if ss.ID() != id {
			continue
		}
		res, err := ss.CreateMessage(ctx, &mcp.CreateMessageParams{MaxTokens: 5,
			Messages: []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: "later"}}}})
		if err != nil {
			return "", err
		}
		tc, _ := res.Content.(*mcp.TextContent)
		return tc.Text, nil
	}
	return "", errors.New("no such backend session")
}

// answerOnStream reads the client's listening stream resp until a
// sampling request arrives and answers it, with a POST to url, text.
func answerOnStream(t *testing.T, resp *http.Response, url, sid, text string) {
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		if json.Unmarshal([]byte(data), &m) != nil || m.Method != "sampling/createMessage" {
			continue
		}
		body := `{"jsonrpc":"2.0","id":` + string(m.ID) + `,"result":{"model":"m","role":"assistant","content":{"type":"text","text":"` + text + `"}}}`
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("MCP-Protocol-Version", "2025-11-25")
		req.Header.Set("Mcp-Session-Id", sid)
		if r, err := http.DefaultClient.Do(req); err == nil {
			r.Body.Close()
		}
		return
	}
}

// deleteSession ends the backend session id, as the backend would on its
// own (expiry, restart).
func (b *counterBackend) deleteSession(t *testing.T, id string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, b.srv.URL, nil)
	req.Header.Set("Mcp-Session-Id", id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("DELETE of the backend session: HTTP %d", resp.StatusCode)
	}
}

// moveTransport sends a client's requests to one replica, and once moved,
// to another under the local id the second gave the session: what the
// sealed-session stage does with the token the client holds.
type moveTransport struct {
	mu       sync.Mutex
	target   *url.URL
	from, to string // session ids: the client's, the replica's
	caps     string // the capabilities of the client's initialize, as sent
	requests atomic.Int64
}

func (m *moveTransport) move(target, from, to string) {
	u, _ := url.Parse(target)
	m.mu.Lock()
	m.target, m.from, m.to = u, from, to
	m.mu.Unlock()
}

// initializeCaps returns a copy of r whose body reads as r's did, and,
// when that body is an initialize, the capabilities it declares as sent:
// what the stage seals (a client's own JSON, not the SDK's re-encoding).
func initializeCaps(r *http.Request) (*http.Request, string, bool, error) {
	r = r.Clone(r.Context())
	if r.Method != http.MethodPost || r.Body == nil {
		return r, "", false, nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, "", false, err
	}
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	var msg struct {
		Method string `json:"method"`
		Params struct {
			Capabilities json.RawMessage `json:"capabilities"`
		} `json:"params"`
	}
	if json.Unmarshal(body, &msg) != nil || msg.Method != "initialize" {
		return r, "", false, nil
	}
	return r, string(msg.Params.Capabilities), true, nil
}

func (m *moveTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	m.mu.Lock()
	target, from, to := m.target, m.from, m.to
	m.mu.Unlock()
	r, caps, isInit, err := initializeCaps(r)
	if err != nil {
		return nil, err
	}
	if isInit {
		m.mu.Lock()
		m.caps = caps
		m.mu.Unlock()
	}
	if target != nil {
		r.URL.Scheme, r.URL.Host = target.Scheme, target.Host
		r.Host = target.Host
		m.requests.Add(1)
	}
	if from != "" && r.Header.Get("Mcp-Session-Id") == from {
		r.Header.Set("Mcp-Session-Id", to)
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && to != "" && resp.Header.Get("Mcp-Session-Id") == to {
		// The stage answers with the client's token, not the local id.
		resp.Header.Set("Mcp-Session-Id", from)
	}
	return resp, err
}

var alice = &identity.Identity{Subject: "alice", Issuer: "urn:test"}

func callText(t *testing.T, cs *mcp.ClientSession, tool string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: map[string]any{}})
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	if res.IsError {
		t.Fatalf("%s: tool error %s", tool, text(res))
	}
	return text(res)
}

// sealedOf is what the stage seals for the client session sid of agg,
// whose initialize declared caps (raw JSON, as sent).
func sealedOf(t *testing.T, agg *Aggregator, sid, caps string) *sessionseal.Session {
	t.Helper()
	backends, ok := agg.Export(sid)
	if !ok {
		t.Fatalf("Export(%q): not a live session", sid)
	}
	return &sessionseal.Session{Backends: backends, Protocol: "2025-11-25", ClientName: "mover", ClientVersion: "1", Capabilities: caps}
}

// TestAdoptResumesBackendSessions: a session opened on replica A goes on on
// replica B, which adopted it from what A exported: each backend's
// session-bound count continues (the backend sessions are the same ones,
// no initialize was sent to them), the catalog is there, the fast path
// serves a client that declared nothing, and a backend's sampling request
// reaches the client through B. With Handoff, A's Close leaves the backend
// sessions for B; without it, A ends them and B starts afresh.
func TestAdoptResumesBackendSessions(t *testing.T) {
	cases := []struct {
		name    string
		fast    bool   // the client declares nothing: tools/call takes the fast path
		closeA  string // when A shuts down: "" never, "before" B adopts, "after" it adopted
		handoff bool
		want    string // the counts after the move
	}{
		{name: "sdk path, A still up", want: "2"},
		{name: "fast path, A still up", fast: true, want: "2"},
		{name: "A shut down with handoff", closeA: "before", handoff: true, want: "2"},
		// B asks for the listening streams while A still holds them,
		// and takes them over once A lets go.
		{name: "A shut down with handoff after B adopted", closeA: "after", handoff: true, want: "2"},
		{name: "A shut down without handoff ends the backend sessions", closeA: "before", want: "1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			one, two := newCounterBackend(t, "one"), newCounterBackend(t, "two")
			opts := func() Options {
				return Options{Backends: []Backend{one.backend(t), two.backend(t)}, Handoff: tc.handoff}
			}
			a, b := newAggregator(t, opts()), newAggregator(t, opts())
			urlA, urlB := front(t, a, nil), front(t, b, nil)

			caps := &mcp.ClientCapabilities{Sampling: &mcp.SamplingCapabilities{}}
			if tc.fast {
				caps = &mcp.ClientCapabilities{}
			}
			var sampled atomic.Int64
			copts := &mcp.ClientOptions{Capabilities: caps}
			if !tc.fast {
				copts.CreateMessageHandler = func(context.Context, *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
					sampled.Add(1)
					return &mcp.CreateMessageResult{Model: "m", Role: "assistant", Content: &mcp.TextContent{Text: "via-b"}}, nil
				}
			}
			mt := &moveTransport{}
			c := mcp.NewClient(&mcp.Implementation{Name: "mover", Version: "1"}, copts)
			cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{
				Endpoint: urlA, HTTPClient: &http.Client{Transport: mt}, MaxRetries: -1,
				// The listening stream would stay with A; this test is
				// about requests, each of which may land anywhere.
				DisableStandaloneSSE: true,
			}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cs.Close() })
			for _, tool := range []string{"one_count", "two_count"} {
				if got := callText(t, cs, tool); got != "1" {
					t.Fatalf("%s on A = %s, want 1", tool, got)
				}
			}

			sid := cs.ID()
			mt.mu.Lock()
			sent := mt.caps
			mt.mu.Unlock()
			sealed := sealedOf(t, a, sid, sent)
			_, _, oneIDs := one.stats()
			_, _, twoIDs := two.stats()
			want := []sessionseal.Backend{{Name: "one", ID: oneIDs[len(oneIDs)-1]}, {Name: "two", ID: twoIDs[len(twoIDs)-1]}}
			if len(sealed.Backends) != 2 || sealed.Backends[0] != want[0] || sealed.Backends[1] != want[1] {
				t.Fatalf("Export = %v, want %v", sealed.Backends, want)
			}
			closeA := func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := a.Close(ctx); err != nil {
					t.Fatal(err)
				}
				if a.Has(sid) {
					t.Fatal("A still has the session after Close")
				}
			}
			if tc.closeA == "before" {
				closeA()
			}
			if b.Has(sid) {
				t.Fatal("B has A's session before adopting it")
			}

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			local, err := b.Adopt(ctx, alice, sealed)
			if err != nil {
				t.Fatal(err)
			}
			if !b.Has(local) || local == sid {
				t.Fatalf("Adopt = %q: Has %v (A's id %q)", local, b.Has(local), sid)
			}
			if tc.closeA == "after" {
				closeA()
			}
			mt.move(urlB, sid, local)
			before := mt.requests.Load()
			for _, tool := range []string{"one_count", "two_count"} {
				if got := callText(t, cs, tool); got != tc.want {
					t.Errorf("%s on B = %s, want %s", tool, got, tc.want)
				}
			}
			one.mu.Lock()
			fast := strings.Contains(one.call, `"id":"mcpgate-`) // the fast path's ids
			one.mu.Unlock()
			if fast != tc.fast {
				t.Errorf("tools/call on B took the fast path: %v, want %v", fast, tc.fast)
			}
			tools, err := cs.ListTools(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(tools.Tools) != 4 {
				t.Errorf("tools/list on B lists %d tools, want 4", len(tools.Tools))
			}
			if !tc.fast {
				if got := callText(t, cs, "one_ask"); got != "sampled=via-b" || sampled.Load() != 1 {
					t.Errorf("one_ask on B = %q, client sampled %d times; want sampled=via-b, once", got, sampled.Load())
				}
			}
			if mt.requests.Load() == before {
				t.Fatal("no request reached B")
			}
			if got, ok := b.Export(local); !ok || (tc.want == "2" && (len(got) != 2 || got[0] != want[0] || got[1] != want[1])) {
				t.Errorf("B's Export = %v, %v; want the resumed sessions %v", got, ok, want)
			}
			// The server→client stream of the adopted session opens on B.
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, urlB, nil)
			req.Header.Set("Accept", "text/event-stream")
			req.Header.Set("Mcp-Session-Id", local)
			req.Header.Set("MCP-Protocol-Version", "2025-11-25")
			gctx, gcancel := context.WithCancel(ctx)
			resp, err := http.DefaultClient.Do(req.WithContext(gctx))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
				t.Errorf("GET on B: HTTP %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if tc.closeA != "" && tc.handoff {
				// A backend's request of no call comes on its listening
				// stream, which B has taken over from A, and reaches the
				// client on its own listening stream with B.
				go answerOnStream(t, resp, urlB, local, "later-via-b")
				var got string
				var err error
				waitFor(func() bool {
					// Refused at once while the backend has no stream.
					got, err = one.askOutsideCall(ctx, want[0].ID)
					return err == nil
				})
				if err != nil || got != "later-via-b" {
					t.Errorf("sampling outside a call through B: %q, %v; want later-via-b", got, err)
				}
			}
			gcancel()
			resp.Body.Close()
		})
	}
}

// exportWriter calls Export when the initialize's answer writes its
// headers, as the sealed-session stage does, and keeps what it returned.
type exportWriter struct {
	http.ResponseWriter
	agg  *Aggregator
	got  *[]sessionseal.Backend
	done bool
}

func (w *exportWriter) WriteHeader(code int) {
	if sid := w.Header().Get("Mcp-Session-Id"); sid != "" && !w.done {
		w.done = true
		*w.got, _ = w.agg.Export(sid)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *exportWriter) Write(p []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

func (w *exportWriter) Flush() { w.ResponseWriter.(http.Flusher).Flush() }

// TestExportAtInitializeResponse: when the initialize's answer writes its
// headers, every backend that answered is connected, and Export names its
// session; a backend that was down then is left out.
func TestExportAtInitializeResponse(t *testing.T) {
	for _, down := range []bool{false, true} {
		t.Run("two down "+strconv.FormatBool(down), func(t *testing.T) {
			one, two := newCounterBackend(t, "one"), newCounterBackend(t, "two")
			two.down.Store(down)
			agg := newAggregator(t, Options{Backends: []Backend{one.backend(t), two.backend(t)}})
			var got []sessionseal.Backend
			h := observe.New(nil)(inspect.New(inspect.Options{})(agg))
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h.ServeHTTP(&exportWriter{ResponseWriter: w, agg: agg, got: &got}, r)
			}))
			t.Cleanup(srv.Close)
			t.Cleanup(func() { _ = agg.Close(context.Background()) })
			rawInit(t, srv.URL, true)
			_, _, oneIDs := one.stats()
			want := []sessionseal.Backend{{Name: "one", ID: oneIDs[0]}}
			if !down {
				_, _, twoIDs := two.stats()
				want = append(want, sessionseal.Backend{Name: "two", ID: twoIDs[0]})
			}
			if len(got) != len(want) || got[0] != want[0] || len(want) == 2 && got[1] != want[1] {
				t.Errorf("Export at the initialize's answer = %v, want %v", got, want)
			}
		})
	}
}

// TestAdoptSendsNoInitialize: a replica that has initialized a backend
// before resumes another replica's session with it without sending it an
// initialize; one that has not opens (and ends) one session to learn the
// backend's answer, once.
func TestAdoptSendsNoInitialize(t *testing.T) {
	one := newCounterBackend(t, "one")
	opts := Options{Backends: []Backend{one.backend(t)}}
	a, b := newAggregator(t, opts), newAggregator(t, opts)
	urlA := front(t, a, nil)
	front(t, b, nil)
	adopt := func() {
		t.Helper()
		cs := clientSessionPath(t, urlA, true, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := b.Adopt(ctx, alice, sealedOf(t, a, cs.ID(), `{}`)); err != nil {
			t.Fatal(err)
		}
	}
	adopt()
	inits1, deletes1, _ := one.stats()
	if inits1 != 2 || deletes1 != 1 {
		// A's session, and B's one to learn what the backend answers.
		t.Errorf("after the first adoption the backend got %d initialize and %d DELETE, want 2 and 1", inits1, deletes1)
	}
	adopt()
	inits2, _, _ := one.stats()
	if inits2 != inits1+1 {
		t.Errorf("the second adoption cost %d initialize, want only A's own session's", inits2-inits1-1)
	}
}

// TestAdoptBackendSessionGone: a backend whose sealed session is gone is
// connected afresh for the adopted session, which goes on with the others
// as they were.
func TestAdoptBackendSessionGone(t *testing.T) {
	one, two := newCounterBackend(t, "one"), newCounterBackend(t, "two")
	opts := Options{Backends: []Backend{one.backend(t), two.backend(t)}}
	a, b := newAggregator(t, opts), newAggregator(t, opts)
	urlA, urlB := front(t, a, nil), front(t, b, nil)
	sidA := rawInit(t, urlA, true)
	rawCall(t, urlA, sidA, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"one_count","arguments":{}}}`)
	rawCall(t, urlA, sidA, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"two_count","arguments":{}}}`)
	sealed := sealedOf(t, a, sidA, `{}`)
	two.deleteSession(t, sealed.Backends[1].ID)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	local, err := b.Adopt(ctx, alice, sealed)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ tool, want string }{{"one_count", "2"}, {"two_count", "1"}} {
		out := rawCall(t, urlB, local, `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"`+tc.tool+`","arguments":{}}}`)
		if !strings.Contains(out, `"text":"`+tc.want+`"`) {
			t.Errorf("%s on B: %s, want count %s", tc.tool, out, tc.want)
		}
	}
	got, _ := b.Export(local)
	_, _, twoIDs := two.stats()
	if len(got) != 2 || got[0] != sealed.Backends[0] || got[1].ID != twoIDs[len(twoIDs)-1] || got[1].ID == sealed.Backends[1].ID {
		t.Errorf("B's Export = %v: want one's resumed session and two's new one", got)
	}
}

// TestAdoptBackendDownResumesLater: a backend that cannot be reached, or
// fails the listing, when the session is adopted is resumed, not replaced,
// once it is back — the failed attempt did not end its session: the
// session's state goes on.
func TestAdoptBackendDownResumesLater(t *testing.T) {
	cases := []struct {
		name string
		flag func(*counterBackend) *atomic.Bool
	}{
		{"unreachable", func(b *counterBackend) *atomic.Bool { return &b.down }},
		{"listing fails after the ping", func(b *counterBackend) *atomic.Bool { return &b.failLists }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			one, two := newCounterBackend(t, "one"), newCounterBackend(t, "two")
			backends := func() []Backend {
				bs := []Backend{one.backend(t), two.backend(t)}
				for i := range bs {
					bs[i].InitialBackoff, bs[i].MaxBackoff = 10*time.Millisecond, 10*time.Millisecond
				}
				return bs
			}
			a, b := newAggregator(t, Options{Backends: backends()}), newAggregator(t, Options{Backends: backends()})
			urlA, urlB := front(t, a, nil), front(t, b, nil)
			// B learns the backends' initialize results first: the
			// failure is then the resumption's own.
			rawInit(t, urlB, true)
			sidA := rawInit(t, urlA, true)
			rawCall(t, urlA, sidA, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"one_count","arguments":{}}}`)
			sealed := sealedOf(t, a, sidA, `{}`)

			tc.flag(one).Store(true)
			_, deletes, _ := one.stats()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			local, err := b.Adopt(ctx, alice, sealed)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := b.Export(local); len(got) != 2 || got[0] != sealed.Backends[0] {
				t.Errorf("B's Export while one fails = %v: want one's sealed session still to resume", got)
			}
			if _, d, _ := one.stats(); d != deletes {
				t.Errorf("the failed resumption sent the backend %d DELETE", d-deletes)
			}
			tc.flag(one).Store(false)
			// A message after the back-off reconnects it (in the
			// background: a call meanwhile is told it is unavailable,
			// and reaches no backend).
			var out string
			waitFor(func() bool {
				resp := rawPostMCP(t, urlB, local, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"one_count","arguments":{}}}`)
				raw, _ := io.ReadAll(resp.Body)
				out = string(raw)
				return !strings.Contains(out, "unavailable")
			})
			if !strings.Contains(out, `"text":"2"`) {
				t.Errorf("one_count on B once one is back: %s, want count 2 (its session resumed)", out)
			}
		})
	}
}

// TestAdoptRefused: what Adopt will not take, and Export and Has of a
// session that is not there.
func TestAdoptRefused(t *testing.T) {
	one := newCounterBackend(t, "one")
	b := newAggregator(t, Options{Backends: []Backend{one.backend(t)}, MaxSessions: 1})
	front(t, b, nil)
	if _, ok := b.Export("nope"); ok || b.Has("nope") {
		t.Error("Export or Has of an unknown session says it is live")
	}
	ctx := context.Background()
	cases := []struct {
		name   string
		sealed *sessionseal.Session
		is     error
	}{
		{name: "no session"},
		{name: "stateless revision", sealed: &sessionseal.Session{Protocol: "2026-07-28"}},
		{name: "no revision", sealed: &sessionseal.Session{}},
		{name: "capabilities not JSON", sealed: &sessionseal.Session{Protocol: "2025-11-25", Capabilities: "{"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := b.Adopt(ctx, alice, tc.sealed); err == nil {
				t.Fatal("adopted")
			}
			if n := b.OpenSessions(); n != 0 {
				t.Errorf("%d sessions open after a refusal", n)
			}
		})
	}
	t.Run("session cap", func(t *testing.T) {
		ok := &sessionseal.Session{Protocol: "2025-11-25"}
		if _, err := b.Adopt(ctx, alice, ok); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Adopt(ctx, alice, ok); !errors.Is(err, ErrSessionLimit) {
			t.Errorf("Adopt beyond MaxSessions: %v, want ErrSessionLimit", err)
		}
	})
}

// BenchmarkAdopt: adopting a session of two HTTP backends on a replica
// that has initialized them before (resumption and relisting, no
// initialize), dropping it again without ending the backend sessions.
func BenchmarkAdopt(b *testing.B) {
	one, two := newCounterBackend(b, "one"), newCounterBackend(b, "two")
	opts := Options{Backends: []Backend{one.backend(b), two.backend(b)}, MaxSessions: 1 << 20, MaxSessionsPerPrincipal: 1 << 20}
	a, r := newAggregator(b, opts), newAggregator(b, opts)
	urlA, urlR := front(b, a, nil), front(b, r, nil)
	sid := rawInitB(b, urlA)
	backends, _ := a.Export(sid)
	sealed := &sessionseal.Session{Backends: backends, Protocol: "2025-11-25", ClientName: "bench", ClientVersion: "1", Capabilities: `{}`}
	ctx := context.Background()
	if _, err := r.Adopt(ctx, alice, sealed); err != nil { // learns the initialize results
		b.Fatal(err)
	}
	b.Run("adopt", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			local, err := r.Adopt(ctx, alice, sealed)
			if err != nil {
				b.Fatal(err)
			}
			s := r.sessionByID(local)
			s.detached.Store(true)
			_ = s.ss.Close()
		}
	})
	// For comparison: a new session, initialized by the client.
	b.Run("initialize", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s := r.sessionByID(rawInitB(b, urlR))
			s.detached.Store(true)
			_ = s.ss.Close()
		}
	})
}

func rawInitB(b *testing.B, url string) string {
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("Mcp-Session-Id")
}

// TestGone: which answers to a resumed session's request say the session
// is gone, and the body stays readable.
func TestGone(t *testing.T) {
	cases := []struct {
		name string
		code int
		body string
		want bool
	}{
		{"not found", http.StatusNotFound, "session not found\n", true},
		{"gone", http.StatusGone, "", true},
		{"bad request, plain", http.StatusBadRequest, "Bad Request: No valid session ID provided", true},
		{"bad request, error of no request", http.StatusBadRequest, `{"jsonrpc":"2.0","error":{"code":-32000,"message":"Bad Request: No valid session ID provided"},"id":null}`, true},
		{"bad request answering the request", http.StatusBadRequest, `{"jsonrpc":"2.0","id":2,"error":{"code":-32600,"message":"duplicate in-flight request ID 2"}}`, false},
		{"conflict (listening stream held)", http.StatusConflict, "stream ID conflicts with ongoing stream", false},
		{"no listening stream", http.StatusMethodNotAllowed, "", false},
		{"ok", http.StatusOK, "{}", false},
		{"unavailable", http.StatusServiceUnavailable, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tc.code, Body: io.NopCloser(strings.NewReader(tc.body))}
			if got := gone(resp); got != tc.want {
				t.Errorf("gone = %v, want %v", got, tc.want)
			}
			if b, _ := io.ReadAll(resp.Body); string(b) != tc.body {
				t.Errorf("body after = %q, want %q", b, tc.body)
			}
		})
	}
}

// syncBuf is a goroutine-safe log sink.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAdoptedSessionTakesTheClientsInitialized: the client's own
// notifications/initialized reaching a replica that adopted its session
// (the balancer sent the initialize to one replica and the notification
// to another) is answered 202 without reaching the SDK, which would log a
// duplicate as an error.
func TestAdoptedSessionTakesTheClientsInitialized(t *testing.T) {
	one := newCounterBackend(t, "one")
	var logs syncBuf
	opts := Options{Backends: []Backend{one.backend(t)}}
	a := newAggregator(t, opts)
	opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b := newAggregator(t, opts)
	urlA, urlB := front(t, a, nil), front(t, b, nil)
	cs := clientSessionPath(t, urlA, true, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	local, err := b.Adopt(ctx, alice, sealedOf(t, a, cs.ID(), `{}`))
	if err != nil {
		t.Fatal(err)
	}
	c := &rawClient{t: t, url: urlB, client: http.DefaultClient}
	if resp := c.post(local, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("notifications/initialized on the adopting replica: HTTP %d, want 202", resp.StatusCode)
	}
	// The SDK handles a notification after answering 202; a request sent
	// after it is handled after it.
	if resp := c.post(local, `{"jsonrpc":"2.0","id":2,"method":"ping"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("ping: HTTP %d", resp.StatusCode)
	}
	if strings.Contains(logs.String(), "duplicate") {
		t.Fatalf("the adopting replica logged a duplicate notifications/initialized:\n%s", logs.String())
	}
}
