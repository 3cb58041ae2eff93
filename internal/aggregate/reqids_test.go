//lint:file-ignore SA1019 sampling is deprecated as of 2026-07-28, but 2025-11-25 clients and servers use it and the gateway must pass it through.

package aggregate

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgate/mcpgate/internal/sse"
)

// Two replicas serving one session at once, as behind a round-robin load
// balancer with no affinity: each holds its own copy of the session, with
// its own SDK client sessions on the same backend sessions.

// replica is one copy of the client's session: where it is served, and
// the id it has there.
type replica struct {
	url *url.URL
	sid string
}

// roundRobin sends a client's requests to the replicas in turn, each under
// the id the session has there (what the sealed-session stage does with
// the token the client holds, which is the first replica's id here).
type roundRobin struct {
	mu       sync.Mutex
	replicas []replica
	next     int
	caps     string // the capabilities of the client's initialize, as sent
}

func (rr *roundRobin) add(target, sid string) {
	u, _ := url.Parse(target)
	rr.mu.Lock()
	rr.replicas = append(rr.replicas, replica{u, sid})
	rr.mu.Unlock()
}

func (rr *roundRobin) RoundTrip(r *http.Request) (*http.Response, error) {
	r, caps, isInit, err := initializeCaps(r)
	if err != nil {
		return nil, err
	}
	if isInit {
		rr.mu.Lock()
		rr.caps = caps
		rr.mu.Unlock()
	}
	rr.mu.Lock()
	if len(rr.replicas) < 2 {
		rr.mu.Unlock()
		return http.DefaultTransport.RoundTrip(r)
	}
	token := rr.replicas[0].sid
	to := rr.replicas[rr.next%len(rr.replicas)]
	rr.next++
	rr.mu.Unlock()
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = to.url.Scheme, to.url.Host, to.url.Host
	if r.Header.Get("Mcp-Session-Id") == token {
		r.Header.Set("Mcp-Session-Id", to.sid)
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && resp.Header.Get("Mcp-Session-Id") == to.sid {
		resp.Header.Set("Mcp-Session-Id", token)
	}
	return resp, err
}

// twoCopies opens a session on a (a client that declared sampling, so
// that its calls take the SDK path), has b adopt it, and returns the
// client session, its requests then going to a and b in turn.
func twoCopies(t *testing.T, a, b *Aggregator) (*mcp.ClientSession, *roundRobin) {
	t.Helper()
	urlA, urlB := front(t, a, nil), front(t, b, nil)
	rr := &roundRobin{}
	c := mcp.NewClient(&mcp.Implementation{Name: "mover", Version: "1"}, &mcp.ClientOptions{
		Capabilities: &mcp.ClientCapabilities{Sampling: &mcp.SamplingCapabilities{}},
		CreateMessageHandler: func(context.Context, *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			return &mcp.CreateMessageResult{Model: "m", Role: "assistant", Content: &mcp.TextContent{Text: "s"}}, nil
		},
	})
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint: urlA, HTTPClient: &http.Client{Transport: rr}, MaxRetries: -1,
		DisableStandaloneSSE: true,
	}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	rr.mu.Lock()
	sent := rr.caps
	rr.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	local, err := b.Adopt(ctx, alice, sealedOf(t, a, cs.ID(), sent))
	if err != nil {
		t.Fatal(err)
	}
	rr.add(urlA, cs.ID())
	rr.add(urlB, local)
	return cs, rr
}

// addSlowTool gives the backend a tool "slow" that takes d: calls of two
// copies are then in flight on the backend session together.
func (b *counterBackend) addSlowTool(d time.Duration) {
	b.server.AddTool(&mcp.Tool{Name: "slow", InputSchema: map[string]any{"type": "object"}},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ok"}}}, nil
		})
}

// TestTwoCopiesConcurrentCalls: calls on the SDK path served by two copies
// of one session at once never meet on the backend session under one
// JSON-RPC id (each copy's SDK client numbers its requests from 1: the
// backend refused the second of two, "duplicate in-flight request ID"),
// and both copies go on with the same backend session.
//
// Not a backend's sampling request mid-call: the client's answer goes
// wherever the load balancer sends it, and only the copy that asked can
// use it (docs/aggregation.md, Sessions across replicas).
func TestTwoCopiesConcurrentCalls(t *testing.T) {
	one := newCounterBackend(t, "one")
	one.addSlowTool(50 * time.Millisecond)
	opts := Options{Backends: []Backend{one.backend(t)}, Handoff: true}
	a, b := newAggregator(t, opts), newAggregator(t, opts)
	cs, _ := twoCopies(t, a, b)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const n = 24
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		const tool = "one_slow"
		wg.Go(func() {
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: map[string]any{}})
			switch {
			case err != nil:
				errs <- fmt.Errorf("%s: %w", tool, err)
			case res.IsError:
				errs <- fmt.Errorf("%s: tool error %s", tool, text(res))
			}
		})
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		failed++
		if failed <= 3 || testing.Verbose() {
			t.Error(err)
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d concurrent calls failed", failed, n)
	}
	// Alternately through A and B: one backend session's count goes on.
	for want := 1; want <= 4; want++ {
		if got := callText(t, cs, "one_count"); got != strconv.Itoa(want) {
			t.Fatalf("call %d of one_count = %s, want %d", want, got, want)
		}
	}
	// Two: the session's, and the one B opened, and ended, to learn the
	// backend's initialize answer.
	if inits, deletes, _ := one.stats(); inits != 2 || deletes != 1 {
		t.Errorf("backend saw %d initialize, %d DELETE; want 2, 1", inits, deletes)
	}
}

// TestIDTransportRewrites: what a connection's round tripper rewrites on
// the way out (requests' integer ids, and notifications/cancelled naming
// one) and back (results and errors carrying them), and what it leaves as
// it is.
func TestIDTransportRewrites(t *testing.T) {
	tr := newIDTransport(nil, 0)
	p := string(tr.prefix) // `"mcpgate.<tag>.`
	cases := []struct {
		name    string
		out     bool // sent to the backend (else received)
		in      string
		want    string // "" : unchanged
		wantAny bool   // the rewritten form is JSON equal to want, not byte-equal (encoding/json)
	}{
		{name: "request", out: true, in: `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x","arguments":{"id":7}}}`,
			want: `{"jsonrpc":"2.0","id":` + p + `7","method":"tools/call","params":{"name":"x","arguments":{"id":7}}}`},
		{name: "string id left alone", out: true, in: `{"jsonrpc":"2.0","id":"mcpgate-x-1","method":"tools/call","params":{}}`},
		{name: "cancelled", out: true, in: `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":12,"reason":"r"}}`,
			want: `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":` + p + `12","reason":"r"}}`},
		{name: "cancelled of a fast call left alone", out: true, in: `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"mcpgate-x-1"}}`},
		{name: "progress left alone", out: true, in: `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":3,"progress":1}}`},
		{name: "answer to the backend left alone", out: true, in: `{"jsonrpc":"2.0","id":4,"result":{}}`},
		{name: "batch", out: true, in: `[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"result":{}},{"jsonrpc":"2.0","id":3,"method":"ping"}]`,
			want: `[{"jsonrpc":"2.0","id":` + p + `1","method":"ping"},{"jsonrpc":"2.0","id":2,"result":{}},{"jsonrpc":"2.0","id":` + p + `3","method":"ping"}]`},
		{name: "strictly invalid request", out: true, in: `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"arguments":{"a":1,"A":2}}}`,
			want: `{"id":` + p + `5","jsonrpc":"2.0","method":"tools/call","params":{"arguments":{"a":1,"A":2}}}`, wantAny: true},

		{name: "result", in: `{"jsonrpc":"2.0","id":` + p + `7","result":{"content":[]}}`, want: `{"jsonrpc":"2.0","id":7,"result":{"content":[]}}`},
		{name: "error", in: `{"jsonrpc":"2.0","id":` + p + `7","error":{"code":-32600,"message":"m"}}`, want: `{"jsonrpc":"2.0","id":7,"error":{"code":-32600,"message":"m"}}`},
		{name: "another connection's id left alone", in: `{"jsonrpc":"2.0","id":"mcpgate.other.7","result":{}}`},
		{name: "a tampered id left alone", in: `{"jsonrpc":"2.0","id":` + p + `7x","result":{}}`},
		{name: "the backend's request left alone", in: `{"jsonrpc":"2.0","id":` + p + `7","method":"ping"}`},
		{name: "the id in a result left alone", in: `{"jsonrpc":"2.0","id":` + p + `7","result":{"structuredContent":{"id":` + p + `7"}}}`,
			want: `{"jsonrpc":"2.0","id":7,"result":{"structuredContent":{"id":` + p + `7"}}}`},
		{name: "batch of answers", in: `[{"jsonrpc":"2.0","id":` + p + `1","result":{}},{"jsonrpc":"2.0","id":` + p + `2","result":{}}]`,
			want: `[{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","id":2,"result":{}}]`},
		{name: "strictly invalid result", in: `{"jsonrpc":"2.0","id":` + p + `9","result":{"a":1,"A":2}}`,
			want: `{"id":9,"jsonrpc":"2.0","result":{"a":1,"A":2}}`, wantAny: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []byte
			if tc.out {
				got = tr.outgoing([]byte(tc.in))
			} else {
				got = tr.incoming([]byte(tc.in))
			}
			switch {
			case tc.want == "" && got != nil:
				t.Fatalf("rewrote %s to %s", tc.in, got)
			case tc.want == "":
			case tc.wantAny && !jsonEqual(t, got, tc.want), !tc.wantAny && string(got) != tc.want:
				t.Fatalf("rewrote %s\n to %s\nwant %s", tc.in, got, tc.want)
			}
			if got != nil && tc.out {
				// And back: the answer of the backend to it.
				var m struct {
					ID json.RawMessage `json:"id"`
				}
				if json.Unmarshal(got, &m) == nil && len(m.ID) > 0 {
					back := tr.incoming([]byte(`{"jsonrpc":"2.0","id":` + string(m.ID) + `,"result":{}}`))
					if !strings.Contains(string(back), `"id":`) || strings.Contains(string(back), "mcpgate") {
						t.Errorf("the answer to %s came back as %s", got, back)
					}
				}
			}
		})
	}
}

func jsonEqual(t *testing.T, got []byte, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		return false
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	return string(gb) == string(wb)
}

// TestIDTransportStreams: the ids of answers in a JSON body and in an
// event stream's events come back as the SDK sent them; every other byte
// of the stream (comments, other events, an event's id and retry fields)
// passes as it is, and a multi-line data event is written anew with its
// fields.
func TestIDTransportStreams(t *testing.T) {
	var tr *idTransport
	var body, ctype string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(sent), `"id":`+string(tr.prefix)+`1"`) {
			t.Errorf("the backend got %s", sent)
		}
		w.Header().Set("Content-Type", ctype)
		_, _ = io.WriteString(w, strings.ReplaceAll(body, "ID", string(tr.prefix)+`1"`))
	}))
	defer srv.Close()
	tr = newIDTransport(http.DefaultTransport, 0)
	cases := []struct {
		name, ctype, body, want string
	}{
		{"json", "application/json", `{"jsonrpc":"2.0","id":ID,"result":{}}`, `{"jsonrpc":"2.0","id":1,"result":{}}`},
		{"events", "text/event-stream",
			": hello\n\nevent: message\nid: e1\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1}}\n\n" +
				"id: e2\r\nretry: 500\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":ID,\"result\":{}}\r\n\r\n",
			": hello\n\nevent: message\nid: e1\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1}}\n\n" +
				"id: e2\r\nretry: 500\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\r\n\r\n"},
		{"multi-line data", "text/event-stream",
			"id: e3\nretry: 250\ndata: {\"jsonrpc\":\"2.0\",\ndata: \"id\":ID,\"result\":{}}\n\n",
			"retry: 250\nid: e3\ndata: {\"jsonrpc\":\"2.0\",\ndata: \"id\":1,\"result\":{}}\n\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, ctype = tc.body, tc.ctype
			req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("read %q\nwant %q", got, tc.want)
			}
		})
	}
}

// BenchmarkIDTransport is the round tripper's cost on one tools/call: the
// request out, its answer back, as a JSON body and as an event stream
// with a progress notification before the answer.
func BenchmarkIDTransport(b *testing.B) {
	tr := newIDTransport(nil, 0)
	req := []byte(`{"jsonrpc":"2.0","id":1234,"method":"tools/call","params":{"name":"echo","arguments":{"message":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},"_meta":{"progressToken":"p1","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}}`)
	answer := []byte(`{"jsonrpc":"2.0","id":` + string(tr.wrap([]byte("1234"))) + `,"result":{"content":[{"type":"text","text":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}]}}`)
	stream := "event: message\nid: 1_0\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":\"p1\",\"progress\":1}}\n\n" +
		"event: message\nid: 1_1\ndata: " + string(answer) + "\n\n"
	b.Run("request", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if tr.outgoing(req) == nil {
				b.Fatal("not rewritten")
			}
		}
	})
	b.Run("json answer", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if tr.incoming(answer) == nil {
				b.Fatal("not rewritten")
			}
		}
	})
	b.Run("event stream", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			src := io.NopCloser(strings.NewReader(stream))
			body := &sseIDBody{t: tr, src: src, rd: sse.NewReader(src, tr.maxEvent)}
			n, _ := io.Copy(io.Discard, body)
			if n >= int64(len(stream)) {
				b.Fatal("not rewritten")
			}
		}
	})
}

// TestFastIDsDifferAcrossReplicas: the ids two replicas' fast paths send
// a backend differ by more than their counters, which start at the same
// place in every process ("mcpgate-N" met, and was refused, when two
// replicas served one session's fast calls at once).
func TestFastIDsDifferAcrossReplicas(t *testing.T) {
	one := newCounterBackend(t, "one")
	opts := Options{Backends: []Backend{one.backend(t)}}
	var prefixes []string
	for range 2 {
		url := front(t, newAggregator(t, opts), nil)
		sid := rawInit(t, url, true)
		for range 2 {
			rawCall(t, url, sid, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"one_count","arguments":{}}}`)
			one.mu.Lock()
			var m struct {
				ID string `json:"id"`
			}
			err := json.Unmarshal([]byte(one.call), &m)
			one.mu.Unlock()
			i := strings.LastIndexByte(m.ID, '-')
			if err != nil || !strings.HasPrefix(m.ID, "mcpgate-") || i < 0 {
				t.Fatalf("the fast path sent the id %q (%v)", m.ID, err)
			}
			prefixes = append(prefixes, m.ID[:i])
		}
	}
	if prefixes[0] != prefixes[1] || prefixes[2] != prefixes[3] || prefixes[0] == prefixes[2] {
		t.Errorf("fast-path ids without their counters %q: want one per replica, two replicas apart", prefixes)
	}
}
