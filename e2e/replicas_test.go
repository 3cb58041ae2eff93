package e2e

// Issue 16, many replicas: three gateway processes sharing sessions.keys
// behind a real HAProxy with balance roundrobin and no stickiness, in
// front of one server-everything over Streamable HTTP, with API-key
// principals A and B. Every request lands on whichever replica HAProxy
// picks; HAProxy's log says which (harness_haproxy_test.go).

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// replicaFixture is the replicas, HAProxy in front of them, the two
// principals and the session keys.
type replicaFixture struct {
	rs      *replicaSet
	ha      *haproxy
	haPort  int
	a, b    apiKey
	keys    map[string]string // session key id → its file
	backend backendSpec
}

func newReplicaFixture(t *testing.T, n int, backend backendSpec) *replicaFixture {
	t.Helper()
	f := &replicaFixture{
		rs:      newReplicaSet(t, n),
		haPort:  freeClosedPort(t),
		a:       newAPIKey(t, "replica-principal-a"),
		b:       newAPIKey(t, "replica-principal-b"),
		keys:    map[string]string{},
		backend: backend,
	}
	dir := t.TempDir()
	for _, id := range []string{"k1", "k2"} {
		// base64 of 32 random bytes, mode 0600: the format of every
		// mcpgate key file.
		_, f.keys[id] = writePseudonymKey(t, dir, "session-"+id)
	}
	return f
}

// config is replica i's configuration, its sessions.keys the keys ids in
// order (the first seals, all open).
func (f *replicaFixture) config(i int, ids ...string) string {
	c := gatewayConfig{port: f.rs.ports[i], backends: []backendSpec{f.backend}}
	// auth.resource is what clients use: HAProxy's URL.
	c.auth = fmt.Sprintf("\n  mode: apiKey\n  resource: http://127.0.0.1:%d/mcp\n  apiKeys:\n    %s\n    %s", f.haPort, f.a.Entry, f.b.Entry)
	var b strings.Builder
	// drainDelay covers HAProxy's health check (inter 100ms, fall 1) and
	// then some: a request HAProxy sent just before it saw /readyz go 503
	// may still sit in the kernel's accept queue.
	b.WriteString("timeouts: {shutdown: 10s, drainDelay: 300ms}\n")
	if len(ids) > 0 {
		fmt.Fprintf(&b, "sessions:\n  replica: %s\n  keys:\n", f.rs.names[i])
		for _, id := range ids {
			fmt.Fprintf(&b, "    - {id: %s, file: %q}\n", id, f.keys[id])
		}
	}
	c.extra = b.String()
	return c.String()
}

func (f *replicaFixture) startAll(t *testing.T, ids ...string) {
	t.Helper()
	for i := range f.rs.ports {
		f.rs.start(t, i, f.config(i, ids...))
	}
}

// rollAll restarts every replica in turn with keys ids, each back in
// HAProxy before the next goes.
func (f *replicaFixture) rollAll(t *testing.T, ids ...string) {
	t.Helper()
	for i := range f.rs.ports {
		f.rs.restart(t, i, f.config(i, ids...))
		f.ha.waitUp(t, f.rs.names[i])
	}
}

func hdr(k apiKey) map[string]string { return map[string]string{"X-API-Key": k.Key} }

// sdkConnector is what connectAs connects: a goClient (SDK flows with
// handlers) or a bare Go SDK client.
type sdkConnector interface {
	Connect(context.Context, mcp.Transport, *mcp.ClientSessionOptions) (*mcp.ClientSession, error)
}

// connectAs connects c to url, a load balancer's, as the principal of key.
func connectAs(ctx context.Context, t *testing.T, c sdkConnector, url string, key apiKey) *mcp.ClientSession {
	t.Helper()
	hc := &http.Client{Transport: &headerTransport{base: http.DefaultTransport, headers: hdr(key)}}
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: hc, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatalf("Connect through %s: %v", url, err)
	}
	return cs
}

// requireSealed fails unless sid is a sealed token under key id.
func requireSealed(t *testing.T, sid, id string) {
	t.Helper()
	if !strings.HasPrefix(sid, "1."+id+".") || len(sid) > 2048 {
		t.Fatalf("Mcp-Session-Id %.40q… (%d characters) is not a token sealed under %s (\"1.%s.…\", ≤ 2048)", sid, len(sid), id, id)
	}
}

// requireSpread fails unless HAProxy sent the requests of session sid to
// at least two replicas, the DELETE that ended it among them with a 2xx,
// and the gateways' own request lines since before agree that at least
// two replicas served requests.
func (f *replicaFixture) requireSpread(t *testing.T, sid string, before []int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if slices.ContainsFunc(f.ha.lines(), func(e haLine) bool {
			return e.session == sid && e.method == http.MethodDelete && e.status >= 200 && e.status < 300
		}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("HAProxy logged no 2xx DELETE of the session; its log:\n%s", tail(f.ha.Log.String(), 4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
	by := f.ha.servers(sid)
	t.Logf("HAProxy sent the session's requests to %v", by)
	if len(by) < 2 {
		t.Errorf("the session's requests all went to %v, want at least two replicas", by)
	}
	after := f.rs.served()
	n := 0
	for i := range after {
		if after[i] > before[i] {
			n++
		}
	}
	if n < 2 {
		t.Errorf("request lines logged per replica went from %v to %v: fewer than two replicas served", before, after)
	}
}

// TestReplicas is issue 16's end-to-end test of sealed sessions: three
// replicas, HAProxy round-robin without stickiness, one HTTP backend.
func TestReplicas(t *testing.T) {
	t.Parallel()
	haproxyBin(t)
	f := newReplicaFixture(t, 3, httpBackend(startEverythingHTTP(t)))
	f.startAll(t, "k1")
	f.ha = startHAProxy(t, f.rs, haproxyOpts{port: f.haPort})
	t.Logf("haproxy.cfg:\n%s", f.ha.Cfg)

	t.Run("Go SDK flow", func(t *testing.T) {
		before := f.rs.served()
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		c := newGoClient("mcpgate-e2e-replicas-go")
		cs := connectAs(ctx, t, c, f.ha.URL(), f.a)
		sid := cs.ID()
		requireSealed(t, sid, "k1")
		goSDKCalls(ctx, t, c, cs, "replicas")
		if err := cs.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		f.requireSpread(t, sid, before)
	})

	t.Run("TypeScript SDK flow", func(t *testing.T) {
		before := f.rs.served()
		r := runTSClient(t, f.ha.URL(), hdr(f.a))
		checkTSResult(t, r)
		requireSealed(t, r.SessionID, "k1")
		f.requireSpread(t, r.SessionID, before)
	})

	t.Run("binding: B with A's token gets 404 everywhere", func(t *testing.T) {
		sid := openSession(t, f.ha.URL(), 1, "e2e-replicas-binding", hdr(f.a))
		requireSealed(t, sid, "k1")
		targets := []string{}
		for i := range f.rs.ports {
			targets = append(targets, f.rs.url(i))
		}
		for range f.rs.ports {
			targets = append(targets, f.ha.URL())
		}
		skip := len(f.ha.lines())
		for n, u := range targets {
			r := postMCP(t, u, sid, echoBody(strconv.Itoa(10+n), "as B"), hdr(f.b))
			requireSessionNotFound(t, r, "B with A's token at "+u)
			// A's token still works there: the 404 is B's, not the session's.
			ok := postMCP(t, u, sid, echoBody(strconv.Itoa(100+n), "as A"), hdr(f.a))
			if res := ok.result(t, "A's own call at "+u); fmt.Sprint(res["isError"]) == "true" {
				t.Errorf("A's own call at %s: isError: %s", u, ok.body)
			}
		}
		// HAProxy spread B's attempts over the replicas too.
		refused := map[string]int{}
		for _, e := range f.ha.lines()[skip:] {
			if e.status == http.StatusNotFound {
				refused[e.server]++
			}
		}
		if len(refused) != len(f.rs.ports) {
			t.Errorf("B's 404s through HAProxy came from %v, want every replica", refused)
		}
	})

	t.Run("SIGKILL one replica under load", func(t *testing.T) {
		sids, heads := f.openSessions(t, 20)
		l := startReplicaLoad(f.ha.URL(), sids, heads)
		time.Sleep(1500 * time.Millisecond)
		const victim = 1
		killAt := time.Now()
		f.rs.sigkill(t, victim)
		killed := time.Now()
		time.Sleep(2 * time.Second)
		res := l.finish()

		// In flight on the victim at its death: the requests HAProxy had
		// sent to it that were active at some instant between the signal
		// and the process being gone. HAProxy logs each request once it
		// ends, with its accept date and times (ms): active from
		// accept+Tt-Ta to accept+Tt. The window is widened by 50 ms on
		// each side for the millisecond resolution and the log's
		// rounding, which can only make the bound larger, never hide a
		// failure. The gateway's own log cannot say this: a request
		// in flight at SIGKILL is never logged.
		lo, hi := killAt.Add(-50*time.Millisecond), killed.Add(50*time.Millisecond)
		inflight := 0
		for _, e := range f.ha.lines() {
			if e.server == f.rs.names[victim] && !e.start.After(hi) && !e.end.Before(lo) {
				inflight++
			}
		}
		failed := failures(res)
		// HAProxy (2.6) closes the client's connection without an answer
		// and without a log line for some requests it had just sent to the
		// replica as it died (seen: 0 to 4 a run; DroppedLogs stays 0).
		// Such a call, ended within the kill window with no HAProxy line
		// on its connection, can only have been in flight on the victim
		// (no survivor failed anything, checked below), and is counted so;
		// any other unlogged failure is not.
		unlogged := 0
		for _, r := range failed {
			if r.port != "" && f.ha.onPort(r.port, r.start, r.end) == "" && !r.end.Before(lo) && !r.end.After(hi) {
				unlogged++
			}
		}
		t.Logf("%d calls, %d failed; in flight on %s at the kill: %d logged by HAProxy, %d closed by it unlogged (DroppedLogs %s)",
			len(res), len(failed), f.rs.names[victim], inflight, unlogged, f.ha.info(t, "DroppedLogs"))
		inflight += unlogged
		if inflight == 0 {
			t.Fatalf("no request was in flight on %s at the kill: the load did not reach it", f.rs.names[victim])
		}
		if len(failed) > inflight {
			var b strings.Builder
			for _, r := range failed {
				fmt.Fprintf(&b, "  session %d, port %s: HAProxy on that connection:\n%s", r.session, r.port, f.ha.onPort(r.port, r.start.Add(-time.Second), r.end.Add(time.Second)))
			}
			t.Errorf("%d calls failed, more than the %d in flight on the killed replica (kill %s … %s):\n%s%s",
				len(failed), inflight, killAt.Format(time.StampMilli), killed.Format(time.StampMilli), describe(failed), b.String())
		}
		for _, r := range failed {
			if r.end.Before(killAt) || r.start.After(hi) {
				t.Errorf("a call failed outside the kill (%v … %v, kill at %v): %v", r.start.Format(time.StampMilli), r.end.Format(time.StampMilli), killAt.Format(time.StampMilli), r.err)
			}
		}
		// Every failure HAProxy saw was on the victim.
		for _, e := range f.ha.lines() {
			if e.status != http.StatusOK && e.status != http.StatusAccepted && e.status != http.StatusNotFound && e.server != f.rs.names[victim] && e.end.After(killAt.Add(-time.Second)) {
				t.Errorf("HAProxy logged a failure on a survivor: %s", e.original)
			}
		}
		// No session is lost: each works on the survivors.
		f.requireSessionsWork(t, sids, heads)
		// Back for the next subtests.
		f.rs.start(t, victim, f.config(victim, "k1"))
		f.ha.waitUp(t, f.rs.names[victim])
	})

	t.Run("rolling restart under load", func(t *testing.T) {
		sids, heads := f.openSessions(t, 20)
		l := startReplicaLoad(f.ha.URL(), sids, heads)
		time.Sleep(time.Second)
		// What an operator does: take the replica out of HAProxy (drain: no
		// new requests), SIGTERM it at once — the calls it has in flight
		// finish in mcpgate's own drain —, start it again, put it back.
		// A request HAProxy dispatched just before the drain may still be
		// in the kernel's accept queue at the signal: timeouts.drainDelay
		// keeps the listener open that long (without it, about one run in
		// ten reset one such request).
		var gens []*gateway
		var termAt []time.Time
		for i := range f.rs.ports {
			f.ha.setState(t, f.rs.names[i], "drain")
			termAt = append(termAt, time.Now())
			g := f.rs.restart(t, i, f.config(i, "k1"))
			f.ha.setState(t, f.rs.names[i], "ready")
			f.ha.waitUp(t, f.rs.names[i])
			gens = append(gens, g)
			time.Sleep(500 * time.Millisecond)
		}
		res := l.finish()
		// The drain was exercised: calls were in flight on each replica
		// at its SIGTERM (from HAProxy's log, as for the kill above).
		drained := 0
		for i, at := range termAt {
			n := 0
			for _, e := range f.ha.lines() {
				if e.server == f.rs.names[i] && !e.start.After(at) && !e.end.Before(at) {
					n++
				}
			}
			t.Logf("%s: %d calls in flight at SIGTERM", f.rs.names[i], n)
			drained += n
		}
		if drained == 0 {
			t.Errorf("no call was in flight on any replica at its SIGTERM: the drain was not exercised")
		}
		failed := failures(res)
		t.Logf("rolling restart: %d calls, %d failed", len(res), len(failed))
		if len(failed) > 0 {
			t.Errorf("%d of %d calls failed during the rolling restart, want none:\n%s\nHAProxy's lines of the first one's session around it:\n%s", len(failed), len(res), describe(failed),
				f.ha.around(failed[0].start.Add(-time.Second), failed[0].end.Add(time.Second), sids[failed[0].session]))
		}
		for i, g := range gens {
			if len(g.requests()) == 0 {
				t.Errorf("the restarted %s served no request", f.rs.names[i])
			}
		}
		f.requireSessionsWork(t, sids, heads)
	})

	t.Run("key rotation", func(t *testing.T) {
		old := openSession(t, f.ha.URL(), 1, "e2e-replicas-rotation", hdr(f.a))
		requireSealed(t, old, "k1")
		everywhere := func(t *testing.T, sid string, want int) {
			t.Helper()
			for i := range f.rs.ports {
				r := postMCP(t, f.rs.url(i), sid, echoBody("7", "rotation"), hdr(f.a))
				switch want {
				case http.StatusOK:
					r.result(t, fmt.Sprintf("a session sealed under %s at %s", sid[2:4], f.rs.names[i]))
				case http.StatusNotFound:
					requireSessionNotFound(t, r, fmt.Sprintf("a session sealed under %s at %s", sid[2:4], f.rs.names[i]))
				}
			}
		}
		// k2 added last: it opens, k1 still seals.
		f.rollAll(t, "k1", "k2")
		everywhere(t, old, http.StatusOK)
		requireSealed(t, openSession(t, f.ha.URL(), 2, "e2e-replicas-rotation", hdr(f.a)), "k1")
		// k2 first: it seals, k1 still opens.
		f.rollAll(t, "k2", "k1")
		everywhere(t, old, http.StatusOK)
		fresh := openSession(t, f.ha.URL(), 3, "e2e-replicas-rotation", hdr(f.a))
		requireSealed(t, fresh, "k2")
		everywhere(t, fresh, http.StatusOK)
		// k1 removed: its sessions are gone, k2's work.
		f.rollAll(t, "k2")
		everywhere(t, old, http.StatusNotFound)
		everywhere(t, fresh, http.StatusOK)
	})
}

// requireSessionNotFound fails unless r is the gateway's 404 for an
// unknown session.
func requireSessionNotFound(t *testing.T, r mcpReply, what string) {
	t.Helper()
	code, msg, ok := r.rpcError()
	if r.status != http.StatusNotFound || !ok || code != -32001 || !strings.Contains(strings.ToLower(msg), "session not found") {
		t.Errorf("%s: status %d, error %d %q, want 404 with -32001 session not found; body %s", what, r.status, code, msg, tail(r.body, 400))
	}
}

// openSessions opens n sessions through HAProxy, alternately as A and B.
func (f *replicaFixture) openSessions(t *testing.T, n int) ([]string, []map[string]string) {
	t.Helper()
	var sids []string
	var heads []map[string]string
	for i := range n {
		h := hdr(f.a)
		if i%2 == 1 {
			h = hdr(f.b)
		}
		sids = append(sids, openSession(t, f.ha.URL(), 1, fmt.Sprintf("e2e-replicas-load-%d", i), h))
		heads = append(heads, h)
	}
	return sids, heads
}

// requireSessionsWork calls echo on each session through HAProxy, three
// times (so that round-robin takes it to every replica).
func (f *replicaFixture) requireSessionsWork(t *testing.T, sids []string, heads []map[string]string) {
	t.Helper()
	c := &http.Client{Timeout: callTimeout}
	for i, sid := range sids {
		for n := range len(f.rs.ports) {
			if err := replicaCall(c, f.ha.URL(), sid, strconv.Itoa(900_000+n), heads[i], echoBody); err != nil {
				t.Errorf("session %d after the fault: %v", i, err)
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Load across replicas

// callResult is one call of a replica load.
type callResult struct {
	session    int
	start, end time.Time
	err        error
	port       string // the client's source port, "" when no connection was had
}

type replicaLoad struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	results []callResult
}

// slowCall is a tools/call that takes 200 ms in server-everything, so that
// several are in flight on every replica at any moment.
func slowCall(id, _ string) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"trigger-long-running-operation","arguments":{"duration":0.2,"steps":1}}}`, id)
}

// startReplicaLoad runs, per session, a goroutine calling slowCall in a
// loop through url until finish, each with its own keep-alive client.
func startReplicaLoad(url string, sids []string, heads []map[string]string) *replicaLoad {
	l := &replicaLoad{stop: make(chan struct{})}
	for w, sid := range sids {
		l.wg.Go(func() {
			c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			defer c.CloseIdleConnections()
			for n := 1; ; n++ {
				select {
				case <-l.stop:
					return
				default:
				}
				start := time.Now()
				var port string
				trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
					if a, ok := i.Conn.LocalAddr().(*net.TCPAddr); ok {
						port = strconv.Itoa(a.Port)
					}
				}}
				ctx := httptrace.WithClientTrace(context.Background(), trace)
				err := replicaCallCtx(ctx, c, url, sid, strconv.Itoa((w+1)*10_000+n), heads[w], slowCall)
				l.mu.Lock()
				l.results = append(l.results, callResult{session: w, start: start, end: time.Now(), err: err, port: port})
				l.mu.Unlock()
			}
		})
	}
	return l
}

func (l *replicaLoad) finish() []callResult {
	close(l.stop)
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]callResult(nil), l.results...)
}

func failures(res []callResult) []callResult {
	var out []callResult
	for _, r := range res {
		if r.err != nil {
			out = append(out, r)
		}
	}
	return out
}

func describe(res []callResult) string {
	var b strings.Builder
	for i, r := range res {
		if i == 20 {
			fmt.Fprintf(&b, "… and %d more\n", len(res)-i)
			break
		}
		fmt.Fprintf(&b, "  session %d, port %s, %s … %s: %v\n", r.session, r.port, r.start.Format(time.StampMilli), r.end.Format(time.StampMilli), r.err)
	}
	return b.String()
}

// replicaCall POSTs the tools/call body(id) on session sid with headers
// and requires a 200 answering id with a result that is not isError.
// Goroutine-safe.
func replicaCall(c *http.Client, url, sid, id string, headers map[string]string, body func(id, msg string) string) error {
	return replicaCallCtx(context.Background(), c, url, sid, id, headers, body)
}

func replicaCallCtx(ctx context.Context, c *http.Client, url, sid, id string, headers map[string]string, body func(id, msg string) string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body(id, "replicas "+id)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", sessionProto)
	req.Header.Set("Mcp-Session-Id", sid)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	r := rawResponse{status: resp.StatusCode, header: resp.Header, body: string(b)}
	if err != nil {
		return fmt.Errorf("status %d, reading the body: %w", r.status, err)
	}
	for _, d := range r.jsonDocs() {
		m, ok := parseRPCMsg(d)
		if !ok || !m.idIs(id) {
			continue
		}
		if r.status != http.StatusOK || m.Error != nil || m.isToolError() {
			break
		}
		return nil
	}
	return fmt.Errorf("status %d, body %s", r.status, tail(r.body, 300))
}

// stdioAffinity is what HAProxy needs for backends that cannot move (a
// stdio child lives in one replica): learn each session's id from the
// response that creates it (the first request of a session carries none,
// so any replica may create it), then route every request carrying it to
// that replica. Tokens are at most 2048 characters.
const stdioAffinity = `    # A stdio session lives in the replica that created it: learn its id from the
    # response that creates it, route every later request carrying it there.
    stick-table type string len 2048 size 100k expire 30m
    stick store-response res.hdr(Mcp-Session-Id)
    stick match req.hdr(Mcp-Session-Id)
`

// TestReplicasStdioPinned: a stdio session cannot move. Its token names its
// replica; another replica answers 404 and logs a warning that names
// affinity. Through HAProxy without affinity the session breaks; with the
// stick table of stdioAffinity (the snippet of docs/deployment.md) the
// full Go SDK flow works across two replicas, each session on its own.
func TestReplicasStdioPinned(t *testing.T) {
	t.Parallel()
	haproxyBin(t)
	f := newReplicaFixture(t, 2, stdioBackend())
	f.startAll(t, "k1")

	t.Run("another replica refuses it, naming affinity", func(t *testing.T) {
		sid := openSession(t, f.rs.url(0), 1, "e2e-replicas-stdio", hdr(f.a))
		requireSealed(t, sid, "k1")
		r := postMCP(t, f.rs.url(1), sid, echoBody("2", "pinned"), hdr(f.a))
		requireSessionNotFound(t, r, "gw-1 with a stdio session of gw-0")
		if _, ok := f.rs.cur(1).Log.waitFor(5*time.Second, func(l string) bool {
			return strings.Contains(l, `"level":"WARN"`) && strings.Contains(l, "pinned to another replica") &&
				strings.Contains(l, "affinity") && strings.Contains(l, `"owner":"gw-0"`)
		}); !ok {
			t.Errorf("gw-1 logged no warning naming the owner gw-0 and affinity; its log:\n%s", tail(f.rs.cur(1).Log.String(), 3000))
		}
		// Its own replica still serves it.
		postMCP(t, f.rs.url(0), sid, echoBody("3", "home"), hdr(f.a)).result(t, "the session at gw-0")
		if d := deleteMCP(t, f.rs.url(0), sid, hdr(f.a)); d.status/100 != 2 {
			t.Errorf("DELETE at gw-0: status %d", d.status)
		}
	})

	t.Run("round-robin without affinity breaks it", func(t *testing.T) {
		ha := startHAProxy(t, f.rs, haproxyOpts{port: f.haPort})
		status, sid, body := rawPost(t, ha.URL(), "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e-replicas-stdio-rr","version":"1"}}}`, "X-API-Key", f.a.Key)
		if status != http.StatusOK || sid == "" {
			t.Fatalf("initialize through HAProxy: status %d, session %q, body %s", status, sid, body)
		}
		notFound := 0
		for n := range 4 {
			if r := postMCP(t, ha.URL(), sid, echoBody(strconv.Itoa(2+n), "rr"), hdr(f.a)); r.status == http.StatusNotFound {
				notFound++
			}
		}
		if notFound == 0 {
			t.Errorf("4 calls round-robin over 2 replicas all reached the creator: HAProxy did not balance (%v)", ha.servers(sid))
		}
		ha.halt() // its port is the next one's: auth.resource names it
	})

	t.Run("with affinity, full sessions work", func(t *testing.T) {
		ha := startHAProxy(t, f.rs, haproxyOpts{port: f.haPort, backend: stdioAffinity})
		t.Logf("haproxy.cfg:\n%s", ha.Cfg)
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		c := newGoClient("mcpgate-e2e-replicas-stdio")
		cs := connectAs(ctx, t, c, ha.URL(), f.a)
		sid := cs.ID()
		requireSealed(t, sid, "k1")
		goSDKCalls(ctx, t, c, cs, "stdio replicas")
		if err := cs.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		// More sessions: new ones are balanced, each stays where it began.
		sessions := map[string]bool{sid: true}
		for n := range 4 {
			s := openSession(t, ha.URL(), 1, fmt.Sprintf("e2e-replicas-stdio-%d", n), hdr(f.a))
			for k := range 3 {
				postMCP(t, ha.URL(), s, echoBody(strconv.Itoa(2+k), "sticky"), hdr(f.a)).result(t, "a call of a sticky session")
			}
			sessions[s] = true
		}
		used := map[string]bool{}
		for s := range sessions {
			by := ha.servers(s)
			if len(by) != 1 {
				t.Errorf("a session's requests went to %v, want one replica", by)
			}
			for name := range by {
				used[name] = true
			}
		}
		if len(used) != 2 {
			t.Errorf("the sessions were all created on %v, want both replicas", used)
		}
		for _, e := range ha.lines() {
			if e.status == http.StatusNotFound {
				t.Errorf("a 404 through HAProxy with affinity: %s", e.original)
			}
		}
	})
}

// TestReplicasStdioNginx: open-source nginx cannot learn a session id from
// a response, so it cannot send a stdio session's requests to the replica
// that created it by the id. What it can do is pin a client address: with
// hash $remote_addr consistent, every request of one client reaches one
// replica, and the full Go SDK flow works over a stdio backend across two
// replicas (correct only while a client's address stays the same).
func TestReplicasStdioNginx(t *testing.T) {
	t.Parallel()
	nginxBin(t)
	f := newReplicaFixture(t, 2, stdioBackend())
	f.startAll(t, "k1")
	ng := startNginx(t, f.rs, f.haPort, "hash $remote_addr consistent;")
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	c := newGoClient("mcpgate-e2e-replicas-nginx")
	cs := connectAs(ctx, t, c, ng.URL(), f.a)
	sid := cs.ID()
	requireSealed(t, sid, "k1")
	goSDKCalls(ctx, t, c, cs, "nginx")
	if err := cs.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if by := ng.upstreams(sid); len(by) != 1 {
		t.Errorf("the session's requests went to %v, want one replica", by)
	}
}

// TestReplicasStateless: 2026-07-28 traffic needs no session at all. A Go
// SDK client (its default revision: server/discover, then stateless
// requests) calls a backend that speaks 2026-07-28 through three sealed
// replicas behind HAProxy round robin: no Mcp-Session-Id is issued, and
// the calls are served by every replica.
func TestReplicasStateless(t *testing.T) {
	t.Parallel()
	haproxyBin(t)
	// The Go SDK serves 2026-07-28 only from a stateless handler.
	server := mcp.NewServer(&mcp.Implementation{Name: "era", Version: "1"}, nil)
	server.AddTool(&mcp.Tool{Name: "greet", InputSchema: map[string]any{"type": "object"}},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "greetings from era"}}}, nil
		})
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, &mcp.StreamableHTTPOptions{Stateless: true}))
	t.Cleanup(srv.Close)
	f := newReplicaFixture(t, 3, httpBackend(srv.URL+"/mcp"))
	f.startAll(t, "k1")
	f.ha = startHAProxy(t, f.rs, haproxyOpts{port: f.haPort})
	before := f.rs.served()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	c := mcp.NewClient(&mcp.Implementation{Name: "mcpgate-e2e-replicas-stateless", Version: "1"}, nil)
	cs := connectAs(ctx, t, c, f.ha.URL(), f.a)
	defer cs.Close()
	if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
		t.Fatalf("negotiated %s, want 2026-07-28", v)
	}
	if cs.ID() != "" {
		t.Fatalf("a 2026-07-28 client got Mcp-Session-Id %.40q: stateless traffic needs none", cs.ID())
	}
	for i := range 6 {
		if got := callText(ctx, t, cs, &mcp.CallToolParams{Name: "greet", Arguments: map[string]any{}}); got != "greetings from era" {
			t.Fatalf("call %d: %q", i, got)
		}
	}
	after := f.rs.served()
	for i := range after {
		if after[i] == before[i] {
			t.Errorf("replica %s served none of the calls (request lines %v → %v)", f.rs.names[i], before, after)
		}
	}
}
