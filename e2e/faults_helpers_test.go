package e2e

// Helpers of the fault tests (faults_test.go). Every name here starts with
// "fault", so that it cannot collide with the helpers of other files in this
// package. They are goroutine-safe where they say so: the fault tests drive
// load from several goroutines and must not call t.Fatal off the test's own.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

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

// spansSince makes one API v3 query for the spans of service that started
// at or after since — a narrow window, so that the answer's trace limit
// cannot hide recent spans behind older ones. Nothing stored yet is no
// error.
func spansSince(j *jaeger, service string, since time.Time) ([]Span, error) {
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

// serverSpans returns the SERVER spans named name by their
// jsonrpc.request.id.
func serverSpans(spans []Span, name string) map[string]Span {
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

// loadResult is one request of a load run.
type loadResult struct {
	id    string
	phase int32     // the phase when it was sent
	err   error     // nil: it succeeded
	at    time.Time // when it ended
}

// echoLoad runs echo calls from several goroutines, each on its own
// session, one after another with a pause between (a bounded, constant
// load), recording every outcome with the phase it was sent in. Request
// ids stay below 10^6 so that every rendering of them (the audit log's JSON
// number read back as a float, fmt.Sprint) is the plain integer.
type echoLoad struct {
	phase   atomic.Int32
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	results []loadResult
}

// startEchoLoad starts one goroutine per session in sids. Request ids are
// (worker+1)*100000 + n, unique across the run (at most 9 workers). untilErr stops a worker at
// its first failure (for a drain, where the listener going away is
// expected); otherwise workers run until finish.
func startEchoLoad(url string, sids []string, pause time.Duration, untilErr bool) *echoLoad {
	l := &echoLoad{stop: make(chan struct{})}
	for w, sid := range sids {
		l.wg.Go(func() {
			c := newStreamClient()
			defer c.CloseIdleConnections()
			for n := 1; ; n++ {
				select {
				case <-l.stop:
					return
				default:
				}
				id := strconv.Itoa((w+1)*100_000 + n)
				phase := l.phase.Load()
				err := tryEcho(c, url, sid, id, "load "+id, 30*time.Second)
				l.mu.Lock()
				l.results = append(l.results, loadResult{id: id, phase: phase, err: err, at: time.Now()})
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
func (l *echoLoad) finish() []loadResult {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]loadResult(nil), l.results...)
}

// count returns how many requests have completed so far.
func (l *echoLoad) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.results)
}
