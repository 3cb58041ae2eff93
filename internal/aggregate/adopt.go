package aggregate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	sdkjsonrpc "github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/sessionseal"
)

// Sessions across replicas. With sealed sessions (internal/sessionseal)
// the client's session id is a token carrying what the session is made
// of: each backend's session id (Export) and the client's initialize
// declaration. A replica that gets a token it holds no session for
// rebuilds the session from it (Adopt): the client-facing session by
// replaying the client's initialize through the SDK's handler, the
// backends' by resuming their sessions under the sealed ids (resume.go).

// ErrSessionLimit is Adopt's refusal at Options.MaxSessions or
// MaxSessionsPerPrincipal: the caller answers as for a new session beyond
// them (503 with Retry-After).
var ErrSessionLimit error = sessionLimitError{}

type sessionLimitError struct{}

func (sessionLimitError) Error() string { return "aggregate: too many sessions" }

// SessionLimit marks the error for the session stage
// (internal/sealedsession), which imports no relay: it answers it as the
// cap on new sessions is answered, 503 with Retry-After.
func (sessionLimitError) SessionLimit() bool { return true }

// Has reports whether sid is a live local session of this replica.
func (a *Aggregator) Has(sid string) bool {
	s := a.sessionByID(sid)
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closed
}

// Export returns what to seal for the local (SDK) session sid: each
// backend's session id by backend name, in configuration order. ok is
// false when sid is not a live local session.
//
// It is what the session holds when called. Called as the initialize's
// response goes out, that is every backend that answered the initialize:
// session.start connects them all before the SDK answers. A backend
// connected later (it was down then) is not in the token, and one
// reconnected later has a new id the token does not carry; a replica
// adopting the token connects the first afresh and finds the second's old
// session gone (the gateway ended it), and connects it afresh too. Backends
// without a session id (stdio children, stateless HTTP backends) are left
// out: there is nothing of theirs to resume.
func (a *Aggregator) Export(sid string) (backends []sessionseal.Backend, ok bool) {
	s := a.sessionByID(sid)
	if s == nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	for _, b := range a.backends {
		id := s.resume[b.Name] // adopted, not resumed yet: still the one to resume
		if c := s.conns[b.Name]; c != nil && b.client != nil {
			id = c.cs.ID()
		}
		if id != "" {
			backends = append(backends, sessionseal.Backend{Name: b.Name, ID: id})
		}
	}
	return backends, true
}

// Movable reports whether every backend is an HTTP one, whose sessions
// another replica can resume. A stdio backend's child lives in this
// process: a session adopted elsewhere gets a new child, and whatever the
// old one held is lost.
func (a *Aggregator) Movable() bool {
	for _, b := range a.backends {
		if b.client == nil {
			return false
		}
	}
	return true
}

// Adopt makes the session sealed in sealed (created by another replica,
// or by this one before a restart) a live local session for principal id,
// resuming each backend's session from sealed.Backends (no new initialize
// is sent to a backend whose id is there), rebuilding the client-facing
// SDK session from sealed.Protocol, ClientName, ClientVersion and
// Capabilities, and returns its new local SDK session id.
//
// The client sees nothing of it: the initialize and
// notifications/initialized that rebuild the SDK's session are replayed
// to the SDK's handler here, their answers dropped. A backend whose
// session is gone is connected afresh; one that cannot be reached is
// retried as for any session. The session counts under the session caps
// (ErrSessionLimit).
func (a *Aggregator) Adopt(ctx context.Context, id *identity.Identity, sealed *sessionseal.Session) (localID string, err error) {
	if sealed == nil {
		return "", errors.New("aggregate: adopt: no session")
	}
	if sealed.Protocol == "" || mcpwire.Stateless(sealed.Protocol) {
		return "", fmt.Errorf("aggregate: adopt: revision %q has no sessions", sealed.Protocol)
	}
	caps := json.RawMessage(sealed.Capabilities)
	if len(caps) == 0 {
		caps = json.RawMessage(`{}`)
	}
	if !json.Valid(caps) {
		return "", errors.New("aggregate: adopt: the sealed capabilities are not JSON")
	}
	init, err := json.Marshal(map[string]any{
		"jsonrpc": "2.0",
		"id":      "mcpgate-adopt",
		"method":  "initialize",
		"params": map[string]any{
			"protocolVersion": sealed.Protocol,
			"capabilities":    caps,
			"clientInfo":      map[string]string{"name": sealed.ClientName, "version": sealed.ClientVersion},
		},
	})
	if err != nil {
		return "", fmt.Errorf("aggregate: adopt: %w", err)
	}
	sl := a.takeSlot(id)
	if sl == nil {
		return "", ErrSessionLimit
	}
	s := a.newSession(id)
	s.claim(sl)
	s.resume = map[string]string{}
	for _, b := range sealed.Backends {
		if be := a.byName[b.Name]; be != nil && be.client != nil && b.ID != "" {
			s.resume[b.Name] = b.ID
		}
	}
	// As ServeHTTP's: a session that never started gives its slot back.
	defer s.settleSlot()
	h := &holder{s: s}
	fail := func(err error) (string, error) {
		if s.ss != nil {
			_ = s.ss.Close() // its cleanup (start's) closes the backends
		} else {
			s.close()
		}
		return "", fmt.Errorf("aggregate: adopt: %w", err)
	}
	w, err := a.replay(ctx, h, "", sealed.Protocol, init)
	if err != nil {
		return fail(fmt.Errorf("initialize: %w", err))
	}
	sid := w.header.Get(mcpwire.HeaderSessionID)
	if sid == "" || s.ss == nil || s.ss.ID() != sid {
		return fail(errors.New("initialize: the SDK opened no session"))
	}
	if _, err := a.replay(ctx, h, sid, sealed.Protocol, []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)); err != nil {
		return fail(fmt.Errorf("notifications/initialized: %w", err))
	}
	return sid, nil
}

// replay hands one message of the client's, made up, to the SDK's handler
// for h's session, and returns the answer, which is checked for a
// JSON-RPC error and goes nowhere else. Not through ServeHTTP: nothing of
// it is the client's request (no record, no span, no fast path).
func (a *Aggregator) replay(ctx context.Context, h *holder, sid, version string, body []byte) (*replayWriter, error) {
	// Not ctx's values (the client's request record, its inspection):
	// the SDK keeps the context of the request that opened a session for
	// the session. Only its span and its end cross.
	rctx, cancel := context.WithCancel(trace.ContextWithSpanContext(context.Background(), trace.SpanContextFromContext(ctx)))
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()
	r, err := http.NewRequestWithContext(context.WithValue(rctx, holderKey{}, h), http.MethodPost, "/", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json, text/event-stream")
	if sid != "" {
		r.Header.Set(mcpwire.HeaderSessionID, sid)
		r.Header.Set(mcpwire.HeaderProtocolVersion, version)
	}
	w := &replayWriter{header: http.Header{}}
	a.handler.ServeHTTP(w, r)
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if w.code/100 != 2 {
		return w, fmt.Errorf("HTTP %d: %s", w.code, strings.TrimSpace(w.body.String()))
	}
	if err := w.rpcError(); err != nil {
		return w, err
	}
	return w, nil
}

// replayWriter keeps the SDK's answer to a replayed message.
type replayWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (w *replayWriter) Header() http.Header { return w.header }
func (w *replayWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *replayWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.body.Write(p)
}
func (w *replayWriter) Flush() {}

// rpcError returns the JSON-RPC error in the answer (a JSON body, or the
// data of an event stream's messages), if any.
func (w *replayWriter) rpcError() error {
	var msgs [][]byte
	if strings.HasPrefix(w.header.Get("Content-Type"), "text/event-stream") {
		sc := bufio.NewScanner(bytes.NewReader(w.body.Bytes()))
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data:"); ok {
				msgs = append(msgs, []byte(strings.TrimSpace(data)))
			}
		}
	} else if w.body.Len() > 0 {
		msgs = append(msgs, w.body.Bytes())
	}
	for _, m := range msgs {
		var resp struct {
			Error *sdkjsonrpc.Error `json:"error"`
		}
		if json.Unmarshal(m, &resp) == nil && resp.Error != nil {
			return resp.Error
		}
	}
	return nil
}
