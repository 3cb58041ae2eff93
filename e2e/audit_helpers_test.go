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
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
)

// ---------------------------------------------------------------------------
// MCP over raw HTTP

// sessionProto is the protocol revision every raw request of these tests
// speaks: a session-based one, so that sessions (and stdio children) exist.
const sessionProto = "2025-06-18"

// mcpReply is one HTTP exchange with the gateway.
type mcpReply struct {
	status int
	header http.Header
	body   string
	msg    map[string]any // the JSON-RPC response, nil when there is none
}

// postMCP POSTs one JSON-RPC message (body) on session sid with headers and
// returns the response, its JSON-RPC message decoded from a JSON or an SSE
// body.
func postMCP(t *testing.T, url, sid, body string, headers map[string]string) mcpReply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if !strings.Contains(body, `"method":"initialize"`) {
		req.Header.Set("MCP-Protocol-Version", sessionProto)
	}
	if sid != "" {
		req.Header.Set("Mcp-Session-Id", sid)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return doMCP(t, req)
}

// deleteMCP ends session sid.
func deleteMCP(t *testing.T, url, sid string, headers map[string]string) mcpReply {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("MCP-Protocol-Version", sessionProto)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return doMCP(t, req)
}

func doMCP(t *testing.T, req *http.Request) mcpReply {
	t.Helper()
	r, err := tryDoMCP(&http.Client{Timeout: callTimeout}, req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tryDoMCP makes the request with c; unlike doMCP it may run on any
// goroutine.
func tryDoMCP(c *http.Client, req *http.Request) (mcpReply, error) {
	resp, err := c.Do(req)
	if err != nil {
		return mcpReply{}, fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := mcpReply{status: resp.StatusCode, header: resp.Header, body: string(b)}
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
func (r mcpReply) result(t *testing.T, what string) map[string]any {
	t.Helper()
	res, _ := r.msg["result"].(map[string]any)
	if r.status != http.StatusOK || res == nil {
		t.Fatalf("%s: status %d, want 200 with a result; body %s", what, r.status, r.body)
	}
	return res
}

// rpcError returns the JSON-RPC error's code and message.
func (r mcpReply) rpcError() (code int, message string, ok bool) {
	e, _ := r.msg["error"].(map[string]any)
	if e == nil {
		return 0, "", false
	}
	c, _ := e["code"].(float64)
	m, _ := e["message"].(string)
	return int(c), m, true
}

// openSession initializes a session with headers and returns its id;
// clientName/"1.2.3" is the clientInfo. id is the initialize request's id.
func openSession(t *testing.T, url string, id int, clientName string, headers map[string]string) string {
	t.Helper()
	r := postMCP(t, url, "", fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"initialize","params":{"protocolVersion":%q,"capabilities":{},"clientInfo":{"name":%q,"version":"1.2.3"}}}`,
		id, sessionProto, clientName), headers)
	sid := r.header.Get("Mcp-Session-Id")
	r.result(t, "initialize")
	if sid == "" {
		t.Fatalf("initialize: no Mcp-Session-Id; body %s", r.body)
	}
	if n := postMCP(t, url, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, headers); n.status != http.StatusAccepted {
		t.Fatalf("notifications/initialized: status %d, body %s", n.status, n.body)
	}
	return sid
}

// echoBurst calls echo n times at once on session sid, with ids 100…,
// each on its own connection (no keep-alive: no connection is left open
// without a request, which would hold up the gateway's drain), and
// requires every answer.
func echoBurst(t *testing.T, url, sid string, n int) {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprint(100 + i)
			req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(echoBody(id, "burst "+id)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("MCP-Protocol-Version", sessionProto)
			req.Header.Set("Mcp-Session-Id", sid)
			r, err := tryDoMCP(&http.Client{Transport: tr, Timeout: callTimeout}, req)
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

// checkBurstEvents requires the events of openSession (ids 1) and echoBurst(n),
// each exactly once, and nothing else.
func checkBurstEvents(t *testing.T, events []auditEvent, n int) {
	t.Helper()
	byID := eventsByID(t, events)
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

// callEcho calls echo and requires its answer.
func callEcho(t *testing.T, url, sid, id string, headers map[string]string) mcpReply {
	t.Helper()
	msg := "audit " + strings.Trim(id, `"`)
	r := postMCP(t, url, sid, echoBody(id, msg), headers)
	res := r.result(t, "tools/call echo "+id)
	if b, _ := json.Marshal(res); res["isError"] == true || !bytes.Contains(b, []byte(msg)) {
		t.Fatalf("tools/call echo %s: result %s, want the echoed %q", id, b, msg)
	}
	return r
}

// ---------------------------------------------------------------------------
// The audit file

// auditEvent is one line of the audit log.
type auditEvent struct {
	line string
	m    map[string]any
}

// str returns the string at a dotted path ("principal.subject"), "" when
// absent.
func (e auditEvent) str(path string) string {
	v, _ := e.get(path).(string)
	return v
}

// get returns the value at a dotted path, nil when absent.
func (e auditEvent) get(path string) any {
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
func (e auditEvent) has(path string) bool { return e.get(path) != nil }

var (
	eventSchemaOnce sync.Once
	eventSchema     *jsonschema.Resolved
	eventSchemaErr  error
)

// auditEventSchema is docs/audit-event.schema.json, resolved.
func auditEventSchema(t *testing.T) *jsonschema.Resolved {
	t.Helper()
	eventSchemaOnce.Do(func() {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(nodeDir), "..", "docs", "audit-event.schema.json"))
		if err != nil {
			eventSchemaErr = err
			return
		}
		var s jsonschema.Schema
		if err := json.Unmarshal(data, &s); err != nil {
			eventSchemaErr = err
			return
		}
		eventSchema, eventSchemaErr = s.Resolve(nil)
	})
	if eventSchemaErr != nil {
		t.Fatalf("docs/audit-event.schema.json: %v", eventSchemaErr)
	}
	return eventSchema
}

// parseAuditLog splits an audit log into events: every line must be one JSON
// object that the schema accepts, ending with a newline.
func parseAuditLog(t *testing.T, what string, data []byte) []auditEvent {
	t.Helper()
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Errorf("%s does not end with a newline: …%s", what, tail(string(data), 300))
	}
	var out []auditEvent
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("%s: a line is not a JSON object (%v): %s", what, err, line)
			continue
		}
		if err := auditEventSchema(t).Validate(m); err != nil {
			t.Errorf("%s: an event does not match docs/audit-event.schema.json: %v\n%s", what, err, line)
		}
		out = append(out, auditEvent{line: line, m: m})
	}
	return out
}

// readAuditLog reads and parses the audit file at path.
func readAuditLog(t *testing.T, path string) ([]auditEvent, []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the audit file: %v", err)
	}
	return parseAuditLog(t, filepath.Base(path), data), data
}

// waitAuditLines waits (at most 10s) until the file at path holds at least n
// lines and returns its events.
func waitAuditLines(t *testing.T, path string, n int) []auditEvent {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		if bytes.Count(data, []byte{'\n'}) >= n {
			return parseAuditLog(t, filepath.Base(path), data)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d line(s) after 10s, want at least %d:\n%s", path, bytes.Count(data, []byte{'\n'}), n, tail(string(data), 3000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sessionRef is the sessionRef of a session id (docs/audit.md: the first 16
// hex digits of its SHA-256), computed independently.
func sessionRef(sid string) string {
	s := sha256.Sum256([]byte(sid))
	return hex.EncodeToString(s[:])[:16]
}

// eventsByID indexes events by mcp.id ("7", "call-b"), failing on a duplicate.
func eventsByID(t *testing.T, events []auditEvent) map[string]auditEvent {
	t.Helper()
	m := map[string]auditEvent{}
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

// noSecrets fails when any of secrets occurs in data.
func noSecrets(t *testing.T, what string, data []byte, secrets map[string]string) {
	t.Helper()
	for name, s := range secrets {
		if s != "" && bytes.Contains(data, []byte(s)) {
			t.Errorf("%s contains %s (%.10s…)", what, name, s)
		}
	}
}

// jwtSecrets lists a JWT and its three parts, any of which must not be
// in the audit log.
func jwtSecrets(name, tok string, into map[string]string) {
	into[name] = tok
	for i, part := range strings.Split(tok, ".") {
		if len(part) >= 16 {
			into[fmt.Sprintf("%s (part %d)", name, i)] = part
		}
	}
}
