package stdiorelay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
	"github.com/mcpgate/mcpgate/internal/telemetry"
)

// Isolation says how client sessions map to child processes.
type Isolation string

const (
	IsolationSession Isolation = "session" // one child per session (default)
	IsolationShared  Isolation = "shared"  // one child for all
)

// Options configures a Relay. Zero fields take the defaults noted.
type Options struct {
	Name      string
	Command   Command
	Isolation Isolation // default IsolationSession
	// MaxSessions bounds concurrent sessions (and so, with session
	// isolation, child processes); default 100. With session isolation,
	// each principal's stateless child counts as one.
	MaxSessions int
	// MaxSessionsPerPrincipal bounds one principal's share of MaxSessions
	// (session isolation only), so that one caller cannot lock everyone
	// else out; default max(1, MaxSessions/4). See principalOf.
	MaxSessionsPerPrincipal int
	// IdleTimeout ends sessions unused for this long; default 30m.
	IdleTimeout time.Duration
	// InitialBackoff and MaxBackoff space out restarts of a failing
	// command; defaults 500ms and 30s.
	InitialBackoff, MaxBackoff time.Duration
	// KeepAlive is the interval of SSE comment lines on idle streams, which
	// keep intermediaries from closing them; default 25s.
	KeepAlive time.Duration
	// Telemetry makes a CLIENT span per message written to a child, puts its
	// trace context in the message's params._meta, and counts sessions and
	// restarts. Nil: none of that, and messages go to the child unchanged.
	Telemetry *telemetry.Telemetry
	// Versions learns the revisions the server advertises from the
	// server/discover results relayed, for the gateway's own -32022
	// errors (inspect.Options.Supported). Nil: not learned.
	Versions *mcpwire.Advertised
	Logger   *slog.Logger
}

// Relay is an http.Handler serving Streamable HTTP in front of a stdio
// server.
type Relay struct {
	opts    Options
	log     *slog.Logger
	backoff *backoff // for session children
	shared  *sharedConn
	backend telemetry.BackendInfo

	mu       sync.Mutex
	sessions map[string]*session
	children map[*ownChild]struct{} // session children not yet exited, for Close
	// stateless holds, with session isolation, each principal's child for
	// stateless (2026-07-28) traffic; owners counts each principal's
	// sessions and stateless children against MaxSessionsPerPrincipal.
	stateless map[string]*statelessConn
	owners    map[string]int
	closed    bool

	stopJanitor chan struct{}
	janitorDone chan struct{}
}

// New returns a Relay; children start on demand.
func New(opts Options) (*Relay, error) {
	if len(opts.Command.Argv) == 0 {
		return nil, fmt.Errorf("backend %q: empty command", opts.Name)
	}
	if opts.Isolation == "" {
		opts.Isolation = IsolationSession
	}
	if opts.Isolation != IsolationSession && opts.Isolation != IsolationShared {
		return nil, fmt.Errorf("backend %q: unknown isolation %q", opts.Name, opts.Isolation)
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = 100
	}
	if opts.MaxSessionsPerPrincipal <= 0 {
		opts.MaxSessionsPerPrincipal = max(1, opts.MaxSessions/4)
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 30 * time.Minute
	}
	if opts.KeepAlive <= 0 {
		opts.KeepAlive = 25 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	log := opts.Logger.With("backend", opts.Name)
	r := &Relay{
		opts:        opts,
		log:         log,
		backoff:     newBackoff(opts.InitialBackoff, opts.MaxBackoff),
		sessions:    map[string]*session{},
		children:    map[*ownChild]struct{}{},
		stateless:   map[string]*statelessConn{},
		owners:      map[string]int{},
		stopJanitor: make(chan struct{}),
		janitorDone: make(chan struct{}),
		backend:     telemetry.StdioBackend(opts.Name),
	}
	r.shared = newSharedConn(opts.Command, log.With("child", "shared"),
		newBackoff(opts.InitialBackoff, opts.MaxBackoff), r.broadcast, func() { opts.Telemetry.StdioRestart(opts.Name) })
	go r.janitor()
	return r, nil
}

// ServeHTTP implements the server side of Streamable HTTP.
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rec := record.FromContext(req.Context())
	rec.Backend = r.opts.Name
	in := inspect.FromContext(req.Context())
	sid := req.Header.Get(mcpwire.HeaderSessionID)
	stateless := in != nil && mcpwire.Stateless(in.Version)

	var s *session
	if sid != "" && !stateless {
		if s = r.lookup(sid); s == nil {
			rec.Fail(record.ReasonSessionNotFound, "unknown or expired session")
			mcpwire.WriteError(w, http.StatusNotFound, rec.RequestID(), mcpwire.CodeSessionNotFound, "session not found")
			return
		}
	}
	switch req.Method {
	case http.MethodPost:
		switch {
		case stateless && r.opts.Isolation == IsolationShared:
			r.exchange(w, req, in, nil, r.shared, false)
		case stateless:
			r.statelessExchange(w, req, in)
		case s != nil:
			r.exchange(w, req, in, s, s.backend(), false)
		case isInitialize(in):
			r.initialize(w, req, in)
		default:
			rec.Fail(record.ReasonInvalidRequest, "no session id")
			mcpwire.WriteError(w, http.StatusBadRequest, rec.RequestID(), jsonrpc.CodeInvalidRequest,
				"missing Mcp-Session-Id header: initialize first")
		}
	case http.MethodGet:
		if s == nil {
			rec.Fail(record.ReasonInvalidRequest, "GET without session id")
			mcpwire.WriteError(w, http.StatusBadRequest, nil, jsonrpc.CodeInvalidRequest, "missing Mcp-Session-Id header")
			return
		}
		r.stream(w, req, s)
	case http.MethodDelete:
		if s == nil {
			rec.Fail(record.ReasonInvalidRequest, "DELETE without session id")
			mcpwire.WriteError(w, http.StatusBadRequest, nil, jsonrpc.CodeInvalidRequest, "missing Mcp-Session-Id header")
			return
		}
		r.endSession(s, "client ended it", "")
		w.WriteHeader(http.StatusNoContent)
	}
}

func isInitialize(in *inspect.Request) bool {
	return in != nil && !in.Body.Batch && in.Body.Messages[0].Kind == jsonrpc.KindRequest &&
		in.Body.Messages[0].Method == "initialize"
}

// initialize starts a session. The answer is JSON rather than SSE so the
// session id can be withheld when initialization fails; whatever the server
// sends before its answer waits for the session's first stream.
func (r *Relay) initialize(w http.ResponseWriter, req *http.Request, in *inspect.Request) {
	rec := record.FromContext(req.Context())
	s, err := r.newSession(principalOf(rec))
	if err != nil {
		r.startFailed(w, rec, in, err)
		return
	}
	rec.SessionID = s.id
	s.version = in.Version
	r.opts.Telemetry.SessionStarted(r.opts.Name)
	c := s.backend()
	ok := r.exchange(w, req, in, s, c, true)
	if !ok {
		// A child that exits or never answers initialize failed to start;
		// one that answered with an error is alive and merely refused.
		if oc, own := c.(*ownChild); own && !oc.answered.Load() && req.Context().Err() == nil {
			r.failedStart(oc)
		}
		r.endSession(s, "initialize failed", record.ReasonUpstreamError)
	}
}

// startFailed answers a request for which no session or child could be
// had: 503 with Retry-After at a session limit, else as backendFailed.
func (r *Relay) startFailed(w http.ResponseWriter, rec *record.Record, in *inspect.Request, err error) {
	switch {
	case errors.Is(err, errSessionLimit):
		rec.Fail(record.ReasonSessionLimit, err.Error())
		w.Header().Set("Retry-After", "5")
		mcpwire.WriteError(w, http.StatusServiceUnavailable, rec.RequestID(), mcpwire.CodeGateway, "too many sessions; retry later")
	case errors.Is(err, errPrincipalLimit):
		rec.Fail(record.ReasonSessionLimit, err.Error())
		w.Header().Set("Retry-After", "5")
		mcpwire.WriteError(w, http.StatusServiceUnavailable, rec.RequestID(), mcpwire.CodeGateway,
			"too many sessions for this principal; end one (DELETE) or retry later")
	default:
		r.backendFailed(w, rec, in, err, "could not be started")
	}
}

var (
	errSessionLimit   = errors.New("session limit reached")
	errPrincipalLimit = errors.New("per-principal session limit reached")
)

// principalOf names whose share of the sessions a request draws on: the
// authenticated principal (issuer and subject), or, for an anonymous
// caller, its client address (the forwarded one behind a trusted proxy), so
// that anonymous callers on other hosts keep their share.
func principalOf(rec *record.Record) string {
	switch {
	case rec == nil:
		return "anonymous"
	case rec.Identity != nil:
		return "principal\n" + rec.Identity.Issuer + "\n" + rec.Identity.Subject
	default:
		return "address\n" + rec.ClientAddr
	}
}

// reserveLocked takes a session slot for owner, checking both limits;
// r.mu is held.
func (r *Relay) reserveLocked(owner string) error {
	switch {
	case r.closed:
		return errShuttingDown
	case len(r.sessions)+len(r.stateless) >= r.opts.MaxSessions:
		return errSessionLimit
	case r.opts.Isolation == IsolationSession && r.owners[owner] >= r.opts.MaxSessionsPerPrincipal:
		return fmt.Errorf("%w (%d)", errPrincipalLimit, r.opts.MaxSessionsPerPrincipal)
	}
	r.owners[owner]++
	return nil
}

// releaseLocked gives owner's slot back; r.mu is held.
func (r *Relay) releaseLocked(owner string) {
	if r.owners[owner]--; r.owners[owner] <= 0 {
		delete(r.owners, owner)
	}
}

func (r *Relay) newSession(owner string) (*session, error) {
	id := newSessionID()
	s := newSession(id)
	s.owner = owner
	r.mu.Lock()
	if err := r.reserveLocked(owner); err != nil {
		r.mu.Unlock()
		return nil, err
	}
	r.sessions[id] = s // reserve the slot before the slow start
	r.mu.Unlock()

	if r.opts.Isolation == IsolationShared {
		s.attach(r.shared)
		return s, nil
	}
	if wait := r.backoff.wait(); wait > 0 {
		r.drop(s)
		return nil, &unavailableError{retryAfter: wait}
	}
	oc, err := startOwnChild(r.opts.Command, s, r.log.With("session", sessionRef(id)), func(oc *ownChild) {
		switch lived := time.Since(oc.child.started); {
		case lived >= healthyRun:
			r.backoff.reset()
		case !oc.stopping.Load() && !r.isClosed():
			r.failedStart(oc)
		}
		r.mu.Lock()
		delete(r.children, oc)
		r.mu.Unlock()
		r.endSession(s, "backend process exited", record.ReasonUpstreamUnavailable)
	})
	if err != nil {
		r.backoff.failed()
		r.drop(s)
		return nil, err
	}
	r.mu.Lock()
	closed := r.closed
	if !closed {
		r.children[oc] = struct{}{}
	}
	r.mu.Unlock()
	// Close or an expiry may have ended the session while the child
	// started; the child must not outlive it.
	if closed || !s.attach(oc) {
		r.drop(s)
		oc.close()
		return nil, errShuttingDown
	}
	return s, nil
}

var errShuttingDown = errors.New("gateway is shutting down")

// failedStart counts a session child's failure to start against the
// back-off, once per child: both the initialize that got no answer and the
// child's exit may report it.
func (r *Relay) failedStart(oc *ownChild) {
	if oc.counted.CompareAndSwap(false, true) {
		r.backoff.failed()
	}
}

func (r *Relay) drop(s *session) {
	r.mu.Lock()
	if r.sessions[s.id] == s {
		delete(r.sessions, s.id)
		r.releaseLocked(s.owner)
	}
	r.mu.Unlock()
}

func (r *Relay) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// sessionRef names a session in log lines: never the id, a capability
// (record.SessionRef). A prefix of the id would be a part of the
// capability, and would not match the audit log's ref.
func sessionRef(id string) string { return record.SessionRef(id) }

func (r *Relay) lookup(id string) *session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions[id]
}

// endSession ends s; reason is a record.Reason* when a failure ended it
// (for mcp.server.session.duration), else "".
func (r *Relay) endSession(s *session, why string, reason record.Reason) {
	r.drop(s)
	if !s.end() {
		return
	}
	r.opts.Telemetry.SessionEnded(r.opts.Name, s.version, s.started, string(reason))
	r.log.Debug("session ended", "session", sessionRef(s.id), "why", why)
	if c := s.backend(); c != nil && c != conn(r.shared) {
		go c.close()
	}
}

func (r *Relay) broadcast(it item) {
	r.mu.Lock()
	all := make([]*session, 0, len(r.sessions))
	for _, s := range r.sessions {
		all = append(all, s)
	}
	r.mu.Unlock()
	for _, s := range all {
		s.route(it)
	}
}

// janitor ends sessions, and stops stateless children, left idle past the
// idle timeout.
func (r *Relay) janitor() {
	defer close(r.janitorDone)
	every := min(max(r.opts.IdleTimeout/4, time.Second), time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-r.stopJanitor:
			return
		case now := <-t.C:
			r.mu.Lock()
			var idle []*session
			for _, s := range r.sessions {
				if last, quiet := s.idleSince(); quiet && now.Sub(last) > r.opts.IdleTimeout {
					idle = append(idle, s)
				}
			}
			r.mu.Unlock()
			for _, s := range idle {
				r.endSession(s, "idle timeout", "")
			}
			r.reapStateless(now.Add(-r.opts.IdleTimeout))
		}
	}
}

// Sessions returns the number of live sessions.
func (r *Relay) Sessions() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sessions)
}

// Close ends every session and stops every child, waiting for them up to
// ctx's deadline.
func (r *Relay) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	all := make([]*session, 0, len(r.sessions))
	for _, s := range r.sessions {
		all = append(all, s)
	}
	r.mu.Unlock()
	close(r.stopJanitor)
	<-r.janitorDone
	for _, s := range all {
		r.endSession(s, "gateway shutting down", "")
	}
	// Wait for every session child, including those of sessions that ended
	// before Close and are still stopping.
	r.mu.Lock()
	children := make([]*ownChild, 0, len(r.children))
	for oc := range r.children {
		children = append(children, oc)
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, oc := range children {
		wg.Go(func() { <-oc.child.exited })
	}
	wg.Go(r.shared.close)
	wg.Go(func() { r.reapStateless(time.Time{}) })
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
