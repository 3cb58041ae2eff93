package e2e

// Helpers of the fault tests (faults_test.go). Every name here starts with
// "fault", so that it cannot collide with the helpers of other files in this
// package. They are goroutine-safe where they say so: the fault tests drive
// load from several goroutines and must not call t.Fatal off the test's own.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// faultProto is the protocol revision every raw request of these tests
// speaks: a session-based one, so that sessions (and stdio children) exist.
const faultProto = "2025-06-18"

// faultHTTPClient has no overall timeout (it would cut the SSE streams the
// tests read event by event); every request is bounded by a context instead.
func faultHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
}

// faultMsg is one JSON-RPC message of a response (a JSON body, or the data
// of one SSE event).
type faultMsg struct {
	Raw    string          `json:"-"`
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// idIs reports whether the message's id is the JSON literal id.
func (m faultMsg) idIs(id string) bool { return string(m.ID) == id }

// isError reports whether a tool result says isError: true.
func (m faultMsg) isToolError() bool {
	var r struct {
		IsError bool `json:"isError"`
	}
	return json.Unmarshal(m.Result, &r) == nil && r.IsError
}

func faultParseMsg(doc string) (faultMsg, bool) {
	var m faultMsg
	if json.Unmarshal([]byte(doc), &m) != nil {
		return faultMsg{}, false
	}
	m.Raw = doc
	return m, true
}

// faultPost POSTs one JSON-RPC message on session sid (none when "") and
// reads the whole response, bounded by timeout. Goroutine-safe: failures are
// returned, not reported.
func faultPost(c *http.Client, url, sid, body string, timeout time.Duration) (rawResponse, []faultMsg, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return rawResponse{}, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", faultProto)
	if sid != "" {
		req.Header.Set("Mcp-Session-Id", sid)
	}
	resp, err := c.Do(req)
	if err != nil {
		return rawResponse{}, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	r := rawResponse{status: resp.StatusCode, header: resp.Header, body: string(b)}
	if err != nil {
		return r, nil, fmt.Errorf("reading the body: %w", err)
	}
	var msgs []faultMsg
	for _, d := range r.jsonDocs() {
		if m, ok := faultParseMsg(d); ok {
			msgs = append(msgs, m)
		}
	}
	return r, msgs, nil
}

// faultEchoBody is a tools/call of echo; id is a JSON literal.
func faultEchoBody(id, message string) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"echo","arguments":{"message":%q}}}`, id, message)
}

// faultSlowBody is a tools/call of server-everything's
// trigger-long-running-operation (seconds long, one progress notification
// per step under token).
func faultSlowBody(id, token string, seconds, steps int) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"trigger-long-running-operation","arguments":{"duration":%d,"steps":%d},"_meta":{"progressToken":%q}}}`,
		id, seconds, steps, token)
}

// faultEcho calls echo on session sid and checks the answer: 200 with the
// echoed text, no JSON-RPC error, no isError. Goroutine-safe.
func faultEcho(c *http.Client, url, sid, id, message string, timeout time.Duration) error {
	r, msgs, err := faultPost(c, url, sid, faultEchoBody(id, message), timeout)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if !m.idIs(id) {
			continue
		}
		if r.status != http.StatusOK || m.Error != nil || m.isToolError() || !strings.Contains(string(m.Result), "Echo: "+message) {
			break
		}
		return nil
	}
	return &faultBadReply{id: id, status: r.status, body: r.body}
}

// faultBadReply is an HTTP exchange that completed with the wrong answer,
// as opposed to a connection that failed.
type faultBadReply struct {
	id     string
	status int
	body   string
}

func (e *faultBadReply) Error() string {
	return fmt.Sprintf("echo %s: status %d, body %s", e.id, e.status, tail(e.body, 500))
}

// faultInit opens a session (initialize, then notifications/initialized)
// and returns its id. Goroutine-safe; the reply is returned for callers
// that accept a refusal (503 during a start back-off).
func faultInit(c *http.Client, url, id string) (string, rawResponse, error) {
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":"initialize","params":{"protocolVersion":%q,"capabilities":{},"clientInfo":{"name":"e2e-fault","version":"1"}}}`, id, faultProto)
	r, msgs, err := faultPost(c, url, "", body, 30*time.Second)
	if err != nil {
		return "", r, err
	}
	sid := r.header.Get("Mcp-Session-Id")
	if r.status != http.StatusOK || sid == "" || len(msgs) == 0 || msgs[0].Result == nil {
		return "", r, fmt.Errorf("initialize: status %d, session %q, body %s", r.status, sid, tail(r.body, 500))
	}
	n, _, err := faultPost(c, url, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, 30*time.Second)
	if err != nil {
		return "", n, err
	}
	if n.status != http.StatusAccepted {
		return "", n, fmt.Errorf("notifications/initialized: status %d, body %s", n.status, tail(n.body, 500))
	}
	return sid, r, nil
}

// ---------------------------------------------------------------------------
// A response read event by event

// faultStream is one POST whose SSE response is read as it arrives.
type faultStream struct {
	status int
	header http.Header
	msgs   chan faultMsg // each event's JSON-RPC message, in order; closed at the end of the body
	err    error         // how the body ended: nil for a clean end; valid once msgs is closed
	done   chan struct{} // closed with msgs, for checks that must not consume messages

	unterminated string // the data of an event the body ended inside of; valid once msgs is closed
}

// ended reports, without reading, whether the response has ended.
func (s *faultStream) ended() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// faultOpenStream POSTs body on session sid and starts reading the response
// (which must be an event stream) in the background; ctx bounds it all.
func faultOpenStream(ctx context.Context, c *http.Client, url, sid, body string) (*faultStream, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", faultProto)
	req.Header.Set("Mcp-Session-Id", sid)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	s := &faultStream{status: resp.StatusCode, header: resp.Header, msgs: make(chan faultMsg, 64), done: make(chan struct{})}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/event-stream") {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil, fmt.Errorf("status %d, Content-Type %q, want 200 with an event stream; body %s", resp.StatusCode, ct, tail(string(b), 500))
	}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		var data strings.Builder
		flush := func() {
			if data.Len() > 0 {
				if m, ok := faultParseMsg(data.String()); ok {
					s.msgs <- m
				}
				data.Reset()
			}
		}
		for sc.Scan() {
			line := strings.TrimRight(sc.Text(), "\r")
			if d, ok := strings.CutPrefix(line, "data:"); ok {
				if data.Len() > 0 {
					data.WriteByte('\n')
				}
				data.WriteString(strings.TrimPrefix(d, " "))
			} else if line == "" {
				flush()
			}
		}
		// An event the stream ended inside of is discarded, as an SSE
		// client does (it was never dispatched); it is kept for messages.
		s.unterminated = data.String()
		s.err = sc.Err()
		close(s.msgs)
		close(s.done)
	}()
	return s, nil
}

// waitProgress reads messages until a notifications/progress arrives,
// returning what came before it; false when the stream ends or timeout
// passes first.
func (s *faultStream) waitProgress(timeout time.Duration) ([]faultMsg, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var before []faultMsg
	for {
		select {
		case m, ok := <-s.msgs:
			if !ok {
				return before, false
			}
			if m.Method == "notifications/progress" {
				return before, true
			}
			before = append(before, m)
		case <-deadline.C:
			return before, false
		}
	}
}

// rest reads the stream to its end and returns every message after the
// ones already read; ended is false when the stream was still open after
// timeout.
func (s *faultStream) rest(timeout time.Duration) (msgs []faultMsg, ended bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case m, ok := <-s.msgs:
			if !ok {
				return msgs, true
			}
			msgs = append(msgs, m)
		case <-deadline.C:
			return msgs, false
		}
	}
}

// faultResponseTo returns the response (result or error) to id among msgs,
// and how many there are.
func faultResponseTo(msgs []faultMsg, id string) (faultMsg, int) {
	var found faultMsg
	n := 0
	for _, m := range msgs {
		if m.idIs(id) && m.Method == "" && (m.Result != nil || m.Error != nil) {
			found = m
			n++
		}
	}
	return found, n
}

// faultDescribe renders msgs for failure messages.
func faultDescribe(msgs []faultMsg) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString(tail(m.Raw, 300))
		b.WriteByte('\n')
	}
	return b.String()
}

// ---------------------------------------------------------------------------
// Processes the tests kill

// faultProc is a child process of the test, with its stderr captured and
// its exit observable.
type faultProc struct {
	cmd    *exec.Cmd
	Log    *lineBuf
	exited chan struct{} // closed once it has been waited for
}

// faultSpawn starts cmd with its stderr captured.
func faultSpawn(cmd *exec.Cmd) (*faultProc, error) {
	p := &faultProc{cmd: cmd, Log: newLineBuf(), exited: make(chan struct{})}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if cmd.Stdout == nil {
		cmd.Stdout = io.Discard
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pumped := make(chan struct{})
	go pump(stderr, p.Log, pumped)
	go func() { <-pumped; _ = cmd.Wait(); close(p.exited) }()
	return p, nil
}

// kill sends SIGKILL — no chance to say goodbye on any connection — and
// waits (bounded) until the process is gone.
func (p *faultProc) kill(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("pid %d still running 10s after SIGKILL", p.cmd.Process.Pid)
	}
}

// stop ends the process politely (SIGTERM, then SIGKILL), for cleanups.
func (p *faultProc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// faultRefused reports whether a TCP connection to addr is refused.
func faultRefused(addr string) (bool, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		c.Close()
		return false, nil
	}
	return errors.Is(err, syscall.ECONNREFUSED), err
}

// faultEverything is server-everything in streamableHttp mode on a port
// the test chooses, so that it can be killed and started again at the same
// address.
type faultEverything struct {
	*faultProc
	port int
}

func (b *faultEverything) URL() string  { return fmt.Sprintf("http://127.0.0.1:%d/mcp", b.port) }
func (b *faultEverything) Addr() string { return fmt.Sprintf("127.0.0.1:%d", b.port) }

// faultStartEverythingHTTP starts server-everything (streamableHttp) on
// 127.0.0.1:port (0: a free one) and waits until it accepts connections. A
// start that loses the port (a previous instance's socket not yet gone) is
// retried, bounded.
func faultStartEverythingHTTP(t *testing.T, port int) *faultEverything {
	t.Helper()
	return startNodeHTTPPeer(t, "everything-http.mjs", "server-everything", port)
}

// startNodeHTTPPeer starts the e2e/node script (an MCP server that reports
// "E2E_LISTENING <port>" on stderr) on 127.0.0.1:port (0: a free one) and
// waits until it accepts connections; what names it in failures.
func startNodeHTTPPeer(t *testing.T, script, what string, port int) *faultEverything {
	t.Helper()
	re := regexp.MustCompile(`^E2E_LISTENING (\d+)$`)
	var lastLog string
	for attempt := 0; attempt < 10; attempt++ {
		cmd := exec.Command(nodeBin, filepath.Join(nodeDir, script))
		cmd.Dir = nodeDir
		cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port))
		p, err := faultSpawn(cmd)
		if err != nil {
			t.Fatalf("starting %s: %v", what, err)
		}
		t.Cleanup(p.stop)
		line, ok := p.Log.waitFor(peerStartTimeout, func(l string) bool { return re.MatchString(l) })
		if !ok {
			p.stop()
			lastLog = p.Log.String()
			if strings.Contains(lastLog, "EADDRINUSE") {
				time.Sleep(200 * time.Millisecond)
				continue
			}
			t.Fatalf("%s did not start within %v:\n%s", what, peerStartTimeout, tail(lastLog, 3000))
		}
		got, _ := strconv.Atoi(re.FindStringSubmatch(line)[1])
		if port != 0 && got != port {
			t.Fatalf("%s listens on %d, want %d", what, got, port)
		}
		b := &faultEverything{faultProc: p, port: got}
		deadline := time.Now().Add(peerStartTimeout)
		for {
			c, err := net.DialTimeout("tcp", b.Addr(), time.Second)
			if err == nil {
				c.Close()
				return b
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not accept on %s: %v", what, b.Addr(), err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Fatalf("%s could not listen on port %d:\n%s", what, port, tail(lastLog, 3000))
	return nil
}

// faultJaeger is a Jaeger whose ports are fixed for its life, so that it
// can be killed and started again with the OTLP receiver at the same
// address (the gateway's exporter keeps its endpoint). It reuses the
// harness's configuration, readiness check and query parsing.
type faultJaeger struct {
	*jaeger
	bin, cfgPath, dir string
	healthURL         string
	proc              *faultProc
}

// faultStartJaeger starts a Jaeger on free ports; like startJaeger, a start
// that loses a port to another process is retried with new ones.
func faultStartJaeger(t *testing.T) *faultJaeger {
	t.Helper()
	bin := jaegerBinary(t)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		health, qHTTP, qGRPC, oGRPC, oHTTP := freeClosedPort(t), freeClosedPort(t), freeClosedPort(t), freeClosedPort(t), freeClosedPort(t)
		dir := t.TempDir()
		f := &faultJaeger{
			jaeger: &jaeger{
				t:        t,
				otlpHTTP: fmt.Sprintf("127.0.0.1:%d", oHTTP),
				otlpGRPC: fmt.Sprintf("127.0.0.1:%d", oGRPC),
				query:    fmt.Sprintf("http://127.0.0.1:%d", qHTTP),
				Log:      newLineBuf(),
			},
			bin:       bin,
			dir:       dir,
			cfgPath:   filepath.Join(dir, "jaeger.yaml"),
			healthURL: fmt.Sprintf("http://127.0.0.1:%d/status", health),
		}
		if err := os.WriteFile(f.cfgPath, fmt.Appendf(nil, jaegerConfig, health, qHTTP, qGRPC, oGRPC, oHTTP), 0o600); err != nil {
			t.Fatal(err)
		}
		if lastErr = f.start(); lastErr == nil {
			t.Cleanup(func() {
				if f.proc != nil {
					f.proc.stop()
				}
				if t.Failed() {
					t.Logf("jaeger log:\n%s", tail(f.proc.Log.String(), 4000))
				}
			})
			return f
		}
	}
	t.Fatal(lastErr)
	return nil
}

// start runs the Jaeger process with the fixed configuration and waits
// until it is healthy and its query API answers.
func (f *faultJaeger) start() error {
	cmd := exec.Command(f.bin, "--config", "file:"+f.cfgPath)
	cmd.Dir = f.dir
	p, err := faultSpawn(cmd)
	if err != nil {
		return fmt.Errorf("starting %s: %w", f.bin, err)
	}
	f.proc = p
	f.jaeger.Log = p.Log
	deadline := time.Now().Add(jaegerStartTimeout)
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("jaeger exited during start-up:\n%s", tail(p.Log.String(), 4000))
		default:
		}
		if f.ready(f.healthURL) {
			return nil
		}
		if time.Now().After(deadline) {
			p.stop()
			return fmt.Errorf("jaeger was not ready within %v:\n%s", jaegerStartTimeout, tail(p.Log.String(), 4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// restart starts Jaeger again on the same ports after kill; a start that
// fails (a port not yet free) is retried, bounded.
func (f *faultJaeger) restart(t *testing.T) {
	t.Helper()
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = f.start(); err == nil {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("jaeger did not start again on the same ports: %v", err)
}

// faultSpans makes one API v3 query for the spans of service that started
// at or after since — a narrow window, so that the answer's trace limit
// cannot hide recent spans behind older ones. Nothing stored yet is no
// error.
func faultSpans(j *jaeger, service string, since time.Time) ([]Span, error) {
	body, err := j.querySince(service, since, 5000)
	if err != nil || body == nil {
		return nil, err
	}
	traces, err := parseOTLPTraces(body)
	if err != nil {
		return nil, err
	}
	var out []Span
	for _, tr := range traces {
		out = append(out, tr.Spans...)
	}
	return out, nil
}

// faultServerSpans returns the SERVER spans named name by their
// jsonrpc.request.id.
func faultServerSpans(spans []Span, name string) map[string]Span {
	out := map[string]Span{}
	for _, s := range spans {
		if s.Kind == "server" && s.Name == name {
			out[s.Attributes["jsonrpc.request.id"]] = s
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// Load

// faultResult is one request of a load run.
type faultResult struct {
	id    string
	phase int32     // the phase when it was sent
	err   error     // nil: it succeeded
	at    time.Time // when it ended
}

// faultLoad runs echo calls from several goroutines, each on its own
// session, one after another with a pause between (a bounded, constant
// load), recording every outcome with the phase it was sent in. Request
// ids stay below 10^6 so that every rendering of them (the audit log's JSON
// number read back as a float, fmt.Sprint) is the plain integer.
type faultLoad struct {
	phase   atomic.Int32
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	results []faultResult
}

// faultStartLoad starts one goroutine per session in sids. Request ids are
// (worker+1)*100000 + n, unique across the run (at most 9 workers). untilErr stops a worker at
// its first failure (for a drain, where the listener going away is
// expected); otherwise workers run until finish.
func faultStartLoad(url string, sids []string, pause time.Duration, untilErr bool) *faultLoad {
	l := &faultLoad{stop: make(chan struct{})}
	for w, sid := range sids {
		l.wg.Go(func() {
			c := faultHTTPClient()
			defer c.CloseIdleConnections()
			for n := 1; ; n++ {
				select {
				case <-l.stop:
					return
				default:
				}
				id := strconv.Itoa((w+1)*100_000 + n)
				phase := l.phase.Load()
				err := faultEcho(c, url, sid, id, "load "+id, 30*time.Second)
				l.mu.Lock()
				l.results = append(l.results, faultResult{id: id, phase: phase, err: err, at: time.Now()})
				l.mu.Unlock()
				if err != nil && untilErr {
					return
				}
				select {
				case <-l.stop:
					return
				case <-time.After(pause):
				}
			}
		})
	}
	return l
}

// finish stops the workers and returns every outcome.
func (l *faultLoad) finish() []faultResult {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]faultResult(nil), l.results...)
}

// count returns how many requests have completed so far.
func (l *faultLoad) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.results)
}
