package aggregate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
	"github.com/mcpgate/mcpgate/internal/telemetry"
)

// Options configures an Aggregator. Zero fields take the defaults noted.
type Options struct {
	Backends []Backend // at least one; names unique
	Naming   Naming

	// ConnectTimeout bounds connecting and listing one backend when a
	// client session starts (and on each reconnection); default 10s. A
	// backend slower than that is left out of the session until a retry.
	ConnectTimeout time.Duration
	// SessionTimeout closes client sessions idle this long (with Handoff,
	// only this replica's copy: see there); 0: never.
	SessionTimeout time.Duration
	// MaxSessions bounds the client sessions open at once, and
	// MaxSessionsPerPrincipal those of one principal (all anonymous
	// callers together are one); beyond them a request that would open a
	// session gets 503 with Retry-After. Defaults 100 and 20.
	MaxSessions             int
	MaxSessionsPerPrincipal int
	// InitializeTimeout closes a client session that has not sent
	// notifications/initialized this long after its initialize was
	// answered; default 10s.
	InitializeTimeout time.Duration
	// MaxBodyBytes is the SDK handler's body cap; the gateway's limits
	// stage has already enforced the configured one. Default 4 MiB.
	MaxBodyBytes int64

	// Stateless serves 2026-07-28 (stateless) requests: each one connects
	// every backend for that one request — a stdio backend's child is
	// started for it — and a backend's server→client request cannot reach
	// the client (a 2026-07-28 backend asks with input_required instead,
	// which passes through). Off (the default), such requests are refused
	// with -32022 naming the session-based revisions, to which clients
	// fall back (the Go SDK's default client does so by itself).
	Stateless bool

	// Handoff is set when client sessions are sealed into the ids the
	// clients hold (sessions.keys), so that another replica may adopt
	// them (Adopt) and resume their backend sessions: Close then drops
	// each session from this replica without ending its backends'
	// sessions (no DELETE), and a client that comes back on another
	// replica finds them as it left them. So does a session's expiry in
	// this replica (SessionTimeout, InitializeTimeout): the client may be
	// busy with it on another. A client's DELETE and a failed
	// initialization still end them. Off: Close and expiry end every
	// backend session.
	Handoff bool

	// Version is the gateway's version, in its serverInfo and clientInfo.
	Version string

	// Telemetry makes a CLIENT span per backend call and learns the names
	// the backends list; nil: none of that.
	Telemetry *telemetry.Telemetry
	Logger    *slog.Logger
}

// Aggregator is the http.Handler at the end of the gateway's chain in
// aggregating mode.
type Aggregator struct {
	opts     Options
	backends []*backend
	byName   map[string]*backend
	names    []string
	tel      *telemetry.Telemetry
	log      *slog.Logger
	sdkLog   *slog.Logger
	handler  *mcp.StreamableHTTPHandler
	failures failures // the SDK path's gateway failures, to their records
	// stateless serves 2026-07-28 requests (Options.Stateless); nil: the
	// SDK's stateful handler refuses that revision with -32022 naming the
	// session-based ones, and clients fall back to one of them.
	stateless *mcp.StreamableHTTPHandler
	base      *mcp.Server // answers the SDK's version check for requests of existing sessions

	stop     chan struct{} // ends reapIdle
	stopOnce sync.Once
	slots    sessionSlots // limits.go
	// tag tells the ids this replica makes up (the fast path's request
	// ids, the progress tokens of server→client requests) from another
	// replica's, whose counters start where this one's do (reqids.go).
	tag string

	mu       sync.Mutex
	sessions map[*session]struct{}
	byID     map[string]*session // the sessions with an id
}

// New returns an Aggregator for opts. It does not contact the backends:
// each client session connects them (see Probe for a start-up check).
func New(opts Options) (*Aggregator, error) {
	if len(opts.Backends) == 0 {
		return nil, errors.New("aggregate: no backends")
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 4 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = 100
	}
	if opts.MaxSessionsPerPrincipal <= 0 {
		opts.MaxSessionsPerPrincipal = 20
	}
	if opts.InitializeTimeout <= 0 {
		opts.InitializeTimeout = 10 * time.Second
	}
	a := &Aggregator{
		opts:     opts,
		tag:      idTag(),
		byName:   map[string]*backend{},
		tel:      opts.Telemetry,
		log:      opts.Logger,
		sessions: map[*session]struct{}{},
		byID:     map[string]*session{},
		stop:     make(chan struct{}),
		slots:    sessionSlots{max: opts.MaxSessions, perPrincipal: opts.MaxSessionsPerPrincipal, byWho: map[string]int{}},
	}
	// The SDK logs at Info what the gateway reports itself; keep its
	// chatter at debug level.
	a.sdkLog = slog.New(levelShift{opts.Logger.Handler()})
	for _, b := range opts.Backends {
		if a.byName[b.Name] != nil {
			return nil, fmt.Errorf("aggregate: duplicate backend name %q", b.Name)
		}
		be, err := newBackend(b, opts.Logger)
		if err != nil {
			return nil, err
		}
		a.backends = append(a.backends, be)
		a.byName[b.Name] = be
		a.names = append(a.names, b.Name)
	}
	a.base = mcp.NewServer(&mcp.Implementation{Name: "mcpgate", Version: opts.Version}, nil)
	a.handler = mcp.NewStreamableHTTPHandler(a.getServer, &mcp.StreamableHTTPOptions{
		// No SessionTimeout: idle.go expires sessions, counting the
		// fast-path calls the SDK never sees.
		MaxRequestBodyBytes: opts.MaxBodyBytes,
		Logger:              a.sdkLog,
		// The gateway's guard stage checks Host (allowedHosts) and Origin
		// in both modes. The SDK's own check refuses every Host but a
		// loopback one on a loopback listener, which would break a TLS
		// proxy on the same machine and make the two modes differ.
		DisableLocalhostProtection: true,
	})
	if opts.Stateless {
		a.stateless = mcp.NewStreamableHTTPHandler(a.getServer, &mcp.StreamableHTTPOptions{
			Stateless: true,
			// On 2026-07-28 closing the stream cancels the request.
			PropagateRequestCancellation: true,
			MaxRequestBodyBytes:          opts.MaxBodyBytes,
			Logger:                       a.sdkLog,
		})
	}
	go a.reapIdle(a.stop)
	return a, nil
}

// statelessCancelGrace is how long the backend sessions of a stateless
// request the client cancelled outlive it, for the cancellation to reach
// the backends.
const statelessCancelGrace = time.Second

// holder carries, per HTTP request, the session getServer created, so that
// the SDK's several calls of getServer for one request agree, and the slot
// the request took for it.
type holder struct {
	s    *session
	slot *slot
}

// done settles the request's slot: the session's if it made one, else
// free again.
func (h *holder) done() {
	if h.s != nil {
		h.s.settleSlot()
		return
	}
	h.slot.free()
}

type holderKey struct{}

// getServer is the SDK's per-request server lookup: a new session's server
// for a request that opens a session (no Mcp-Session-Id: initialize, or a
// stateless request), else a base server that only answers the SDK's
// protocol-version check (the SDK finds the existing session by its id).
func (a *Aggregator) getServer(r *http.Request) *mcp.Server {
	h, _ := r.Context().Value(holderKey{}).(*holder)
	if h == nil {
		h = &holder{}
	}
	if h.s != nil {
		return h.s.server
	}
	if r.Header.Get(mcpwire.HeaderSessionID) != "" {
		return a.base
	}
	var rec *record.Record
	if rec = record.FromContext(r.Context()); rec == nil {
		rec = &record.Record{}
	}
	if h.slot == nil {
		// Not through ServeHTTP, which takes a slot for every request
		// that may open a session: no session without one.
		return nil
	}
	h.s = a.newSession(rec.Identity)
	h.s.claim(h.slot)
	h.slot = nil
	return h.s.server
}

// ServeHTTP hands the request to the SDK. Before that, the SERVER span of
// each message goes into its params._meta (the SDK handles messages on its
// own goroutines, where only the message reaches the handlers); during it,
// the response is read back into the request record.
func (a *Aggregator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	rec := record.FromContext(ctx)
	if rec == nil {
		rec = &record.Record{Start: time.Now(), HTTPMethod: r.Method}
		ctx = record.NewContext(ctx, rec)
	}
	defer a.touch(r)()
	in := inspect.FromContext(ctx)
	h := &holder{}
	if r.Header.Get(mcpwire.HeaderSessionID) == "" {
		// The request may open a session (initialize, or a stateless
		// exchange): it holds a slot meanwhile.
		if h.slot = a.takeSlot(rec.Identity); h.slot == nil {
			refuseSession(w, rec, in)
			return
		}
		defer h.done()
	}
	if a.alreadyInitialized(r, in) {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if in != nil && a.answerElsewhere(w, r, in) {
		return
	}
	if in != nil && a.serveFast(w, r.WithContext(ctx), rec, in, r.Header.Get(mcpwire.HeaderSessionID)) {
		return
	}
	if in != nil {
		raw := a.withServerSpans(ctx, rec, in)
		if a.isLocalAnswer(in) {
			raw = a.localAnswer(raw, a.sessionByID(r.Header.Get(mcpwire.HeaderSessionID)))
		}
		r.Body = io.NopCloser(bytes.NewReader(raw))
		r.ContentLength = int64(len(raw))
		a.routeRecord(rec, r.Header.Get(mcpwire.HeaderSessionID))
	}
	handler := a.handler
	if a.stateless != nil && r.Header.Get(mcpwire.HeaderSessionID) == "" && mcpwire.Stateless(rec.ProtocolVersion) {
		handler = a.stateless
	}
	ww := newWatchWriter(w, rec, a.tel.Catalog())
	// Inside the watcher, so that the record sees the JSON-RPC error.
	je := newJSONErrors(ww, rec, h)
	closeFailures := a.failures.open(r, rec)
	// Inside the others: they see the ids the client sees (clientreq.go).
	rw := &routeWriter{ResponseWriter: je, session: func() *session {
		if h.s != nil {
			return h.s
		}
		return a.sessionByID(r.Header.Get(mcpwire.HeaderSessionID))
	}}
	handler.ServeHTTP(rw, r.WithContext(context.WithValue(ctx, holderKey{}, h)))
	closeFailures()
	je.finish()
	ww.finish()
	if s := h.s; s != nil && handler == a.stateless {
		// A stateless request's session, and its backend sessions, end
		// with the request. When the client ended it (closing the stream
		// is how a 2026-07-28 client cancels), the SDK's client tells each
		// backend with a call in flight (notifications/cancelled) from a
		// goroutine of its own: give that a moment before the sessions go.
		end := func() {
			s.close()
			if s.ss != nil { // tracked by start; discover and notifications never start
				a.untrack(s)
				s.slot.free() // a session that never started gives it back in h.done
			}
		}
		if r.Context().Err() != nil {
			time.AfterFunc(statelessCancelGrace, end)
		} else {
			end()
		}
	}
}

// alreadyInitialized reports whether r is the client's
// notifications/initialized for a session that has had one: a session
// this replica adopted (its initialize and notifications/initialized
// replayed from the token) while the client's own went to another
// replica, or is only now arriving here. The SDK would log it as an error
// and answer 202 anyway; the gateway answers 202 itself.
func (a *Aggregator) alreadyInitialized(r *http.Request, in *inspect.Request) bool {
	if in == nil || in.Body.Batch || len(in.Body.Messages) != 1 || in.Body.Messages[0].Method != "notifications/initialized" {
		return false
	}
	s := a.sessionByID(r.Header.Get(mcpwire.HeaderSessionID))
	return s != nil && s.initialized.Load()
}

// withServerSpans returns the body with each message's params._meta
// traceparent (and tracestate) set to its SERVER span's context — or the
// body unchanged with tracing off.
func (a *Aggregator) withServerSpans(ctx context.Context, rec *record.Record, in *inspect.Request) []byte {
	out, err := in.Body.SetMeta(in.Raw, func(i int) []jsonrpc.MetaKV {
		sc := telemetry.ServerSpanContext(rec, i)
		if !sc.IsValid() {
			return nil
		}
		carrier := propagation.MapCarrier{}
		w3c.Inject(trace.ContextWithSpanContext(ctx, sc), carrier)
		kv := []jsonrpc.MetaKV{{Key: "traceparent", Value: carrier["traceparent"]}}
		if ts := carrier["tracestate"]; ts != "" {
			kv = append(kv, jsonrpc.MetaKV{Key: "tracestate", Value: ts})
		}
		return kv
	})
	if err != nil {
		a.log.Warn("could not add the trace context to the request body; sending it unchanged", "error", err)
		return in.Raw
	}
	return out
}

// routeRecord names, on the record, the backend a call goes to (the SERVER
// span's mcpgate.backend), when the session is known and routes it.
func (a *Aggregator) routeRecord(rec *record.Record, sid string) {
	if sid == "" || len(rec.Ops) != 1 {
		return
	}
	op := &rec.Ops[0]
	key := op.Name
	if op.URI != "" {
		key = op.URI
	}
	if key == "" {
		return
	}
	s := a.sessionByID(sid)
	if s == nil {
		return
	}
	if r, ok := s.route(op.Method, key); ok {
		rec.Backend = r.Backend
	} else if b, ok := a.opts.Naming.splitPrefixed(key, a.names); ok && (op.Method == "tools/call" || op.Method == "prompts/get") {
		rec.Backend = b
	}
}

func (a *Aggregator) track(s *session) {
	s.opened = time.Now()
	s.lastUsed.Store(s.opened.UnixNano())
	a.mu.Lock()
	a.sessions[s] = struct{}{}
	if id := s.ss.ID(); id != "" {
		a.byID[id] = s
	}
	a.mu.Unlock()
}

func (a *Aggregator) untrack(s *session) {
	a.mu.Lock()
	delete(a.sessions, s)
	if id := s.ss.ID(); id != "" && a.byID[id] == s {
		delete(a.byID, id)
	}
	a.mu.Unlock()
}

func (a *Aggregator) sessionByID(id string) *session {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.byID[id]
}

// learn shows the telemetry catalog the names a backend's catalog lists,
// under its own names (CLIENT spans) and under the client-visible ones
// (SERVER spans), so metrics may carry them.
func (a *Aggregator) learn(c *catalog) {
	cat := a.tel.Catalog()
	if cat == nil {
		return
	}
	type named struct {
		Name string `json:"name"`
	}
	var tl, pl []named
	for _, t := range c.tools {
		tl = append(tl, named{c.toolRoutes[t.Name]}, named{t.Name})
	}
	for _, p := range c.prompts {
		pl = append(pl, named{c.promptRtes[p.Name]}, named{p.Name})
	}
	if b, err := json.Marshal(map[string]any{"tools": tl}); err == nil {
		cat.Learn(c.backend, "tools/list", b)
	}
	if b, err := json.Marshal(map[string]any{"prompts": pl}); err == nil {
		cat.Learn(c.backend, "prompts/list", b)
	}
}

// Statuses returns each backend's health, in configuration order.
func (a *Aggregator) Statuses() []Status {
	st := make([]Status, len(a.backends))
	for i, b := range a.backends {
		st[i] = b.status()
	}
	return st
}

// Close ends every client session and with it every backend session
// (stdio children stop).
func (a *Aggregator) Close(ctx context.Context) error {
	a.stopOnce.Do(func() { close(a.stop) })
	a.mu.Lock()
	ss := make([]*session, 0, len(a.sessions))
	for s := range a.sessions {
		ss = append(ss, s)
	}
	a.mu.Unlock()
	done := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		for _, s := range ss {
			wg.Go(func() {
				// The backend sessions first: a backend's request the
				// gateway forwarded to the client (roots/list, sampling)
				// waits for the client's answer until its backend
				// session ends, and the client session cannot close
				// while it waits — a client that left without answering
				// held shutdown to its bound.
				if a.opts.Handoff {
					s.detached.Store(true)
				}
				s.close()
				if s.ss != nil {
					_ = s.ss.Close()
				}
			})
		}
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// levelShift lowers the SDK's Info records to Debug, and its warnings about
// notifications a client's transport could not take (see undeliverable).
type levelShift struct{ slog.Handler }

func (l levelShift) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn && undeliverable(r.Message) {
		// Enabled passed it at Warn; at Debug it may not be wanted.
		if !l.Handler.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		r.Level = slog.LevelDebug
	}
	if r.Level == slog.LevelInfo {
		r.Level = slog.LevelDebug
	}
	return l.Handler.Handle(ctx, r)
}

// undeliverable reports whether an SDK warning says a notification could
// not be delivered because the client has no stream open for it ("calling
// notifications/tools/list_changed: rejected by transport: undelivered
// message: …"). Clients need not open the GET stream that carries such
// notifications, and most do not: the aggregator announces every backend's
// tools as they arrive, so at Warn this was a line or two per session.
func undeliverable(msg string) bool {
	return strings.HasPrefix(msg, "calling notifications/") && strings.Contains(msg, "rejected by transport")
}

func (l levelShift) Enabled(ctx context.Context, lv slog.Level) bool {
	if lv == slog.LevelInfo {
		lv = slog.LevelDebug
	}
	return l.Handler.Enabled(ctx, lv)
}

func (l levelShift) WithAttrs(as []slog.Attr) slog.Handler {
	return levelShift{l.Handler.WithAttrs(as)}
}
func (l levelShift) WithGroup(n string) slog.Handler { return levelShift{l.Handler.WithGroup(n)} }
