package e2e

// Helpers of the audit log's end-to-end tests (audit_test.go). Every name
// here starts with "aud", so that it cannot collide with the helpers of
// other files in this package.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
)

// ---------------------------------------------------------------------------
// The gateway process, started with extra environment and an observable exit

// audProc is a gateway process started by this file: unlike
// tryStartGateway's, it can be given environment variables (the
// pseudonymization key) and signalled and stopped by the test itself
// (SIGHUP, SIGTERM), which then sees its exit status.
type audProc struct {
	*gateway
	done     chan struct{} // closed when the process has been waited for
	exitErr  error         // valid once done is closed
	termOnce sync.Once
	waitOnce sync.Once
	stopErr  error
}

// audStart writes cfg to a file and starts `mcpgate serve --config` with
// env added to the environment, waiting for its "mcpgate serving" line. At
// cleanup the process is stopped with SIGTERM, which must end it with
// status 0 within gatewayStopTimeout.
func audStart(t *testing.T, cfg string, env ...string) *audProc {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mcpgate.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gatewayBin, "serve", "--config", path)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting mcpgate: %v", err)
	}
	p := &audProc{gateway: &gateway{Log: newLineBuf(), cmd: cmd}, done: make(chan struct{})}
	pumped := make(chan struct{})
	go pump(stderr, p.Log, pumped)
	go func() { <-pumped; p.exitErr = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("mcpgate did not exit cleanly after SIGTERM: %v\nlog:\n%s", err, tail(p.Log.String(), 4000))
		}
		if t.Failed() {
			t.Logf("gateway log:\n%s", tail(p.Log.String(), 8000))
		}
	})

	serving := make(chan string, 1)
	go func() {
		l, _ := p.Log.waitFor(gatewayStartTimeout, func(l string) bool {
			return strings.Contains(l, `"msg":"mcpgate serving"`)
		})
		serving <- l
	}()
	var line string
	select {
	case line = <-serving:
	case <-p.done:
		t.Fatalf("mcpgate exited before serving (%v); log:\n%s", p.exitErr, tail(p.Log.String(), 4000))
	}
	if line == "" {
		t.Fatalf("mcpgate did not log \"mcpgate serving\" within %v\nlog:\n%s", gatewayStartTimeout, tail(p.Log.String(), 4000))
	}
	var sv struct{ Listen, Path, Admin string }
	if err := json.Unmarshal([]byte(line), &sv); err != nil || sv.Listen == "" {
		t.Fatalf("cannot parse the serving line %q: %v", line, err)
	}
	if sv.Path == "" {
		sv.Path = "/mcp"
	}
	p.Base = "http://" + sv.Listen
	p.URL = p.Base + sv.Path
	if sv.Admin != "" && sv.Admin != "<nil>" {
		p.Admin = "http://" + sv.Admin
	}
	return p
}

// signal sends sig to the gateway.
func (p *audProc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signalling mcpgate with %v: %v", sig, err)
	}
}

// sigterm sends SIGTERM, once.
func (p *audProc) sigterm() {
	p.termOnce.Do(func() { _ = p.cmd.Process.Signal(syscall.SIGTERM) })
}

// stop sends SIGTERM (unless sigterm did) and waits, at most
// gatewayStopTimeout, for the process to exit; it returns its exit error
// (nil: status 0).
func (p *audProc) stop() error {
	p.sigterm()
	p.waitOnce.Do(func() {
		select {
		case <-p.done:
			p.stopErr = p.exitErr
		case <-time.After(gatewayStopTimeout):
			_ = p.cmd.Process.Kill()
			<-p.done
			p.stopErr = fmt.Errorf("no exit within %v of SIGTERM (killed)", gatewayStopTimeout)
		}
	})
	return p.stopErr
}

// audReadyz is GET /readyz on the admin listener: the status and the
// "audit" member of the detail.
func (p *audProc) audReadyz(t *testing.T) (int, audHealth) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(p.Admin + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	defer resp.Body.Close()
	var d struct {
		Audit *audHealth `json:"audit"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatalf("GET /readyz: status %d, decoding: %v", resp.StatusCode, err)
	}
	if d.Audit == nil {
		t.Fatalf("GET /readyz: no \"audit\" member in the detail")
	}
	return resp.StatusCode, *d.Audit
}

// audHealth is the "audit" member of /readyz.
type audHealth struct {
	Healthy    bool   `json:"healthy"`
	FailClosed bool   `json:"failClosed"`
	Dropped    int64  `json:"dropped"`
	Lost       int64  `json:"lost"`
	Errors     int64  `json:"errors"`
	Error      string `json:"error"`
}

// audWaitReady polls /readyz (at most 10s) until ok accepts it.
func (p *audProc) audWaitReady(t *testing.T, what string, ok func(status int, h audHealth) bool) (int, audHealth) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, h := p.audReadyz(t)
		if ok(status, h) {
			return status, h
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz: %s not within 10s; last: status %d, audit %+v", what, status, h)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// MCP over raw HTTP

const audProtocol = "2025-06-18"

// audReply is one HTTP exchange with the gateway.
type audReply struct {
	status int
	header http.Header
	body   string
	msg    map[string]any // the JSON-RPC response, nil when there is none
}

// audPost POSTs one JSON-RPC message (body) on session sid with headers and
// returns the response, its JSON-RPC message decoded from a JSON or an SSE
// body.
func audPost(t *testing.T, url, sid, body string, headers map[string]string) audReply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if !strings.Contains(body, `"method":"initialize"`) {
		req.Header.Set("MCP-Protocol-Version", audProtocol)
	}
	if sid != "" {
		req.Header.Set("Mcp-Session-Id", sid)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return audDo(t, req)
}

// audDelete ends session sid.
func audDelete(t *testing.T, url, sid string, headers map[string]string) audReply {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("MCP-Protocol-Version", audProtocol)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return audDo(t, req)
}

func audDo(t *testing.T, req *http.Request) audReply {
	t.Helper()
	r, err := audTryDo(&http.Client{Timeout: callTimeout}, req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// audTryDo makes the request with c; unlike audDo it may run on any
// goroutine.
func audTryDo(c *http.Client, req *http.Request) (audReply, error) {
	resp, err := c.Do(req)
	if err != nil {
		return audReply{}, fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := audReply{status: resp.StatusCode, header: resp.Header, body: string(b)}
	docs := []string{string(b)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		docs = nil
		for l := range strings.SplitSeq(string(b), "\n") {
			if d, ok := strings.CutPrefix(strings.TrimRight(l, "\r"), "data:"); ok {
				docs = append(docs, strings.TrimSpace(d))
			}
		}
	}
	for _, d := range docs {
		var m map[string]any
		if json.Unmarshal([]byte(d), &m) == nil && (m["result"] != nil || m["error"] != nil) {
			r.msg = m
		}
	}
	return r, nil
}

// result returns the JSON-RPC result, failing the test when the reply is
// not a 200 with a result.
func (r audReply) result(t *testing.T, what string) map[string]any {
	t.Helper()
	res, _ := r.msg["result"].(map[string]any)
	if r.status != http.StatusOK || res == nil {
		t.Fatalf("%s: status %d, want 200 with a result; body %s", what, r.status, r.body)
	}
	return res
}

// rpcError returns the JSON-RPC error's code and message.
func (r audReply) rpcError() (code int, message string, ok bool) {
	e, _ := r.msg["error"].(map[string]any)
	if e == nil {
		return 0, "", false
	}
	c, _ := e["code"].(float64)
	m, _ := e["message"].(string)
	return int(c), m, true
}

// audInit initializes a session with headers and returns its id;
// clientName/"1.2.3" is the clientInfo. id is the initialize request's id.
func audInit(t *testing.T, url string, id int, clientName string, headers map[string]string) string {
	t.Helper()
	r := audPost(t, url, "", fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"initialize","params":{"protocolVersion":%q,"capabilities":{},"clientInfo":{"name":%q,"version":"1.2.3"}}}`,
		id, audProtocol, clientName), headers)
	sid := r.header.Get("Mcp-Session-Id")
	r.result(t, "initialize")
	if sid == "" {
		t.Fatalf("initialize: no Mcp-Session-Id; body %s", r.body)
	}
	if n := audPost(t, url, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, headers); n.status != http.StatusAccepted {
		t.Fatalf("notifications/initialized: status %d, body %s", n.status, n.body)
	}
	return sid
}

// audBurst calls echo n times at once on session sid, with ids 100…,
// each on its own connection (no keep-alive: no connection is left open
// without a request, which would hold up the gateway's drain), and
// requires every answer.
func audBurst(t *testing.T, url, sid string, n int) {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprint(100 + i)
			req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(audEchoBody(id, "burst "+id)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("MCP-Protocol-Version", audProtocol)
			req.Header.Set("Mcp-Session-Id", sid)
			r, err := audTryDo(&http.Client{Transport: tr, Timeout: callTimeout}, req)
			if res, _ := r.msg["result"].(map[string]any); err != nil || r.status != http.StatusOK || res == nil || res["isError"] == true {
				errs <- fmt.Sprintf("echo %s: %v, status %d body %s", id, err, r.status, r.body)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// audCheckBurst requires the events of audInit (ids 1) and audBurst(n),
// each exactly once, and nothing else.
func audCheckBurst(t *testing.T, events []audEvent, n int) {
	t.Helper()
	byID := audByID(t, events)
	for i := range n {
		id := fmt.Sprint(100 + i)
		if e, ok := byID[id]; !ok {
			t.Errorf("no event for echo %s", id)
		} else if e.str("event") != "tool_call" || e.str("outcome") != "success" {
			t.Errorf("echo %s: %s", id, e.line)
		}
	}
	if _, ok := byID["1"]; !ok {
		t.Errorf("no event for initialize")
	}
	if len(events) != n+2 {
		t.Errorf("%d events, want %d (initialize, notifications/initialized, %d calls)", len(events), n+2, n)
	}
}

// audEchoBody is a tools/call of echo with id (a JSON literal).
func audEchoBody(id, message string) string {
	return `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"echo","arguments":{"message":"` + message + `"}}}`
}

// audEcho calls echo and requires its answer.
func audEcho(t *testing.T, url, sid, id string, headers map[string]string) audReply {
	t.Helper()
	msg := "audit " + strings.Trim(id, `"`)
	r := audPost(t, url, sid, audEchoBody(id, msg), headers)
	res := r.result(t, "tools/call echo "+id)
	if b, _ := json.Marshal(res); res["isError"] == true || !bytes.Contains(b, []byte(msg)) {
		t.Fatalf("tools/call echo %s: result %s, want the echoed %q", id, b, msg)
	}
	return r
}

// ---------------------------------------------------------------------------
// The audit file

// audEvent is one line of the audit log.
type audEvent struct {
	line string
	m    map[string]any
}

// str returns the string at a dotted path ("principal.subject"), "" when
// absent.
func (e audEvent) str(path string) string {
	v, _ := e.get(path).(string)
	return v
}

// get returns the value at a dotted path, nil when absent.
func (e audEvent) get(path string) any {
	var v any = e.m
	for k := range strings.SplitSeq(path, ".") {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		if v, ok = o[k]; !ok {
			return nil
		}
	}
	return v
}

// has reports whether the dotted path is present.
func (e audEvent) has(path string) bool { return e.get(path) != nil }

var (
	audSchemaOnce sync.Once
	audSchema     *jsonschema.Resolved
	audSchemaErr  error
)

// audEventSchema is docs/audit-event.schema.json, resolved.
func audEventSchema(t *testing.T) *jsonschema.Resolved {
	t.Helper()
	audSchemaOnce.Do(func() {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(nodeDir), "..", "docs", "audit-event.schema.json"))
		if err != nil {
			audSchemaErr = err
			return
		}
		var s jsonschema.Schema
		if err := json.Unmarshal(data, &s); err != nil {
			audSchemaErr = err
			return
		}
		audSchema, audSchemaErr = s.Resolve(nil)
	})
	if audSchemaErr != nil {
		t.Fatalf("docs/audit-event.schema.json: %v", audSchemaErr)
	}
	return audSchema
}

// audParse splits an audit log into events: every line must be one JSON
// object that the schema accepts, ending with a newline.
func audParse(t *testing.T, what string, data []byte) []audEvent {
	t.Helper()
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Errorf("%s does not end with a newline: …%s", what, tail(string(data), 300))
	}
	var out []audEvent
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("%s: a line is not a JSON object (%v): %s", what, err, line)
			continue
		}
		if err := audEventSchema(t).Validate(m); err != nil {
			t.Errorf("%s: an event does not match docs/audit-event.schema.json: %v\n%s", what, err, line)
		}
		out = append(out, audEvent{line: line, m: m})
	}
	return out
}

// audRead reads and parses the audit file at path.
func audRead(t *testing.T, path string) ([]audEvent, []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the audit file: %v", err)
	}
	return audParse(t, filepath.Base(path), data), data
}

// audWaitLines waits (at most 10s) until the file at path holds at least n
// lines and returns its events.
func audWaitLines(t *testing.T, path string, n int) []audEvent {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		if bytes.Count(data, []byte{'\n'}) >= n {
			return audParse(t, filepath.Base(path), data)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d line(s) after 10s, want at least %d:\n%s", path, bytes.Count(data, []byte{'\n'}), n, tail(string(data), 3000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// audRef is the sessionRef of a session id (docs/audit.md: the first 16
// hex digits of its SHA-256), computed independently.
func audRef(sid string) string {
	s := sha256.Sum256([]byte(sid))
	return hex.EncodeToString(s[:])[:16]
}

// audByID indexes events by mcp.id ("7", "call-b"), failing on a duplicate.
func audByID(t *testing.T, events []audEvent) map[string]audEvent {
	t.Helper()
	m := map[string]audEvent{}
	for _, e := range events {
		id := e.get("mcp.id")
		if id == nil {
			continue
		}
		k := fmt.Sprint(id)
		if prev, dup := m[k]; dup {
			t.Errorf("two events with mcp.id %s:\n%s\n%s", k, prev.line, e.line)
		}
		m[k] = e
	}
	return m
}

// audNoSecrets fails when any of secrets occurs in data.
func audNoSecrets(t *testing.T, what string, data []byte, secrets map[string]string) {
	t.Helper()
	for name, s := range secrets {
		if s != "" && bytes.Contains(data, []byte(s)) {
			t.Errorf("%s contains %s (%.10s…)", what, name, s)
		}
	}
}

// audJWTSecrets lists a JWT and its three parts, any of which must not be
// in the audit log.
func audJWTSecrets(name, tok string, into map[string]string) {
	into[name] = tok
	for i, part := range strings.Split(tok, ".") {
		if len(part) >= 16 {
			into[fmt.Sprintf("%s (part %d)", name, i)] = part
		}
	}
}
