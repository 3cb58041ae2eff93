package aggregate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	sdkjsonrpc "github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

// Resuming a backend session another replica opened (adopt.go). The SDK's
// client has no way to take over an existing session: Connect always
// sends initialize, and a backend answers a new initialize with a new
// session, losing the old one's state. So the handshake is answered below
// the SDK: the resumed connection's HTTP client answers the initialize
// itself, with the backend's InitializeResult and the sealed session id,
// and swallows notifications/initialized; every later request goes to the
// backend under the old id. The SDK's ClientSession then carries on the
// backend session as if it had opened it.
//
// The InitializeResult is not sealed (it would not fit a token): it is the
// one this replica last got from the backend for the same revision, from
// any session (backend.rememberInit); a replica that has none yet learns
// it by opening, and ending, one session with the backend. A backend
// answers the same for the same revision and declaration; one that was
// upgraded in between may differ, which the relisting after resumption
// covers for the lists, not for the capabilities.

// errBackendSessionGone is a resumption the backend refused: the session
// is no longer there (HTTP 404, as the specification has it; 400 or 410
// from servers that say so otherwise: see gone). The backend is then
// connected afresh.
var errBackendSessionGone = errors.New("the backend's session is gone")

// resumeTransport is the resumed connection's round tripper (see above).
type resumeTransport struct {
	base   http.RoundTripper
	id     string          // the backend session resumed
	result json.RawMessage // the backend's InitializeResult
	// step is 0 until the initialize is answered, 1 until
	// notifications/initialized is swallowed, 2 after.
	step atomic.Int32
	// refused is the first status the backend answered that says the
	// session is gone (gone); 0: none.
	refused atomic.Int32
	// listen is set once the listening stream (the first GET) was asked
	// for; takeOver bounds how long it is retried while the backend says
	// another connection still holds it (409: the replica the session
	// comes from, shutting down).
	listen   atomic.Bool
	takeOver time.Duration
}

func (t *resumeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && t.step.Load() < 2 && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			return nil, err
		}
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		_ = json.Unmarshal(body, &m)
		switch {
		case m.Method == "initialize" && len(m.ID) > 0 && t.step.CompareAndSwap(0, 1):
			out, err := json.Marshal(struct {
				JSONRPC string          `json:"jsonrpc"`
				ID      json.RawMessage `json:"id"`
				Result  json.RawMessage `json:"result"`
			}{"2.0", m.ID, t.result})
			if err != nil {
				return nil, err
			}
			resp := localResponse(r, http.StatusOK, out)
			resp.Header.Set("Content-Type", "application/json")
			resp.Header.Set(mcpwire.HeaderSessionID, t.id)
			return resp, nil
		case m.Method == "notifications/initialized" && t.step.CompareAndSwap(1, 2):
			return localResponse(r, http.StatusAccepted, nil), nil
		}
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	if r.Method == http.MethodGet && r.Header.Get(mcpwire.HeaderLastEventID) == "" && t.listen.CompareAndSwap(false, true) {
		return t.listenStream(r)
	}
	resp, err := t.base.RoundTrip(r)
	if err == nil && r.Header.Get(mcpwire.HeaderSessionID) == t.id {
		t.note(resp)
	}
	return resp, err
}

// note records resp's status when it says the session is gone.
func (t *resumeTransport) note(resp *http.Response) {
	if gone(resp) {
		t.refused.CompareAndSwap(0, int32(resp.StatusCode))
	}
}

// listenStream opens the resumed session's listening stream. While the
// backend refuses it with 409 — the replica the session comes from has
// not let go of it yet (the backend notices a closed connection only so
// fast) — the SDK is given a stream at once, which carries the real one's
// events once a retry within takeOver gets it; after takeOver the session
// goes on without one, as it would have.
func (t *resumeTransport) listenStream(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusConflict || t.takeOver <= 0 {
		if err == nil {
			t.note(resp)
		}
		return resp, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	pr, pw := io.Pipe()
	go func() {
		ctx := r.Context() // the connection's: ends when it closes
		end := time.Now().Add(t.takeOver)
		for delay := 50 * time.Millisecond; ; delay = min(delay*2, time.Second) {
			select {
			case <-ctx.Done():
				pw.CloseWithError(ctx.Err())
				return
			case <-time.After(delay):
			}
			resp, err := t.base.RoundTrip(r.Clone(ctx))
			switch {
			case err == nil && resp.StatusCode == http.StatusOK:
				// Its end is the stream's: the SDK reconnects as it would.
				_, err = io.Copy(pw, resp.Body)
				_ = resp.Body.Close()
				pw.CloseWithError(err)
				return
			case err == nil:
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
			if time.Now().After(end) {
				// Held elsewhere for good: no listening stream, but the
				// SDK's stays open (its end would be taken for a failure).
				<-ctx.Done()
				pw.CloseWithError(ctx.Err())
				return
			}
		}
	}()
	out := localResponse(r, http.StatusOK, nil)
	out.Header.Set("Content-Type", "text/event-stream")
	out.Body, out.ContentLength = pr, -1
	return out, nil
}

// gone reports whether a backend's answer to a request of the resumed
// session says the session is not there: 404 is the specification's, 410
// says it plainly, and the TypeScript SDK answers an unknown session 400.
// A 400 that is a JSON-RPC error answering the request by its id is not
// one: the session is there and refused that request (the Go SDK's
// "duplicate in-flight request ID", when the replica the session comes
// from has a request of the same id in flight). A 405 or 409 to the
// listening GET (no stream offered, or another replica still holds it)
// is not one either.
func gone(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusNotFound, http.StatusGone:
		return true
	case http.StatusBadRequest:
	default:
		return false
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
	if err != nil {
		return true
	}
	var m struct {
		ID json.RawMessage `json:"id"`
	}
	answered := json.Unmarshal(body, &m) == nil && len(m.ID) > 0 && string(m.ID) != "null"
	return !answered
}

func localResponse(r *http.Request, code int, body []byte) *http.Response {
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", code, http.StatusText(code)),
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}
}

// detachTransport withholds the DELETE that ends the backend session when
// the client session is only being dropped from this replica (Close with
// Options.Handoff): the client may go on with it on another; and when a
// resumption failed before the connection was offered (conn.resumed).
type detachTransport struct {
	base http.RoundTripper
	c    *conn
}

func (t *detachTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodDelete && (t.c.s.detached.Load() || t.c.resumed && !t.c.owned.Load()) {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return localResponse(r, http.StatusNoContent, nil), nil
	}
	return t.base.RoundTrip(r)
}

// connTransport is c's transport to its backend: fenced and idle-bounded
// (fencedTransport), its DELETE withheld once the session is detached, its
// request ids its own (reqids.go), and, with resume, its handshake answered
// locally.
func (s *session) connTransport(c *conn, resume *resumeTransport) mcp.Transport {
	t := c.b.fencedTransport(c.fence, s.idleFor(c))
	st, ok := t.(*mcp.StreamableClientTransport)
	if !ok {
		return t // stdio: nothing to resume or withhold, and one reader of the ids
	}
	var rt http.RoundTripper = &detachTransport{base: st.HTTPClient.Transport, c: c}
	it := newIDTransport(rt, st.MaxEventSize)
	it.route = routeBase(s.agg.tag, c.b.Name)
	rt = it
	// The client's answers to the backend's requests that another replica
	// relayed go this way (clientreq.go): past the handshake, the same
	// backend session.
	c.hc = &http.Client{Transport: rt}
	if resume != nil {
		resume.base = rt
		rt = resume
	}
	st.HTTPClient = &http.Client{Transport: rt}
	return st
}

// rememberInit keeps what b answered a session-based initialize of
// revision version, for resuming its sessions (resumeDial).
func (b *backend) rememberInit(version string, ir *mcp.InitializeResult) {
	if ir == nil {
		return
	}
	raw, err := json.Marshal(ir)
	if err != nil {
		return
	}
	b.mu.Lock()
	if b.inits == nil {
		b.inits = map[string]json.RawMessage{}
	}
	b.inits[version] = raw
	b.mu.Unlock()
}

func (b *backend) initFor(version string) json.RawMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.inits[version]
}

// learnInit returns what b answers an initialize of the session's
// revision. A replica that has not initialized a session of it with b yet
// opens one to learn the answer, and ends it; adoptions that need the
// same wait for one such session rather than each opening its own.
func (s *session) learnInit(ctx context.Context, b *backend) (json.RawMessage, error) {
	if r := b.initFor(s.version); r != nil {
		return r, nil
	}
	b.learn.Lock()
	defer b.learn.Unlock()
	if r := b.initFor(s.version); r != nil {
		return r, nil
	}
	c0, err := s.dial(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("learning the backend's initialize result: %w", err)
	}
	_ = c0.cs.Close()
	if r := b.initFor(s.version); r != nil {
		return r, nil
	}
	// It answered in another era (no session of the client's revision):
	// there is nothing to resume.
	return nil, errBackendSessionGone
}

// resumeID returns the sealed id of backend's session this adopted session
// resumes; "" when there is none (left to resume).
func (s *session) resumeID(backend string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resume[backend]
}

func (s *session) resumed(backend string) {
	s.mu.Lock()
	delete(s.resume, backend)
	s.mu.Unlock()
}

// resumeDial takes over b's session id (sealed by the replica that opened
// it) and checks, with a ping, that the backend still has it. It returns
// errBackendSessionGone when the backend says it has not; any other error
// leaves the id for the next attempt (the backend may only be down).
func (s *session) resumeDial(ctx context.Context, b *backend, id string) (*conn, error) {
	result, err := s.learnInit(ctx, b)
	if err != nil {
		return nil, err
	}
	rt := &resumeTransport{id: id, result: result, takeOver: s.agg.opts.ConnectTimeout}
	c, err := s.dialWith(ctx, b, func(ctx context.Context, client *mcp.Client, c *conn) (*mcp.ClientSession, error) {
		c.resumed = true
		return client.Connect(ctx, s.connTransport(c, rt), &mcp.ClientSessionOptions{ProtocolVersion: s.version})
	})
	if err != nil {
		return nil, err
	}
	if c.cs.ID() != id {
		_ = c.cs.Close()
		return nil, fmt.Errorf("resumed session id %q, want %q", c.cs.ID(), id)
	}
	err = c.cs.Ping(ctx, nil)
	var werr *sdkjsonrpc.Error
	if err != nil && rt.refused.Load() == 0 && errors.As(err, &werr) {
		err = nil // answered, if with an error: the session is there
	}
	if err != nil {
		_ = c.cs.Close()
		if code := rt.refused.Load(); code != 0 {
			return nil, fmt.Errorf("%w (HTTP %d)", errBackendSessionGone, code)
		}
		return nil, fmt.Errorf("ping: %w", err)
	}
	return c, nil
}
