package e2e

// Several gateway processes behind a real HAProxy (Debian's haproxy): the
// replicas of issue 16. A replica keeps its port across restarts, so that
// HAProxy, which knows its servers by address, sees it go and come back.
// HAProxy's own log (one line per request, on its stderr) says which
// replica it sent each request to, with the request's Mcp-Session-Id and
// its timing; the tests read routing from it, and the gateways' request
// lines confirm it.

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// haproxyBin returns the haproxy executable. Without one the test is
// skipped, except where MCPGATE_REQUIRE_HAPROXY=1 (set by .ci/run, which
// installs it): there a skip would count a check that never ran as a pass.
func haproxyBin(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("haproxy")
	if err != nil {
		// Debian installs it in /usr/sbin, which a user's PATH may lack.
		if _, serr := os.Stat("/usr/sbin/haproxy"); serr == nil {
			return "/usr/sbin/haproxy"
		}
		if os.Getenv("MCPGATE_REQUIRE_HAPROXY") == "1" {
			t.Fatal("haproxy is not installed and MCPGATE_REQUIRE_HAPROXY=1: .ci/run installs it (Debian: apt-get install haproxy)")
		}
		t.Skip("haproxy is not installed (Debian: apt-get install haproxy); .ci/run installs it")
	}
	return p
}

// ---------------------------------------------------------------------------
// The replicas

// replicaSet is n gateway processes, replica i listening on ports[i] under
// the name names[i] (sessions.replica). Its methods are for the test's
// goroutine, except cur.
type replicaSet struct {
	// t is the test that owns the replicas: each process, whichever
	// subtest starts it, lives until t's cleanup (startGatewayEnv only uses
	// its goroutine-safe methods).
	t     *testing.T
	ports []int
	names []string
	env   []string
	mu    sync.Mutex
	gws   []*gateway // the running process of each replica (the last one started)
	all   [][]*gateway
}

// startReplicas starts n gateways, replica i with the configuration
// config(i) (which must listen on rs.ports[i]); config is called after
// the ports and names are chosen.
func newReplicaSet(t *testing.T, n int) *replicaSet {
	t.Helper()
	rs := &replicaSet{t: t, gws: make([]*gateway, n), all: make([][]*gateway, n)}
	for i := range n {
		rs.ports = append(rs.ports, freeClosedPort(t))
		rs.names = append(rs.names, fmt.Sprintf("gw-%d", i))
	}
	return rs
}

// start starts replica i with cfg, on its port, and waits until it serves;
// the process belongs to rs.t, not to t (a subtest). A port the previous
// process's sockets still hold is retried, bounded.
func (rs *replicaSet) start(t *testing.T, i int, cfg string) *gateway {
	t.Helper()
	path := filepath.Join(rs.t.TempDir(), "mcpgate.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		var g *gateway
		g, err = startGatewayEnv(rs.t, rs.env, "serve", "--config", path)
		if err == nil {
			rs.mu.Lock()
			rs.gws[i] = g
			rs.all[i] = append(rs.all[i], g)
			rs.mu.Unlock()
			return g
		}
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("replica %s: %v", rs.names[i], err)
	return nil
}

// cur returns replica i's running process; goroutine-safe.
func (rs *replicaSet) cur(i int) *gateway {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.gws[i]
}

// url is replica i's MCP URL, straight, without HAProxy.
func (rs *replicaSet) url(i int) string { return fmt.Sprintf("http://127.0.0.1:%d/mcp", rs.ports[i]) }

// stop ends replica i with SIGTERM (the drain) and requires a clean exit.
func (rs *replicaSet) stop(t *testing.T, i int) {
	t.Helper()
	if err := rs.cur(i).stop(); err != nil {
		t.Fatalf("replica %s did not exit cleanly after SIGTERM: %v\nlog:\n%s", rs.names[i], err, tail(rs.cur(i).Log.String(), 8000))
	}
}

// restart stops replica i (SIGTERM, clean exit) and starts it again with
// cfg on the same port.
func (rs *replicaSet) restart(t *testing.T, i int, cfg string) *gateway {
	t.Helper()
	rs.stop(t, i)
	return rs.start(t, i, cfg)
}

// sigkill kills replica i with SIGKILL: no drain, no goodbye on any
// connection.
func (rs *replicaSet) sigkill(t *testing.T, i int) {
	t.Helper()
	g := rs.cur(i)
	g.killed.Store(true)
	g.kill(t)
}

// served counts, per replica, the request lines logged for requests to the
// MCP endpoint by every process the replica has run.
func (rs *replicaSet) served() []int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := make([]int, len(rs.all))
	for i, gs := range rs.all {
		for _, g := range gs {
			out[i] += len(g.requests())
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// HAProxy

// haproxy is a running haproxy in front of a replicaSet.
type haproxy struct {
	*proc
	port  int
	Cfg   string // the configuration it runs, for failure messages and reports
	names []string
	sock  string // the runtime API's socket
}

// command sends one line to HAProxy's runtime API and returns its answer.
func (h *haproxy) command(t *testing.T, line string) string {
	t.Helper()
	c, err := net.DialTimeout("unix", h.sock, 5*time.Second)
	if err != nil {
		t.Fatalf("haproxy runtime API: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		t.Fatalf("haproxy runtime API %q: %v", line, err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("haproxy runtime API %q: %v", line, err)
	}
	return strings.TrimSpace(string(b))
}

// info returns a field of HAProxy's "show info" (e.g. DroppedLogs).
func (h *haproxy) info(t *testing.T, field string) string {
	t.Helper()
	for _, l := range strings.Split(h.command(t, "show info"), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == field {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// setState sets a replica's administrative state in HAProxy: "drain" (no
// new requests; those in flight go on) or "ready".
func (h *haproxy) setState(t *testing.T, name, state string) {
	t.Helper()
	if out := h.command(t, "set server mcpgate/"+name+" state "+state); out != "" {
		t.Fatalf("haproxy: set server mcpgate/%s state %s: %s", name, state, out)
	}
}

// URL is the MCP URL clients use: through HAProxy.
func (h *haproxy) URL() string { return fmt.Sprintf("http://127.0.0.1:%d/mcp", h.port) }

// haproxyOpts tunes the configuration startHAProxy writes.
type haproxyOpts struct {
	// port is the listen port; 0 picks a free one. A test whose gateways
	// name HAProxy's URL (auth.resource) picks it first.
	port int
	// backend is extra lines for the backend section (each indented by
	// four and ending in "\n"), e.g. the stick table of stdio affinity.
	backend string
}

// haproxyConfig is the configuration of the tests: what an operator
// would run, with the health checks made fast so that a test sees a
// replica leave and return within a second. Placeholders: %[1]d the
// listen port, %[2]s the backend's extra lines, %[3]s the server lines,
// %[4]s the runtime API's socket.
const haproxyConfig = `# HAProxy in front of mcpgate replicas that share sessions.keys (issue 16).
global
    # One line per request on stderr (haproxy -db keeps it in the foreground).
    log stderr format raw local0
    maxconn 4096
    # The runtime API: a replica is taken out (set server ... state drain)
    # before it is stopped, as an operator (or Kubernetes, with the
    # endpoints and preStop) does.
    stats socket %[4]s mode 600 level admin

defaults
    mode http
    log global
    # The log line the tests parse: server, status, accept date (s.ms), Tt
    # and Ta (ms), termination state, retries, method, client port,
    # Mcp-Session-Id.
    log-format "E2E %%s %%ST %%Ts.%%ms %%Tt %%Ta %%tsc %%rc %%HM %%cp %%[capture.req.hdr(0)]"
    timeout connect 2s
    # SSE: a response stream (progress, a server's requests) and the
    # standalone GET stream may stay quiet for long; the client's and the
    # server's side both get an hour, like a long tool call would need.
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout queue 10s
    timeout check 1s
    # A replica that refuses the connection (stopped, or draining: mcpgate
    # closes its listener at SIGTERM) costs nothing: the request was not
    # sent, so it is retried, each retry on another replica (redispatch 1).
    # Only conn-failure: a request that reached a replica is never replayed,
    # because a tools/call is not idempotent; a replica that dies with a
    # request in flight fails that request, and the client sees it.
    retries 3
    option redispatch 1
    retry-on conn-failure
    # A new connection to a replica for every request: HAProxy keeps no idle
    # connection to a replica that could close it (mcpgate closes its idle
    # connections when it drains; a killed replica's are gone) just as a
    # request is sent on it, which would not be retried. A refused
    # connection is retried above.
    option http-server-close

frontend mcp
    bind 127.0.0.1:%[1]d
    # Sealed session ids are at most 2048 characters.
    http-request capture req.hdr(Mcp-Session-Id) len 2048
    default_backend mcpgate

backend mcpgate
    balance roundrobin
    # /readyz on the public listener turns 503 the moment a replica starts
    # draining; fall 1 takes it out at the first failed check, rise 1 puts
    # it back at the first good one (production: inter 2s fall 2 rise 2).
    option httpchk GET /readyz
    http-check expect status 200
    default-server check inter 100ms fall 1 rise 1
%[2]s%[3]s`

// startHAProxy writes the configuration for rs's replicas and starts
// `haproxy -f cfg -db`, waiting until every replica is up in it (its
// health checks pass). It is stopped at cleanup.
func startHAProxy(t *testing.T, rs *replicaSet, opts haproxyOpts) *haproxy {
	t.Helper()
	bin := haproxyBin(t)
	port := opts.port
	if port == 0 {
		port = freeClosedPort(t)
	}
	var servers strings.Builder
	for i, p := range rs.ports {
		fmt.Fprintf(&servers, "    server %s 127.0.0.1:%d\n", rs.names[i], p)
	}
	dir := t.TempDir()
	// A short path of its own: a unix socket's path has at most 107 bytes,
	// and HAProxy reads a comma (subtest names have them) as a list.
	sockDir, err := os.MkdirTemp("", "mcpgate-hap-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	sock := filepath.Join(sockDir, "sock")
	cfg := fmt.Sprintf(haproxyConfig, port, opts.backend, servers.String(), sock)
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s\nconfiguration:\n%s", err, out, cfg)
	}
	cmd := exec.Command(bin, "-f", path, "-db")
	cmd.Dir = t.TempDir()
	p, err := startProc(cmd)
	if err != nil {
		t.Fatal(err)
	}
	h := &haproxy{proc: p, port: port, Cfg: cfg, names: rs.names, sock: sock}
	t.Cleanup(func() {
		p.halt()
		if t.Failed() {
			t.Logf("haproxy log:\n%s", tail(p.Log.String(), 6000))
		}
	})
	if err := waitAccepts(fmt.Sprintf("127.0.0.1:%d", port), peerStartTimeout); err != nil {
		t.Fatalf("haproxy does not accept on port %d: %v\nlog:\n%s", port, err, p.Log.String())
	}
	h.waitUp(t, rs.names...)
	return h
}

// waitUp waits until HAProxy routes to every named replica: a request
// straight to its health check is not enough, HAProxy must have seen it.
// It watches HAProxy's own "is UP" lines (the start counts as up once the
// first check passed, which HAProxy does not log), so it sends probes
// through HAProxy until each named replica has answered one.
func (h *haproxy) waitUp(t *testing.T, names ...string) {
	t.Helper()
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	deadline := time.Now().Add(20 * time.Second)
	c := &http.Client{Timeout: 5 * time.Second}
	for len(want) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("HAProxy did not route to %v within 20s; log:\n%s", keys(want), tail(h.Log.String(), 4000))
		}
		// GET /healthz is not logged by the gateways (outside the MCP
		// chain), so probes do not disturb the request counts.
		skip := len(h.Log.Lines())
		resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", h.port))
		if err == nil {
			resp.Body.Close()
			time.Sleep(20 * time.Millisecond)
			for _, l := range h.Log.Lines()[skip:] {
				if e, ok := parseHALine(l); ok && e.status == 200 {
					delete(want, e.server)
				}
			}
			continue
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// haLine is one request as HAProxy logged it.
type haLine struct {
	server   string // the replica's name; "<NOSRV>" when none was chosen
	status   int    // -1 when no response was sent
	start    time.Time
	end      time.Time
	term     string // termination state, e.g. "----", "SH--"
	retries  string // "+N" when redispatched
	method   string
	port     string // the client's source port
	session  string // Mcp-Session-Id, "" when none
	original string
}

// parseHALine parses an "E2E ..." line of haproxyConfig's log-format:
// server, status, accept date, Tt, Ta, termination state, retries, method,
// client port, session id. The request was active from accept+Tt-Ta (after the idle wait
// of a keep-alive connection) to accept+Tt.
func parseHALine(l string) (haLine, bool) {
	i := strings.Index(l, "E2E ")
	if i < 0 {
		return haLine{}, false
	}
	f := strings.Fields(l[i+4:])
	if len(f) != 10 {
		return haLine{}, false
	}
	e := haLine{server: f[0], term: f[5], retries: f[6], method: f[7], port: f[8], session: f[9], original: l}
	var err error
	if e.status, err = strconv.Atoi(f[1]); err != nil {
		return haLine{}, false
	}
	accept, err := strconv.ParseFloat(f[2], 64)
	if err != nil {
		return haLine{}, false
	}
	tt, err1 := strconv.Atoi(f[3])
	ta, err2 := strconv.Atoi(f[4])
	if err1 != nil || err2 != nil {
		return haLine{}, false
	}
	e.end = time.UnixMilli(int64(accept*1000 + 0.5)).Add(time.Duration(tt) * time.Millisecond)
	e.start = e.end.Add(-time.Duration(ta) * time.Millisecond)
	if e.session == "-" {
		e.session = ""
	}
	return e, true
}

// lines returns every request HAProxy logged so far.
func (h *haproxy) lines() []haLine {
	var out []haLine
	for _, l := range h.Log.Lines() {
		if e, ok := parseHALine(l); ok {
			out = append(out, e)
		}
	}
	return out
}

// around renders the lines of requests active at some instant between lo
// and hi (of session sid, unless ""), with their times, for failure
// messages.
func (h *haproxy) around(lo, hi time.Time, sid string) string {
	var b strings.Builder
	for _, e := range h.lines() {
		if !e.start.After(hi) && !e.end.Before(lo) && (sid == "" || e.session == sid) {
			fmt.Fprintf(&b, "  %s … %s %s %d %s retries %s %s port %s session %.24s…\n", e.start.Format(time.StampMilli), e.end.Format(time.StampMilli),
				e.server, e.status, e.term, e.retries, e.method, e.port, e.session)
		}
	}
	return b.String()
}

// onPort renders the lines of requests from client port port that were
// active at some instant between lo and hi.
func (h *haproxy) onPort(port string, lo, hi time.Time) string {
	var b strings.Builder
	for _, e := range h.lines() {
		if e.port == port && !e.start.After(hi) && !e.end.Before(lo) {
			fmt.Fprintf(&b, "    %s … %s %s %d %s retries %s %s\n", e.start.Format(time.StampMilli), e.end.Format(time.StampMilli),
				e.server, e.status, e.term, e.retries, e.method)
		}
	}
	return b.String()
}

// servers returns, for requests carrying session sid, how many HAProxy
// sent to each replica.
func (h *haproxy) servers(sid string) map[string]int {
	out := map[string]int{}
	for _, e := range h.lines() {
		if e.session == sid {
			out[e.server]++
		}
	}
	return out
}
