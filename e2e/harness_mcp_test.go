package e2e

// MCP over raw HTTP, for the tests that check exactly what goes over the
// wire: requests with chosen headers, responses read whole (JSON or SSE) or
// event by event, and sessions opened by hand. The helpers that take no
// *testing.T return their failures and may run on any goroutine (the fault
// and flood tests drive load from several).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// rawClient has a bound timeout; tests use fresh connections per request so
// a connection the gateway closes (413) never poisons the next request.
var rawClient = &http.Client{
	Timeout: 30 * time.Second,
	Transport: &http.Transport{
		DisableKeepAlives:      true,
		MaxResponseHeaderBytes: 1 << 20,
		// With "Expect: 100-continue" the body waits for the server's go
		// ahead, so an early 413 is read instead of racing a reset.
		ExpectContinueTimeout: 10 * time.Second,
	},
}

type rawResponse struct {
	status int
	header http.Header
	body   string
}

// rpcError extracts the JSON-RPC error from a JSON or SSE response body.
func (r rawResponse) rpcError() (code int64, message string, ok bool) {
	for _, doc := range r.jsonDocs() {
		var m struct {
			Error *struct {
				Code    int64  `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal([]byte(doc), &m) == nil && m.Error != nil {
			return m.Error.Code, m.Error.Message, true
		}
	}
	return 0, "", false
}

// jsonDocs returns the body as JSON documents: the body itself, or the
// data of each SSE event.
func (r rawResponse) jsonDocs() []string {
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/event-stream") {
		return []string{r.body}
	}
	var docs []string
	var data strings.Builder
	sc := bufio.NewScanner(strings.NewReader(r.body))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if d, ok := strings.CutPrefix(line, "data:"); ok {
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(strings.TrimPrefix(d, " "))
		} else if line == "" && data.Len() > 0 {
			docs = append(docs, data.String())
			data.Reset()
		}
	}
	if data.Len() > 0 {
		docs = append(docs, data.String())
	}
	return docs
}

// rawDo sends one request with MCP's usual POST headers plus headers.
func rawDo(t *testing.T, method, url string, body []byte, headers map[string]string) rawResponse {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	return rawDoReader(t, method, url, rd, headers)
}

func rawDoReader(t *testing.T, method, url string, body io.Reader, headers map[string]string) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return sendRaw(t, req)
}

// sendRaw sends req with rawClient and reads the whole response (at most
// 8 MiB), failing the test when the exchange fails.
func sendRaw(t *testing.T, req *http.Request) rawResponse {
	t.Helper()
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// rawInitialize opens a session with plain HTTP at version and returns its
// id, after sending notifications/initialized.
func rawInitialize(t *testing.T, url, version string) string {
	t.Helper()
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":%q,"capabilities":{},"clientInfo":{"name":"e2e-raw","version":"1"}}}`, version)
	resp := rawDo(t, http.MethodPost, url, []byte(body), nil)
	sid := resp.header.Get("Mcp-Session-Id")
	if resp.status != http.StatusOK || sid == "" {
		t.Fatalf("initialize: status %d, session %q, body %s", resp.status, sid, tail(resp.body, 500))
	}
	hdr := map[string]string{"Mcp-Session-Id": sid, "MCP-Protocol-Version": version}
	resp = rawDo(t, http.MethodPost, url, []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`), hdr)
	if resp.status != http.StatusAccepted {
		t.Fatalf("notifications/initialized: status %d, body %s", resp.status, tail(resp.body, 500))
	}
	return sid
}

// mustEcho checks the gateway still serves a normal session end to end.
func mustEcho(t *testing.T, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	c := mcp.NewClient(&mcp.Implementation{Name: "e2e-after", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, MaxRetries: -1, DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatalf("a normal session after bad input: connect: %v", err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "still alive"}})
	if err != nil {
		t.Fatalf("a normal call after bad input: %v", err)
	}
	if got := textOf(res); got != "Echo: still alive" {
		t.Fatalf("a normal call after bad input returned %q", got)
	}
}

// rawPost sends one JSON-RPC body and returns the response's status,
// session id and body.
func rawPost(t *testing.T, url, sid, body string, headers ...string) (int, string, string) {
	t.Helper()
	status, gotSid, resp, err := tryPost(url, sid, body, callTimeout, headers...)
	if err != nil {
		t.Fatal(err)
	}
	return status, gotSid, resp
}

// tryPost sends one JSON-RPC body to url (protocol 2025-06-18, the given
// session and header pairs) and returns status, session id and body. Unlike
// rawPost it returns transport errors instead of failing the test, and its
// client timeout is per request.
func tryPost(url, sid, body string, timeout time.Duration, headers ...string) (int, string, string, error) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, "", "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	if sid != "" {
		req.Header.Set("Mcp-Session-Id", sid)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	c := &http.Client{Timeout: timeout}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Mcp-Session-Id"), string(b), err
}

// sessionProto is the protocol revision every raw request of these tests
// speaks: a session-based one, so that sessions (and stdio children) exist.
const sessionProto = "2025-06-18"

// mcpReply is one HTTP exchange with the gateway.
type mcpReply struct {
	rawResponse
	msg map[string]any // the JSON-RPC response, nil when there is none
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
	r := mcpReply{rawResponse: rawResponse{status: resp.StatusCode, header: resp.Header, body: string(b)}}
	for _, d := range r.jsonDocs() {
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

// newStreamClient has no overall timeout (it would cut the SSE streams the
// tests read event by event); every request is bounded by a context instead.
func newStreamClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
}

// rpcMsg is one JSON-RPC message of a response (a JSON body, or the data
// of one SSE event).
type rpcMsg struct {
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
func (m rpcMsg) idIs(id string) bool { return string(m.ID) == id }

// isError reports whether a tool result says isError: true.
func (m rpcMsg) isToolError() bool {
	var r struct {
		IsError bool `json:"isError"`
	}
	return json.Unmarshal(m.Result, &r) == nil && r.IsError
}

func parseRPCMsg(doc string) (rpcMsg, bool) {
	var m rpcMsg
	if json.Unmarshal([]byte(doc), &m) != nil {
		return rpcMsg{}, false
	}
	m.Raw = doc
	return m, true
}

// postMsgs POSTs one JSON-RPC message on session sid (none when "") and
// reads the whole response, bounded by timeout. Goroutine-safe: failures are
// returned, not reported.
func postMsgs(c *http.Client, url, sid, body string, timeout time.Duration) (rawResponse, []rpcMsg, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return rawResponse{}, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", sessionProto)
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
	var msgs []rpcMsg
	for _, d := range r.jsonDocs() {
		if m, ok := parseRPCMsg(d); ok {
			msgs = append(msgs, m)
		}
	}
	return r, msgs, nil
}

// echoBody is a tools/call of echo; id is a JSON literal.
func echoBody(id, message string) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"echo","arguments":{"message":%q}}}`, id, message)
}

// slowBody is a tools/call of server-everything's
// trigger-long-running-operation (seconds long, one progress notification
// per step under token).
func slowBody(id, token string, seconds, steps int) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"trigger-long-running-operation","arguments":{"duration":%d,"steps":%d},"_meta":{"progressToken":%q}}}`,
		id, seconds, steps, token)
}

// tryEcho calls echo on session sid and checks the answer: 200 with the
// echoed text, no JSON-RPC error, no isError. Goroutine-safe.
func tryEcho(c *http.Client, url, sid, id, message string, timeout time.Duration) error {
	r, msgs, err := postMsgs(c, url, sid, echoBody(id, message), timeout)
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
	return &badReply{id: id, status: r.status, body: r.body}
}

// badReply is an HTTP exchange that completed with the wrong answer,
// as opposed to a connection that failed.
type badReply struct {
	id     string
	status int
	body   string
}

func (e *badReply) Error() string {
	return fmt.Sprintf("echo %s: status %d, body %s", e.id, e.status, tail(e.body, 500))
}

// tryInit opens a session (initialize, then notifications/initialized)
// and returns its id. Goroutine-safe; the reply is returned for callers
// that accept a refusal (503 during a start back-off).
func tryInit(c *http.Client, url, id string) (string, rawResponse, error) {
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":"initialize","params":{"protocolVersion":%q,"capabilities":{},"clientInfo":{"name":"e2e-fault","version":"1"}}}`, id, sessionProto)
	r, msgs, err := postMsgs(c, url, "", body, 30*time.Second)
	if err != nil {
		return "", r, err
	}
	sid := r.header.Get("Mcp-Session-Id")
	if r.status != http.StatusOK || sid == "" || len(msgs) == 0 || msgs[0].Result == nil {
		return "", r, fmt.Errorf("initialize: status %d, session %q, body %s", r.status, sid, tail(r.body, 500))
	}
	n, _, err := postMsgs(c, url, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, 30*time.Second)
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

// eventStream is one POST whose SSE response is read as it arrives.
type eventStream struct {
	status int
	header http.Header
	msgs   chan rpcMsg   // each event's JSON-RPC message, in order; closed at the end of the body
	err    error         // how the body ended: nil for a clean end; valid once msgs is closed
	done   chan struct{} // closed with msgs, for checks that must not consume messages

	unterminated string // the data of an event the body ended inside of; valid once msgs is closed
}

// ended reports, without reading, whether the response has ended.
func (s *eventStream) ended() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// openEventStream POSTs body on session sid and starts reading the response
// (which must be an event stream) in the background; ctx bounds it all.
func openEventStream(ctx context.Context, c *http.Client, url, sid, body string) (*eventStream, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", sessionProto)
	req.Header.Set("Mcp-Session-Id", sid)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	s := &eventStream{status: resp.StatusCode, header: resp.Header, msgs: make(chan rpcMsg, 64), done: make(chan struct{})}
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
				if m, ok := parseRPCMsg(data.String()); ok {
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
func (s *eventStream) waitProgress(timeout time.Duration) ([]rpcMsg, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var before []rpcMsg
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
func (s *eventStream) rest(timeout time.Duration) (msgs []rpcMsg, ended bool) {
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

// responseTo returns the response (result or error) to id among msgs,
// and how many there are.
func responseTo(msgs []rpcMsg, id string) (rpcMsg, int) {
	var found rpcMsg
	n := 0
	for _, m := range msgs {
		if m.idIs(id) && m.Method == "" && (m.Result != nil || m.Error != nil) {
			found = m
			n++
		}
	}
	return found, n
}

// describeMsgs renders msgs for failure messages.
func describeMsgs(msgs []rpcMsg) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString(tail(m.Raw, 300))
		b.WriteByte('\n')
	}
	return b.String()
}
