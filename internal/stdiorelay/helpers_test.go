package stdiorelay

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/observe"
	"github.com/mcpgate/mcpgate/internal/record"
)

// wait bounds every wait in these tests; nothing is asserted about how
// long anything took.
const wait = 15 * time.Second

const (
	acceptJSON = "application/json"
	acceptBoth = "application/json, text/event-stream"
	version    = mcpwire.Version20251125
)

// harness is a Relay behind observe and inspect, served over HTTP.
type harness struct {
	t     testing.TB
	relay *Relay
	srv   *httptest.Server
}

func newHarness(t testing.TB, opts Options) *harness {
	t.Helper()
	if len(opts.Command.Argv) == 0 {
		opts.Command = fakeCommand(t)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.InitialBackoff == 0 {
		// Tests restart children right after crashes.
		opts.InitialBackoff, opts.MaxBackoff = time.Millisecond, time.Millisecond
	}
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h := observe.New(nil)(asPrincipal(inspect.New(inspect.Options{})(r)))
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &harness{t: t, relay: r, srv: srv}
}

// principalHeader names the principal a test request is made as (what
// authn would put on the record); without it the request is anonymous.
const principalHeader = "X-Test-Principal"

func asPrincipal(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if sub := req.Header.Get(principalHeader); sub != "" {
			record.FromContext(req.Context()).Identity = &identity.Identity{Subject: sub, Issuer: identity.APIKeyIssuer, Method: identity.MethodAPIKey}
		}
		next.ServeHTTP(w, req)
	})
}

// with returns a copy of h that reports to t (a subtest's).
func (h *harness) with(t testing.TB) *harness {
	c := *h
	c.t = t
	return &c
}

// do sends one request; sid and headers may be empty.
func (h *harness) do(ctx context.Context, method, sid, accept, body string, headers ...string) *http.Response {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.srv.URL, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if sid != "" {
		req.Header.Set(mcpwire.HeaderSessionID, sid)
		req.Header.Set(mcpwire.HeaderProtocolVersion, version)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

func (h *harness) post(sid, accept, body string, headers ...string) *http.Response {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	h.t.Cleanup(cancel)
	return h.do(ctx, http.MethodPost, sid, accept, body, headers...)
}

// initialize opens a session and returns its id.
func (h *harness) initialize() string {
	h.t.Helper()
	sid, resp := h.tryInitialize()
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("initialize: status %d: %s", resp.StatusCode, readAll(h.t, resp))
	}
	return sid
}

// tryInitialize opens a session; headers (name, value, …) go on both of
// its requests.
func (h *harness) tryInitialize(headers ...string) (string, *http.Response) {
	h.t.Helper()
	resp := h.post("", acceptBoth, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"`+version+
		`","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}`, headers...)
	if resp.StatusCode != http.StatusOK {
		return "", resp
	}
	sid := resp.Header.Get(mcpwire.HeaderSessionID)
	if sid == "" {
		h.t.Fatal("initialize: no Mcp-Session-Id")
	}
	var m rpcMsg
	decode(h.t, resp, &m)
	var res struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	if err := json.Unmarshal(m.Result, &res); err != nil || res.ProtocolVersion != version {
		h.t.Fatalf("initialize result %s: protocolVersion not echoed (%v)", m.Result, err)
	}
	if resp := h.post(sid, acceptBoth, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, headers...); resp.StatusCode != http.StatusAccepted {
		h.t.Fatalf("notifications/initialized: status %d", resp.StatusCode)
	}
	return sid, resp
}

// call runs a tool as a JSON-only client and returns the response.
func (h *harness) call(sid string, id any, tool string, args map[string]any) rpcMsg {
	h.t.Helper()
	resp := h.post(sid, acceptJSON, callBody(id, tool, args, nil))
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("%s: status %d: %s", tool, resp.StatusCode, readAll(h.t, resp))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		h.t.Fatalf("%s: Content-Type %q", tool, ct)
	}
	var m rpcMsg
	decode(h.t, resp, &m)
	return m
}

func (h *harness) whoami(sid string) int {
	h.t.Helper()
	pid, err := strconv.Atoi(h.call(sid, "who", "whoami", nil).text(h.t))
	if err != nil {
		h.t.Fatal(err)
	}
	return pid
}

func callBody(id any, tool string, args map[string]any, token any) string {
	params := map[string]any{"name": tool, "arguments": args}
	if token != nil {
		params["_meta"] = map[string]any{"progressToken": token}
	}
	b, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// rpcMsg is any JSON-RPC message as the tests read it.
type rpcMsg struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int64  `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

type toolResult struct {
	Content []struct {
		Text string `json:"text"`
	} `json:"content"`
	IsError bool `json:"isError"`
}

func (m rpcMsg) tool(t testing.TB) toolResult {
	t.Helper()
	if m.Error != nil {
		t.Fatalf("JSON-RPC error %d: %s", m.Error.Code, m.Error.Message)
	}
	var r toolResult
	if err := json.Unmarshal(m.Result, &r); err != nil || len(r.Content) != 1 {
		t.Fatalf("not a one-text tool result: %s (%v)", m.Result, err)
	}
	return r
}

func (m rpcMsg) text(t testing.TB) string {
	t.Helper()
	return m.tool(t).Content[0].Text
}

type progressParams struct {
	ProgressToken json.RawMessage `json:"progressToken"`
	Message       string          `json:"message"`
}

func (m rpcMsg) progress(t testing.TB) progressParams {
	t.Helper()
	var p progressParams
	if m.Method != "notifications/progress" || json.Unmarshal(m.Params, &p) != nil {
		t.Fatalf("not a progress notification: %+v", m)
	}
	return p
}

func decode(t testing.TB, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func readAll(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// sseStream reads the JSON-RPC messages of an event stream.
type sseStream struct {
	t    testing.TB
	resp *http.Response
	msgs chan rpcMsg
	err  chan error // the read's end: io.EOF or the error
}

func newSSE(t testing.TB, resp *http.Response) *sseStream {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("want an event stream, got status %d, Content-Type %q: %s", resp.StatusCode, ct, readAll(t, resp))
	}
	s := &sseStream{t: t, resp: resp, msgs: make(chan rpcMsg, 1024), err: make(chan error, 1)}
	t.Cleanup(func() { resp.Body.Close() })
	go func() {
		br := bufio.NewReader(resp.Body)
		var data []byte
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				s.err <- err
				close(s.msgs)
				return
			}
			line = strings.TrimRight(line, "\r\n")
			switch {
			case strings.HasPrefix(line, "data: "):
				data = append(data, line[len("data: "):]...)
			case line == "" && len(data) > 0:
				var m rpcMsg
				if err := json.Unmarshal(data, &m); err != nil {
					s.err <- fmt.Errorf("bad event %q: %w", data, err)
					close(s.msgs)
					return
				}
				s.msgs <- m
				data = data[:0]
			}
		}
	}()
	return s
}

// next returns the next message, failing the test if the stream ends.
func (s *sseStream) next() rpcMsg {
	s.t.Helper()
	select {
	case m, ok := <-s.msgs:
		if !ok {
			s.t.Fatalf("stream ended: %v", <-s.err)
		}
		return m
	case <-time.After(wait):
		s.t.Fatal("no event in time")
	}
	panic("unreachable")
}

// end waits for the stream to end and returns the messages still sent.
func (s *sseStream) end() []rpcMsg {
	s.t.Helper()
	var rest []rpcMsg
	timeout := time.After(wait)
	for {
		select {
		case m, ok := <-s.msgs:
			if !ok {
				if err := <-s.err; !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					s.t.Logf("stream ended with %v", err)
				}
				return rest
			}
			rest = append(rest, m)
		case <-timeout:
			s.t.Fatal("stream did not end in time")
		}
	}
}

// untilResponse reads up to the response to id, returning the messages
// before it and the response.
func (s *sseStream) untilResponse(id string) (before []rpcMsg, resp rpcMsg) {
	s.t.Helper()
	for {
		m := s.next()
		if m.Method == "" && string(m.ID) == id {
			return before, m
		}
		before = append(before, m)
	}
}

// eventually polls cond (bounded) and fails the test with what if it never holds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gone reports whether no process has the pid (it exited and was reaped).
func gone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// gate returns a file path that slow calls wait for, and a function that
// creates it.
func gate(t testing.TB) (path string, open func()) {
	path = filepath.Join(t.TempDir(), "gate")
	return path, func() {
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Error(err)
		}
	}
}
