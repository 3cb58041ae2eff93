//lint:file-ignore SA1019 sampling, elicitation, roots and logging are deprecated as of 2026-07-28, but 2025-11-25 clients and servers use them and the gateway must pass them through.

package aggregate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sdkjsonrpc "github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

// Reconnection back-off of one backend within one client session, unless
// the backend sets its own (Backend.InitialBackoff, MaxBackoff).
const (
	minRetry = time.Second
	maxRetry = 30 * time.Second
)

// session is one client session: its own *mcp.Server, and a session with
// each backend that answered. Everything it offers is held in tables that
// route client-visible names to backends.
type session struct {
	agg      *Aggregator
	server   *mcp.Server
	identity *identity.Identity // the principal that opened the session; nil without one

	fast fastCalls // fast-path calls in flight (fastpath.go)
	// busy counts requests in flight; lastUsed is when the last one began
	// or ended (unix ns). idle.go closes sessions idle too long.
	busy     atomic.Int64
	lastUsed atomic.Int64
	setup    sync.Once
	ss       *mcp.ServerSession // set by setup
	caps     *mcp.ClientCapabilities
	version  string // the client's protocol revision, set by setup

	// slot is the session's place under the session caps (limits.go);
	// began and abandoned settle whether it starts at all.
	slot      *slot
	life      sync.Mutex
	began     bool
	abandoned bool
	// initialized is set by notifications/initialized (or for a
	// stateless exchange, which has none); opened is when the session
	// was tracked. idle.go closes sessions that stay uninitialized.
	initialized atomic.Bool
	opened      time.Time

	// ended is done once close begins: what the gateway forwarded to the
	// client for a backend (roots/list, sampling, elicitation) stops
	// waiting for an answer then, so that neither session's Close waits
	// on it (forward.go, related).
	ended context.Context
	end   context.CancelFunc

	// refused is the error a stateless request is refused with at HTTP
	// 400 (paramheaders.go); nil when none.
	refused atomic.Pointer[sdkjsonrpc.Error]

	mu        sync.Mutex
	closed    bool
	conns     map[string]*conn // connected backends
	retry     map[string]*retryState
	offered   map[string]*offer // what each backend's lists put on the server
	resources *uriTable
	templates *uriTable
	logLevel  mcp.LoggingLevel // the client's logging/setLevel, for backends connected later
	// resume holds, for a session adopted from another replica, the
	// sealed id of each backend session still to resume (adopt.go).
	resume map[string]string
	// detached is set when the session is dropped from this replica but
	// may go on on another (Options.Handoff): closing it then leaves the
	// backends' sessions open.
	detached atomic.Bool

	subs     subscriptions  // forward_features.go
	hints    cacheHints     // cachehints.go
	progress progressRoutes // serverreq.go
	asks     askIDs         // clientreq.go
}

// offer is what one backend's lists put on the session's server: its
// shared catalog (tools and prompts under their client-visible names, and
// the routes back), and the client-visible URIs of its resources and
// templates in this session, so that a refresh or a disconnect can take
// them off again.
type offer struct {
	cat                  *catalog
	resources, templates []string
}

type retryState struct {
	next       time.Time
	delay      time.Duration
	connecting bool
}

func (a *Aggregator) newSession(id *identity.Identity) *session {
	s := &session{
		agg:       a,
		identity:  id,
		conns:     map[string]*conn{},
		retry:     map[string]*retryState{},
		offered:   map[string]*offer{},
		resources: newURITable(),
		templates: newURITable(),
	}
	s.ended, s.end = context.WithCancel(context.Background())
	s.server = mcp.NewServer(&mcp.Implementation{Name: "mcpgate", Version: a.opts.Version}, &mcp.ServerOptions{
		Logger: a.sdkLog,
		// Everything a backend may offer is advertised, with listChanged:
		// a backend that is down now may come back with tools.
		// Completion and subscriptions are routed to the owning backend,
		// which answers for itself when it has neither.
		Capabilities: &mcp.ServerCapabilities{
			Tools:       &mcp.ToolCapabilities{ListChanged: true},
			Prompts:     &mcp.PromptCapabilities{ListChanged: true},
			Resources:   &mcp.ResourceCapabilities{ListChanged: true, Subscribe: true},
			Logging:     &mcp.LoggingCapabilities{},
			Completions: &mcp.CompletionCapabilities{},
		},
		PageSize:           1000,
		CompletionHandler:  s.complete,
		SubscribeHandler:   s.subscribe,
		UnsubscribeHandler: s.unsubscribe,
		SetCacheable:       s.setCacheable,
		// Progress the client reports on a backend's server→client request.
		ProgressNotificationHandler: s.clientProgress,
		RootsListChangedHandler:     s.rootsChanged,
	})
	s.server.AddReceivingMiddleware(s.agg.failures.middleware, extractParent, s.middleware)
	return s
}

// middleware connects the backends on the session's first message (the
// initialize request, or the one request of a stateless exchange), retries
// backends that are down once their back-off has passed, and answers calls
// to a backend that is down with an error naming it.
func (s *session) middleware(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if method == "server/discover" || strings.HasPrefix(method, "notifications/") && statelessRequest(req) {
			// A stateless exchange that needs no backend (the gateway
			// answers server/discover itself; a notification alone has no
			// call of its exchange to act on): connecting every backend
			// for it would only cost.
			return next(ctx, method, req)
		}
		s.setup.Do(func() { s.start(ctx, req) })
		if method == "notifications/initialized" {
			s.initialized.Store(true)
		}
		if method != "initialize" {
			s.retryDown(false)
		}
		if method == "tools/call" || method == "prompts/get" {
			if name := requestName(req); name != "" {
				if err := s.unavailable(ctx, method, name); err != nil {
					return nil, err
				}
			}
		}
		res, err := next(ctx, method, req)
		if err == nil && method == "logging/setLevel" {
			// The SDK recorded the level for the gateway's own session;
			// the backends, which send the messages, need it too.
			if err := s.setLevel(ctx, req); err != nil {
				return nil, err
			}
		}
		return res, err
	}
}

// statelessRequest reports whether req is of a 2026-07-28 exchange (the
// SDK fills the session's InitializeParams from its _meta before the
// middleware runs).
func statelessRequest(req mcp.Request) bool {
	ss, ok := req.GetSession().(*mcp.ServerSession)
	if !ok || ss == nil || ss.InitializeParams() == nil {
		return false
	}
	return mcpwire.Stateless(ss.InitializeParams().ProtocolVersion)
}

func requestName(req mcp.Request) string {
	switch p := req.GetParams().(type) {
	case *mcp.CallToolParamsRaw:
		if p != nil {
			return p.Name
		}
	case *mcp.GetPromptParams:
		if p != nil {
			return p.Name
		}
	}
	return ""
}

// start connects every backend, in parallel, each within the connect bound,
// and offers what those that answered list.
func (s *session) start(ctx context.Context, req mcp.Request) {
	if !s.begin() {
		return // its request is over and its slot given back
	}
	s.ss, _ = req.GetSession().(*mcp.ServerSession)
	if _, ok := req.GetParams().(*mcp.InitializeParams); !ok {
		// A stateless exchange: no notifications/initialized will come.
		s.initialized.Store(true)
	}
	if ip, ok := req.GetParams().(*mcp.InitializeParams); ok && ip != nil && ip.Capabilities != nil {
		s.caps = ip.Capabilities
	} else if s.ss != nil && s.ss.InitializeParams() != nil && s.ss.InitializeParams().Capabilities != nil {
		s.caps = s.ss.InitializeParams().Capabilities
	}
	if s.caps == nil {
		s.caps = &mcp.ClientCapabilities{}
	}
	if ip, ok := req.GetParams().(*mcp.InitializeParams); ok && ip != nil {
		s.version = ip.ProtocolVersion
	} else if s.ss != nil && s.ss.InitializeParams() != nil {
		s.version = s.ss.InitializeParams().ProtocolVersion
	}
	a := s.agg
	// Dial and list in parallel, offer in configuration order: which of
	// two backends listing one URI keeps it unwrapped must not depend on
	// which answered first.
	type dialed struct {
		c   *conn
		l   *lists
		err error
	}
	res := make([]dialed, len(a.backends))
	var wg sync.WaitGroup
	for i, b := range a.backends {
		wg.Go(func() {
			c, l, err := s.dialAndList(ctx, b)
			res[i] = dialed{c, l, err}
		})
	}
	wg.Wait()
	for i, b := range a.backends {
		err := res[i].err
		if err == nil {
			err = s.offer(res[i].c, res[i].l)
		}
		s.settle(b, err)
	}
	if s.ss == nil {
		s.slot.free()
		return
	}
	a.track(s)
	if mcpwire.Stateless(s.version) && a.stateless != nil {
		return // ServeHTTP closes it, and frees its slot, when the request ends
	}
	go func() {
		_ = s.ss.Wait()
		s.close()
		a.untrack(s)
		s.slot.free()
	}()
}

// clientRoundTrips reports whether the client speaks a revision with
// multi-round-trip requests (2026-07-28 on), so that a backend's
// input_required result goes to it as it is.
func (s *session) clientRoundTrips() bool { return mcpwire.Stateless(s.version) }

// connect (re)connects b for this session and offers its lists.
func (s *session) connect(ctx context.Context, b *backend) bool {
	c, l, err := s.dialAndList(ctx, b)
	if err == nil {
		err = s.offer(c, l)
	}
	return s.settle(b, err)
}

// dialAndList opens a session with b and lists it, within the connect
// bound.
func (s *session) dialAndList(ctx context.Context, b *backend) (*conn, *lists, error) {
	// Not derived from ctx: the client's request context carries values
	// of the SDK's server (its MCP-Protocol-Version, which the SDK's
	// client would send on the backend's initialize) that belong to the
	// client's hop, and ending that request must not end the connection.
	// Only the span context crosses, so that the W3C traceparent header
	// still goes upstream.
	base := trace.ContextWithSpanContext(context.Background(), trace.SpanContextFromContext(ctx))
	cctx, cancel := context.WithTimeout(base, s.agg.opts.ConnectTimeout)
	defer cancel()
	if id := s.resumeID(b.Name); id != "" {
		c, l, err := s.resumeAndList(cctx, b, id)
		if !errors.Is(err, errBackendSessionGone) {
			return c, l, err
		}
		// Not there any more (ended, expired, or the backend restarted):
		// a clean start with it, as for a backend that went away.
		s.resumed(b.Name)
		b.log.Info("the adopted session's backend session is gone; connecting the backend afresh", "error", err)
	}
	c, err := s.dial(cctx, b)
	if err != nil {
		return nil, nil, err
	}
	l, err := fetchLists(cctx, c)
	if err != nil {
		_ = c.cs.Close()
		return nil, nil, err
	}
	return c, l, nil
}

// resumeAndList is dialAndList's part for a backend session to resume
// (resume.go). The id is forgotten once resumed; a failure other than
// errBackendSessionGone keeps it for the next attempt.
func (s *session) resumeAndList(ctx context.Context, b *backend, id string) (*conn, *lists, error) {
	c, err := s.resumeDial(ctx, b, id)
	if err != nil {
		return nil, nil, err
	}
	l, err := fetchLists(ctx, c)
	if err != nil {
		_ = c.cs.Close()
		return nil, nil, err
	}
	s.resumed(b.Name)
	return c, l, nil
}

// settle records the outcome of connecting b: a failure is logged,
// counted and remembered for /readyz, and the back-off grows.
func (s *session) settle(b *backend, err error) bool {
	s.mu.Lock()
	r := s.retryOf(b.Name)
	r.connecting = false
	if err != nil {
		r.delay = min(max(r.delay*2, b.retryMin), b.retryMax)
		r.next = time.Now().Add(r.delay)
	} else {
		r.delay, r.next = 0, time.Time{}
	}
	delay := r.delay
	s.mu.Unlock()
	if err == nil {
		return true
	}
	b.failed(err)
	var ce *CollisionError
	if errors.As(err, &ce) {
		b.log.Error("backend's names collide with another backend's; it is not offered in this session", "error", err)
	} else {
		b.log.Warn("backend unavailable for a client session", "error", err, "retry_in", delay)
	}
	return false
}

// retryOf returns b's retry state; s.mu held.
func (s *session) retryOf(name string) *retryState {
	r := s.retry[name]
	if r == nil {
		r = &retryState{}
		s.retry[name] = r
	}
	return r
}

// retryDown starts reconnecting, in the background, every backend that is
// down and whose back-off has passed (wait false), or reconnects them
// before returning (wait true).
func (s *session) retryDown(wait bool) {
	var todo []*backend
	now := time.Now()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	for _, b := range s.agg.backends {
		if s.conns[b.Name] != nil {
			continue
		}
		r := s.retryOf(b.Name)
		if r.connecting || now.Before(r.next) {
			continue
		}
		r.connecting = true
		todo = append(todo, b)
	}
	s.mu.Unlock()
	for _, b := range todo {
		if wait {
			s.connect(context.Background(), b)
		} else {
			go s.connect(context.Background(), b)
		}
	}
}

// unavailable returns the error for a call to a name no connected backend
// offers but that carries a configured backend's prefix: that backend is
// down. It first tries to reconnect it when its back-off allows.
func (s *session) unavailable(ctx context.Context, method, name string) error {
	known := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		_, ok := s.routeLocked(method, name)
		return ok
	}
	if known() {
		return nil
	}
	b, ok := s.agg.opts.Naming.splitPrefixed(name, s.agg.names)
	if !ok {
		return nil // an unknown name: the SDK says so
	}
	s.mu.Lock()
	r := s.retryOf(b)
	try := s.conns[b] == nil && !r.connecting && !time.Now().Before(r.next)
	if try {
		r.connecting = true
	}
	s.mu.Unlock()
	if try && s.connect(ctx, s.agg.byName[b]) && known() {
		return nil
	}
	return unavailableError(b)
}

// dial opens a session with b for this client session. The client
// declares to the backend only what the downstream client declared
// (sampling, elicitation, roots), because a server may offer different
// tools depending on them.
func (s *session) dial(ctx context.Context, b *backend) (*conn, error) {
	return s.dialWith(ctx, b, func(ctx context.Context, client *mcp.Client, c *conn) (*mcp.ClientSession, error) {
		return s.connectEra(ctx, client, b, c)
	})
}

// dialWith is dial, opening the backend session with connect.
func (s *session) dialWith(ctx context.Context, b *backend, connect func(context.Context, *mcp.Client, *conn) (*mcp.ClientSession, error)) (*conn, error) {
	c := &conn{b: b, s: s, inflight: map[*callCtx]struct{}{}, fence: newNoteFence()}
	c.toolHandler, c.promptHandler = c.toolByName, c.promptByName
	opts := &mcp.ClientOptions{
		Logger:                      s.agg.sdkLog,
		Capabilities:                &mcp.ClientCapabilities{},
		ProgressNotificationHandler: c.progress,
		LoggingMessageHandler:       c.logMessage,
		ToolListChangedHandler:      func(context.Context, *mcp.ToolListChangedRequest) { c.listChanged() },
		PromptListChangedHandler:    func(context.Context, *mcp.PromptListChangedRequest) { c.listChanged() },
		ResourceListChangedHandler:  func(context.Context, *mcp.ResourceListChangedRequest) { c.listChanged() },
		ResourceUpdatedHandler:      c.resourceUpdated,
		// A client of 2026-07-28 fulfils a backend's input_required
		// result itself and retries (the gateway passes the result and
		// the retry through); for an older client, which cannot, the SDK
		// client fulfils it with the handlers below, which ask the client.
		MultiRoundTrip: &mcp.MultiRoundTripOptions{Disabled: s.clientRoundTrips()},
	}
	if s.caps.Sampling != nil {
		if s.caps.Sampling.Tools != nil {
			// The client samples with tools: forward such requests as
			// they are (the basic handler would have the SDK down-convert
			// them, which fails for any request that has tools).
			opts.CreateMessageWithToolsHandler = c.createMessageWithTools
		} else {
			opts.CreateMessageHandler = c.createMessage
		}
		opts.Capabilities.Sampling = s.caps.Sampling
	}
	if s.caps.Elicitation != nil {
		opts.ElicitationHandler = c.elicit
		opts.ElicitationCompleteHandler = c.elicitationComplete
		opts.Capabilities.Elicitation = s.caps.Elicitation
	}
	if s.caps.RootsV2 != nil || s.caps.Roots.ListChanged {
		// listChanged as the client declared it: the client's
		// notifications/roots/list_changed is relayed (serverreq.go).
		opts.Capabilities.RootsV2 = &mcp.RootCapabilities{ListChanged: s.caps.Roots.ListChanged || s.caps.RootsV2 != nil && s.caps.RootsV2.ListChanged}
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "mcpgate", Version: s.agg.opts.Version}, opts)
	client.AddSendingMiddleware(injectMeta(b.client == nil), keepArguments, c.levelMeta)
	client.AddReceivingMiddleware(c.rootsList, c.fence.middleware)
	c.client = client
	cs, err := connect(ctx, client, c)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	c.cs = cs
	return c, nil
}

// connectEra opens the backend session in the client's era. A client of a
// session-based revision gets backend sessions of its own revision: a
// backend that serves both eras may offer less in 2026-07-28 than in a
// session (resources/subscribe, logging/setLevel and server→client
// requests are session features, which such a backend need not carry over
// to subscriptions/listen or input requests), and the client asked for
// what its revision has. Left to itself the SDK's client would prefer
// 2026-07-28 wherever the backend answers server/discover. A backend that
// serves only 2026-07-28 refuses the session's initialize; it is then
// connected as the SDK would (server/discover first), so that it is still
// offered.
func (s *session) connectEra(ctx context.Context, client *mcp.Client, b *backend, c *conn) (*mcp.ClientSession, error) {
	if s.version == "" || mcpwire.Stateless(s.version) {
		return client.Connect(ctx, s.connTransport(c, nil), nil)
	}
	cs, err := client.Connect(ctx, s.connTransport(c, nil), &mcp.ClientSessionOptions{ProtocolVersion: s.version})
	if err == nil && cs.ID() != "" {
		// What another replica's session of this revision, adopted here,
		// is resumed with (resume.go).
		b.rememberInit(s.version, cs.InitializeResult())
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if err == nil || ctx.Err() != nil || closed {
		// A session that is ending starts no second connection (for a
		// stdio backend, a second child).
		return cs, err
	}
	cs, err2 := client.Connect(ctx, s.connTransport(c, nil), nil)
	if err2 != nil {
		return nil, fmt.Errorf("%s: %w; newest revision: %w", s.version, err, err2)
	}
	b.log.Debug("backend refused a session in the client's revision; connected in the newest", "version", s.version, "error", err)
	return cs, nil
}

// lists are one backend's four lists, every page, filtered.
type lists struct {
	tools     []*mcp.Tool
	prompts   []*mcp.Prompt
	resources []*mcp.Resource
	templates []*mcp.ResourceTemplate
	hints     listHints
}

func fetchLists(ctx context.Context, c *conn) (*lists, error) {
	caps := c.cs.InitializeResult().Capabilities
	l := &lists{}
	f := c.b.Filter
	if caps == nil {
		return l, nil
	}
	// Page by page rather than with the SDK's iterators, which hide each
	// page's caching hints (cachehints.go).
	if caps.Tools != nil {
		for cursor := ""; ; {
			r, err := c.cs.ListTools(ctx, &mcp.ListToolsParams{Cursor: cursor})
			if err != nil {
				return nil, fmt.Errorf("tools/list: %w", err)
			}
			l.hints.tools.merge(r.Cacheable, time.Now())
			for _, t := range r.Tools {
				if f.Allows(t.Name) {
					l.tools = append(l.tools, t)
				}
			}
			if cursor = r.NextCursor; cursor == "" {
				break
			}
		}
	}
	if caps.Prompts != nil {
		for cursor := ""; ; {
			r, err := c.cs.ListPrompts(ctx, &mcp.ListPromptsParams{Cursor: cursor})
			if err != nil {
				return nil, fmt.Errorf("prompts/list: %w", err)
			}
			l.hints.prompts.merge(r.Cacheable, time.Now())
			for _, p := range r.Prompts {
				if f.Allows(p.Name) {
					l.prompts = append(l.prompts, p)
				}
			}
			if cursor = r.NextCursor; cursor == "" {
				break
			}
		}
	}
	if caps.Resources != nil {
		for cursor := ""; ; {
			r, err := c.cs.ListResources(ctx, &mcp.ListResourcesParams{Cursor: cursor})
			if err != nil {
				return nil, fmt.Errorf("resources/list: %w", err)
			}
			l.hints.resources.merge(r.Cacheable, time.Now())
			l.resources = append(l.resources, r.Resources...)
			if cursor = r.NextCursor; cursor == "" {
				break
			}
		}
		for cursor := ""; ; {
			r, err := c.cs.ListResourceTemplates(ctx, &mcp.ListResourceTemplatesParams{Cursor: cursor})
			if err != nil {
				return nil, fmt.Errorf("resources/templates/list: %w", err)
			}
			l.hints.templates.merge(r.Cacheable, time.Now())
			l.templates = append(l.templates, r.ResourceTemplates...)
			if cursor = r.NextCursor; cursor == "" {
				break
			}
		}
	}
	return l, nil
}

// offer puts the items of c's lists on the server, making c the backend's
// connection. A name collision offers nothing and closes c.
func (s *session) offer(c *conn, l *lists) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		go func() { _ = c.cs.Close() }()
		return errors.New("client session closed")
	}
	if old := s.conns[c.b.Name]; old != nil && old != c {
		s.dropLocked(old)
	}
	if err := s.applyLocked(c, l); err != nil {
		go func() { _ = c.cs.Close() }()
		return err
	}
	s.conns[c.b.Name] = c
	c.owned.Store(true)
	s.hints.set(c.b.Name, l.hints)
	c.b.connected()
	c.counted = true
	go c.watch()
	go s.restore(c)
	c.mu.Lock()
	c.live = true
	dirty := c.dirty
	c.mu.Unlock()
	if dirty {
		// A list changed between the listing and now.
		go s.refresh(c)
	}
	return nil
}

// refresh re-lists c's backend after it said a list changed. A collision
// keeps what was offered before.
func (s *session) refresh(c *conn) {
	ctx, cancel := context.WithTimeout(context.Background(), s.agg.opts.ConnectTimeout)
	defer cancel()
	l, err := fetchLists(ctx, c)
	if err != nil {
		c.b.log.Warn("re-listing backend after list_changed failed", "error", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns[c.b.Name] != c {
		return
	}
	if err := s.applyLocked(c, l); err != nil {
		c.b.log.Error("backend's new list collides; keeping the previous one", "error", err)
		return
	}
	s.hints.set(c.b.Name, l.hints)
}

// down takes c off the session after its backend failed or went away: its
// items are withdrawn (clients are told the lists changed) and the back-off
// starts, so the next call naming it, or the next message after the
// back-off, reconnects.
func (s *session) down(c *conn, err error) {
	s.mu.Lock()
	if s.conns[c.b.Name] != c {
		s.mu.Unlock()
		return
	}
	s.dropLocked(c)
	r := s.retryOf(c.b.Name)
	r.delay = c.b.retryMin
	r.next = time.Now().Add(r.delay)
	s.mu.Unlock()
	c.b.failed(err)
	c.b.log.Warn("backend session lost; its items are withdrawn until it is reconnected", "error", err)
	go func() { _ = c.cs.Close() }()
}

// dropLocked removes c and everything its backend offered; s.mu held.
func (s *session) dropLocked(c *conn) {
	name := c.b.Name
	delete(s.conns, name)
	s.hints.drop(name)
	if c.counted {
		c.counted = false
		c.b.disconnected()
	}
	if o := s.offered[name]; o != nil {
		s.withdrawLocked(o)
		delete(s.offered, name)
	}
}

// withdrawLocked takes o's items off the server; s.mu held. The catalog's
// routes go with the offer.
func (s *session) withdrawLocked(o *offer) {
	if n := len(o.cat.tools); n > 0 {
		names := make([]string, n)
		for i, t := range o.cat.tools {
			names[i] = t.Name
		}
		s.server.RemoveTools(names...)
	}
	if n := len(o.cat.prompts); n > 0 {
		names := make([]string, n)
		for i, p := range o.cat.prompts {
			names[i] = p.Name
		}
		s.server.RemovePrompts(names...)
	}
	if len(o.resources) > 0 {
		s.server.RemoveResources(o.resources...)
	}
	if len(o.templates) > 0 {
		s.server.RemoveResourceTemplates(o.templates...)
	}
	for _, u := range o.resources {
		delete(s.resources.routes, u)
	}
	for _, u := range o.templates {
		delete(s.templates.routes, u)
	}
}

// close ends every backend session (stdio children stop).
func (s *session) close() {
	if s.end != nil {
		s.end()
	}
	s.mu.Lock()
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
		if c.counted {
			c.counted = false
			c.b.disconnected()
		}
	}
	s.conns = map[string]*conn{}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { _ = c.cs.Close() })
	}
	wg.Wait()
}

// route returns the backend and own name of a client-visible tool or
// prompt name, for the SERVER span's mcpgate.backend.
func (s *session) route(method, name string) (Route, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.routeLocked(method, name)
}

// routeLocked is route; s.mu held. Tool and prompt names are looked up in
// the catalogs offered (the names of two catalogs never collide on one
// session: applyLocked refuses that).
func (s *session) routeLocked(method, name string) (Route, bool) {
	switch method {
	case "tools/call", "prompts/get":
		for b, o := range s.offered {
			routes := o.cat.toolRoutes
			if method == "prompts/get" {
				routes = o.cat.promptRtes
			}
			if own, ok := routes[name]; ok {
				return Route{Backend: b, Own: own}, true
			}
		}
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		return s.resources.route(name, func(b string) bool { return s.agg.byName[b] != nil })
	}
	return Route{}, false
}

// connOf returns the connection to backend, or nil when it is down.
func (s *session) connOf(backend string) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[backend]
}
