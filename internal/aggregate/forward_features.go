//lint:file-ignore SA1019 logging is deprecated as of 2026-07-28, but 2025-11-25 clients and servers use it and the gateway must pass it through.

package aggregate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/yosida95/uritemplate/v3"

	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

// The features a single backend offers besides its lists and calls:
// completion, resource subscriptions, the logging level. Each is routed to
// the backend that owns what it names, or fanned out to all of them where
// it names nothing (logging/setLevel). What cannot be routed is answered
// with a JSON-RPC error that says why, never dropped.

// invalidParams is the error for a request naming something no backend of
// the session offers.
func invalidParams(format string, args ...any) error {
	return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf(format, args...)}
}

// resourceRoute returns the backend and own URI of a client-visible
// resource URI: a listed resource, a wrapped URI, or a URI under a listed
// template (unwrapped when the template was wrapped), as resources/read
// routes it.
func (s *session) resourceRoute(uri string) (Route, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	known := func(b string) bool { return s.agg.byName[b] != nil }
	if r, ok := s.resources.route(uri, known); ok {
		return r, true
	}
	for tmpl, r := range s.templates.routes {
		t, err := uritemplate.New(tmpl)
		if err != nil || !t.Regexp().MatchString(uri) {
			continue
		}
		own := uri
		if b, o, ok := UnwrapURI(uri); ok && b == r.Backend {
			own = o
		}
		return Route{Backend: r.Backend, Own: own}, true
	}
	return Route{}, false
}

// templateRoute returns the backend and own template of a client-visible
// resource template (a completion reference names the template itself).
func (s *session) templateRoute(uri string) (Route, bool) {
	s.mu.Lock()
	r, ok := s.templates.routes[uri]
	s.mu.Unlock()
	return r, ok
}

// complete serves completion/complete: the reference names a prompt or a
// resource (or template) of one backend; the request goes there under the
// backend's own name or URI.
func (s *session) complete(ctx context.Context, req *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
	p := req.Params
	ref := *p.Ref
	var route Route
	var ok bool
	switch ref.Type {
	case "ref/prompt":
		if err := s.unavailable(ctx, "prompts/get", ref.Name); err != nil {
			return nil, err
		}
		s.mu.Lock()
		route, ok = s.routeLocked("prompts/get", ref.Name)
		s.mu.Unlock()
		if !ok {
			return nil, invalidParams("completion/complete: unknown prompt %q", ref.Name)
		}
		ref.Name = route.Own
	case "ref/resource":
		if route, ok = s.templateRoute(ref.URI); !ok {
			route, ok = s.resourceRoute(ref.URI)
		}
		if !ok {
			return nil, invalidParams("completion/complete: no backend offers resource %q", ref.URI)
		}
		ref.URI = route.Own
	default:
		return nil, invalidParams("completion/complete: unknown reference type %q", ref.Type)
	}
	c := s.connOf(route.Backend)
	if c == nil {
		return nil, unavailableError(route.Backend)
	}
	var res *mcp.CompleteResult
	err := c.call(ctx, "completion/complete", "", false, func(ctx context.Context) (bool, error) {
		var err error
		res, err = c.cs.Complete(ctx, &mcp.CompleteParams{Meta: forwardMeta(p.Meta), Argument: p.Argument, Context: p.Context, Ref: &ref})
		return false, err
	})
	return res, err
}

// subscriptions are a session's resource subscriptions, by the URI the
// client subscribed to: the backend holds the subscription under its own
// URI, and its resources/updated notifications come back under the
// client's.
type subscriptions struct {
	mu sync.Mutex
	m  map[string]Route
}

func (s *session) subscribe(ctx context.Context, req *mcp.SubscribeRequest) error {
	uri := req.Params.URI
	c, route, err := s.subscriptionConn(uri)
	if err != nil {
		return err
	}
	err = c.call(ctx, "resources/subscribe", route.Own, false, func(ctx context.Context) (bool, error) {
		return false, c.cs.Subscribe(ctx, &mcp.SubscribeParams{Meta: forwardMeta(req.Params.Meta), URI: route.Own})
	})
	if err != nil {
		return err
	}
	s.subs.mu.Lock()
	if s.subs.m == nil {
		s.subs.m = map[string]Route{}
	}
	s.subs.m[uri] = route
	s.subs.mu.Unlock()
	return nil
}

func (s *session) unsubscribe(ctx context.Context, req *mcp.UnsubscribeRequest) error {
	uri := req.Params.URI
	s.subs.mu.Lock()
	route, had := s.subs.m[uri]
	delete(s.subs.m, uri)
	s.subs.mu.Unlock()
	var c *conn
	if had {
		if c = s.connOf(route.Backend); c == nil {
			// The backend session that held the subscription is gone, and
			// the subscription with it.
			return nil
		}
	} else {
		var err error
		if c, route, err = s.subscriptionConn(uri); err != nil {
			return err
		}
	}
	return c.call(ctx, "resources/unsubscribe", route.Own, false, func(ctx context.Context) (bool, error) {
		return false, c.cs.Unsubscribe(ctx, &mcp.UnsubscribeParams{Meta: forwardMeta(req.Params.Meta), URI: route.Own})
	})
}

// subscriptionConn returns the connection to the backend owning uri, and
// an error a client can act on when there is none or it cannot subscribe.
func (s *session) subscriptionConn(uri string) (*conn, Route, error) {
	route, ok := s.resourceRoute(uri)
	if !ok {
		return nil, route, invalidParams("no backend offers resource %q", uri)
	}
	c := s.connOf(route.Backend)
	if c == nil {
		return nil, route, unavailableError(route.Backend)
	}
	if caps := c.cs.InitializeResult().Capabilities; caps == nil || caps.Resources == nil || !caps.Resources.Subscribe {
		return nil, route, &jsonrpc.Error{Code: jsonrpc.CodeMethodNotFound,
			Message: fmt.Sprintf("backend %q, which owns resource %q, does not support resources/subscribe", route.Backend, uri)}
	}
	return c, route, nil
}

// resourceUpdated relays a backend's notifications/resources/updated to the
// client, under the URI the client subscribed to. Each client session has
// its own server, so only this client hears it.
func (c *conn) resourceUpdated(ctx context.Context, req *mcp.ResourceUpdatedNotificationRequest) {
	s := c.s
	own := req.Params.URI
	var uris []string
	s.subs.mu.Lock()
	for uri, r := range s.subs.m {
		if r.Backend == c.b.Name && r.Own == own {
			uris = append(uris, uri)
		}
	}
	s.subs.mu.Unlock()
	if len(uris) == 0 {
		// A sub-resource of a subscribed one, or a subscription the client
		// has ended: the SDK delivers updates only for URIs subscribed to
		// exactly (docs/aggregation.md).
		c.b.log.Debug("resources/updated for a URI the client has not subscribed to; not relayed", "uri", own)
		return
	}
	for _, uri := range uris {
		p := *req.Params
		p.URI = uri
		p.Meta = nil
		if err := s.server.ResourceUpdated(ctx, &p); err != nil {
			c.b.log.Debug("relaying resources/updated failed", "error", err)
		}
	}
}

// setLevel is the receiving middleware's part for logging/setLevel: the
// gateway's own server records the level (it filters what it relays), and
// every connected backend that offers logging is told the same level, so
// they send what the client asked for. A backend connected later is told
// on connection (restore).
func (s *session) setLevel(ctx context.Context, req mcp.Request) error {
	p, ok := req.GetParams().(*mcp.SetLoggingLevelParams)
	if !ok || p == nil {
		return nil
	}
	s.mu.Lock()
	s.logLevel = p.Level
	conns := make([]*conn, 0, len(s.conns))
	for _, b := range s.agg.backends {
		if c := s.conns[b.Name]; c != nil {
			conns = append(conns, c)
		}
	}
	s.mu.Unlock()
	errs := make([]error, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		if !offersLogging(c) {
			continue
		}
		wg.Go(func() {
			errs[i] = c.call(ctx, "logging/setLevel", "", false, func(ctx context.Context) (bool, error) {
				return false, c.cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Meta: forwardMeta(p.Meta), Level: p.Level})
			})
		})
	}
	wg.Wait()
	var failed []string
	for i, err := range errs {
		if err != nil {
			failed = append(failed, fmt.Sprintf("%q: %v", conns[i].b.Name, err))
		}
	}
	if len(failed) > 0 {
		// The others did take the level: say which did not.
		return &jsonrpc.Error{Code: mcpwire.CodeGateway, Message: "logging/setLevel failed for backend " + strings.Join(failed, ", ")}
	}
	return nil
}

// offersLogging reports whether c's backend takes logging/setLevel: it
// offers logging, in a session-based revision (on 2026-07-28 the level
// travels in each request's _meta; see levelMeta).
func offersLogging(c *conn) bool {
	ir := c.cs.InitializeResult()
	return ir != nil && ir.Capabilities != nil && ir.Capabilities.Logging != nil && !mcpwire.Stateless(ir.ProtocolVersion)
}

// levelMeta is a sending middleware of the backend client: to a backend
// of 2026-07-28, which has no session to hold a level, every request
// carries the level the client set with logging/setLevel in its _meta
// (io.modelcontextprotocol/logLevel), unless the client's own _meta
// already names one.
func (c *conn) levelMeta(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if c.cs == nil || method == "initialize" || method == "server/discover" {
			return next(ctx, method, req)
		}
		ir := c.cs.InitializeResult()
		if ir == nil || !mcpwire.Stateless(ir.ProtocolVersion) {
			return next(ctx, method, req)
		}
		c.s.mu.Lock()
		level := c.s.logLevel
		c.s.mu.Unlock()
		if p := req.GetParams(); level != "" && p != nil && !isNilParams(p) {
			if _, has := p.GetMeta()[mcp.MetaKeyLogLevel]; !has {
				m := maps.Clone(p.GetMeta())
				if m == nil {
					m = map[string]any{}
				}
				m[mcp.MetaKeyLogLevel] = string(level)
				p.SetMeta(m)
			}
		}
		return next(ctx, method, req)
	}
}

// restore gives a backend session that has just been (re)connected what
// the client set up before: the logging level and the subscriptions to
// the backend's resources.
func (s *session) restore(c *conn) {
	s.mu.Lock()
	level := s.logLevel
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), s.agg.opts.ConnectTimeout)
	defer cancel()
	if level != "" && offersLogging(c) {
		if err := c.cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: level}); err != nil {
			c.b.log.Warn("restoring the client's logging level on a reconnected backend failed", "error", err)
		}
	}
	s.subs.mu.Lock()
	var own []string
	for _, r := range s.subs.m {
		if r.Backend == c.b.Name {
			own = append(own, r.Own)
		}
	}
	s.subs.mu.Unlock()
	for _, uri := range own {
		if err := c.cs.Subscribe(ctx, &mcp.SubscribeParams{URI: uri}); err != nil && !errors.Is(err, context.Canceled) {
			c.b.log.Warn("restoring a resource subscription on a reconnected backend failed", "uri", uri, "error", err)
		}
	}
}
