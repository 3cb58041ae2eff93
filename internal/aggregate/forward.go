//lint:file-ignore SA1019 sampling, elicitation, roots and logging are deprecated as of 2026-07-28, but 2025-11-25 clients and servers use them and the gateway must pass them through.

package aggregate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// conn is one client session's session with one backend.
type conn struct {
	b      *backend
	s      *session
	cs     *mcp.ClientSession
	client *mcp.Client // cs's; its roots mirror the client's (serverreq.go)
	// hc reaches the backend session past the SDK (clientreq.go); nil for
	// a stdio backend.
	hc      *http.Client
	counted bool // counted in b.sessions; s.mu

	// toolHandler and promptHandler are toolByName and promptByName, made
	// once: every tool of the backend shares them.
	toolHandler   mcp.ToolHandler
	promptHandler mcp.PromptHandler

	mu       sync.Mutex
	inflight map[*callCtx]struct{}
	live     bool            // offered on the session: list changes re-list now
	dirty    bool            // a list changed before it was live
	roots    map[string]bool // the URIs of client's roots (serverreq.go)

	fence *noteFence // order.go

	// resumed is set for a connection that took over a backend session
	// (resume.go), before it sends anything; owned once the session
	// offers it. A resumed connection not owned ends without a DELETE:
	// the backend session is the client's, not that failed attempt's.
	resumed bool
	owned   atomic.Bool
}

// listChanged re-lists the backend after it said a list changed; before
// the connection is offered (the notification can arrive during the
// handshake) it only notes the change.
func (c *conn) listChanged() {
	c.mu.Lock()
	live := c.live
	if !live {
		c.dirty = true
	}
	c.mu.Unlock()
	if live {
		go c.s.refresh(c)
	}
}

// callCtx is a call in flight to the backend: its context is the one a
// server→client request the backend makes meanwhile is related to.
type callCtx struct{ ctx context.Context }

// watch takes the connection off the session when the backend ends it (a
// stdio child exits, an HTTP backend's session breaks).
func (c *conn) watch() {
	err := c.cs.Wait()
	if err == nil {
		err = errors.New("backend closed the session")
	}
	c.s.down(c, err)
}

// gatewayError is the error a client gets when the gateway could not
// complete a call with a backend: a typed failure, recorded on the
// request's record where it leaves a handler (failures.go) or, on the fast
// path, where serveFast writes it.
func gatewayError(backend string, reason record.Reason, what string) error {
	return &record.BackendError{Backend: backend, Reason: reason, What: what}
}

func unavailableError(backend string) error {
	return gatewayError(backend, record.ReasonUpstreamUnavailable, "is unavailable")
}

// call runs one call to the backend under a CLIENT span: the span is a
// child of the SERVER span found in ctx (see extractParent), carries the
// backend's own name, and is attributed like the SERVER span (the session's
// principal). send makes the call; its error, if any, is mapped for the
// client.
func (c *conn) call(ctx context.Context, method, own string, progress bool, send func(context.Context) (toolError bool, err error)) error {
	rec := &record.Record{Start: time.Now(), HTTPMethod: "POST", Identity: c.s.identity, Backend: c.b.Name}
	if r := c.cs.InitializeResult(); r != nil {
		rec.ProtocolVersion = r.ProtocolVersion
	}
	ops := rec.NewOps(1)
	ops[0] = record.Op{Kind: record.OpRequest, Method: method, Name: own, Progress: progress}
	switch method {
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		ops[0].Name, ops[0].URI = "", own
	}
	op := &ops[0]
	ctx = record.NewContext(ctx, rec)
	ctx, span := c.s.agg.tel.StartClient(ctx, &c.b.info, op)

	cc := &callCtx{ctx: ctx}
	c.mu.Lock()
	c.inflight[cc] = struct{}{}
	c.mu.Unlock()
	toolErr, err := send(ctx)
	var werr *jsonrpc.Error
	if err == nil || errors.As(err, &werr) && !sdkLocal(werr.Code) {
		// Answered: what the backend sent before the answer goes to the
		// client first, on the call's stream, which is still open.
		c.fence.wait(ctx)
	}
	c.mu.Lock()
	delete(c.inflight, cc)
	c.mu.Unlock()

	switch {
	case err == nil:
		op.Answered, op.ToolError = true, toolErr
	case errors.As(err, &werr) && !sdkLocal(werr.Code):
		// The backend answered with an error: the client gets it as it is.
		op.Answered, op.Error = true, record.RPCError{Code: werr.Code, Message: werr.Message, Valid: true}
		err = passError(err)
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		rec.Fail(record.ReasonClientCanceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		rec.Fail(record.ReasonUpstreamTimeout, err.Error())
		err = gatewayError(c.b.Name, record.ReasonUpstreamTimeout, "timed out")
	default:
		rec.Fail(record.ReasonUpstreamUnavailable, err.Error())
		c.b.log.WarnContext(ctx, "backend call failed", "method", method, "error", err)
		// The session with the backend is broken (a killed HTTP backend
		// refuses connections; a restarted one no longer knows it): drop
		// it, so the next call reconnects.
		c.s.down(c, err)
		err = unavailableError(c.b.Name)
	}
	span.End()
	return err
}

// passError is a peer's JSON-RPC error as the peer sent it. The SDK's
// client wraps the error a peer answered with ("calling \"tools/call\": …"),
// and the SDK's server, given a wrapped error, keeps only its code: the
// message gets the prefix and data is dropped — the data a client needs to
// act on the error (-32021's requiredCapabilities, -32022's supported
// versions). Unwrapped, the error goes on with code, message and data as
// the peer sent them. Errors the SDK made up itself (sdkLocal) and other
// failures are returned unchanged.
func passError(err error) error {
	var werr *jsonrpc.Error
	if errors.As(err, &werr) && !sdkLocal(werr.Code) {
		return werr
	}
	return err
}

// sdkLocal reports the codes the SDK's own JSON-RPC layer gives failures
// it made up locally (the transport rejected the call, the connection is
// closing): the backend never answered.
func sdkLocal(code int64) bool { return code == -32003 || code == -32004 || code == -32005 }

// forwardMeta is the client's params._meta for the backend: the progress
// token and anything else the client sent, less the trace context (the
// CLIENT span's replaces it) and less what describes the client's own hop
// on 2026-07-28 (its protocol revision, clientInfo and capabilities): the
// gateway's client puts its own, and a backend speaking an older revision
// must not read the client's revision for the gateway's.
func forwardMeta(m mcp.Meta) mcp.Meta {
	if len(m) == 0 {
		return nil
	}
	m = maps.Clone(m)
	delete(m, "traceparent")
	delete(m, "tracestate")
	delete(m, mcp.MetaKeyProtocolVersion)
	delete(m, mcp.MetaKeyClientInfo)
	delete(m, mcp.MetaKeyClientCapabilities)
	if len(m) == 0 {
		return nil
	}
	return m
}

// toolByName is the handler of every tool c's backend offers on the
// session (one per connection, not one per tool): it finds the backend's
// own name of the tool called in the session's catalog of the backend.
func (c *conn) toolByName(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	own, ok := c.ownName("tools/call", req.Params.Name)
	if !ok {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("unknown tool %q", req.Params.Name)}
	}
	if err := c.checkParamHeaders(req); err != nil {
		return nil, err
	}
	return c.callTool(own)(ctx, req)
}

// promptByName is toolByName for prompts.
func (c *conn) promptByName(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	own, ok := c.ownName("prompts/get", req.Params.Name)
	if !ok {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("unknown prompt %q", req.Params.Name)}
	}
	return c.getPrompt(own)(ctx, req)
}

// ownName is the backend's own name of a client-visible tool or prompt
// name c's backend offers on the session.
func (c *conn) ownName(method, name string) (string, bool) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	r, ok := c.s.routeLocked(method, name)
	if !ok || r.Backend != c.b.Name {
		return "", false
	}
	return r.Own, true
}

func (c *conn) callTool(own string) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var res *mcp.CallToolResult
		p := req.Params
		err := c.call(ctx, "tools/call", own, p.GetProgressToken() != nil, func(ctx context.Context) (bool, error) {
			var err error
			res, err = c.cs.CallTool(withArguments(ctx, p.Arguments), &mcp.CallToolParams{
				Meta: forwardMeta(p.Meta), Name: own, Arguments: p.Arguments,
				InputResponses: p.InputResponses, RequestState: p.RequestState,
			})
			return err == nil && res.IsError, err
		})
		return res, err
	}
}

func (c *conn) getPrompt(own string) mcp.PromptHandler {
	return func(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		var res *mcp.GetPromptResult
		p := req.Params
		err := c.call(ctx, "prompts/get", own, p.GetProgressToken() != nil, func(ctx context.Context) (bool, error) {
			var err error
			res, err = c.cs.GetPrompt(ctx, &mcp.GetPromptParams{
				Meta: forwardMeta(p.Meta), Name: own, Arguments: p.Arguments,
				InputResponses: p.InputResponses, RequestState: p.RequestState,
			})
			return false, err
		})
		return res, err
	}
}

// readResource reads a listed resource (own: the backend's URI) or, with
// own empty, a URI under one of the backend's templates (unwrapped when the
// template was wrapped). Contents come back under the URI the client asked
// for.
func (c *conn) readResource(own string) mcp.ResourceHandler {
	return func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		asked := req.Params.URI
		uri := own
		if uri == "" {
			uri = asked
			if b, o, ok := UnwrapURI(asked); ok && b == c.b.Name {
				uri = o
			}
		}
		var res *mcp.ReadResourceResult
		err := c.call(ctx, "resources/read", uri, req.Params.GetProgressToken() != nil, func(ctx context.Context) (bool, error) {
			var err error
			res, err = c.cs.ReadResource(ctx, &mcp.ReadResourceParams{
				Meta: forwardMeta(req.Params.Meta), URI: uri,
				InputResponses: req.Params.InputResponses, RequestState: req.Params.RequestState,
			})
			return false, err
		})
		if err == nil && res != nil && uri != asked {
			for _, rc := range res.Contents {
				if rc != nil && rc.URI == uri {
					rc.URI = asked
				}
			}
		}
		return res, err
	}
}

// related returns the context for a server→client message the backend
// sends while calls are in flight: with exactly one call in flight, that
// call's context (the SDK then sends the message on the client's stream for
// that call, and the client's answer cancels with it) — cancelled also when
// the backend gives up (hctx). With none or several, hctx: the message goes
// on the client's standalone stream.
func (c *conn) related(hctx context.Context) (context.Context, context.CancelFunc) {
	c.mu.Lock()
	var only *callCtx
	if len(c.inflight) == 1 {
		for cc := range c.inflight {
			only = cc
		}
	}
	c.mu.Unlock()
	parent := context.Background()
	if only != nil {
		parent = only.ctx
	}
	// Not hctx itself: the SDK keys the stream a message goes on by a
	// request id in the context, and hctx holds the backend client's,
	// meaningless to the client's session. Ended with hctx, and when the
	// session closes: a backend session's Close waits for this handler.
	ctx, cancel := context.WithCancel(parent)
	stop := context.AfterFunc(hctx, cancel)
	stopEnded := func() bool { return false }
	if c.s.ended != nil {
		stopEnded = context.AfterFunc(c.s.ended, cancel)
	}
	return ctx, func() { stop(); stopEnded(); cancel() }
}

func (c *conn) serverSession() (*mcp.ServerSession, error) {
	if c.s.ss == nil {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "no client session to forward to"}
	}
	return c.s.ss, nil
}

// toClient forwards one of the backend's server→client requests to the
// client session that owns it: in the context of the call it belongs to,
// under the client's own progress token, with the client's JSON-RPC error
// passed back whole. meta points at the request's _meta inside params, a
// copy the caller may change.
func toClient[P, R any](c *conn, hctx context.Context, params *P, meta *mcp.Meta, send func(*mcp.ServerSession, context.Context, *P) (R, error)) (R, error) {
	ss, err := c.serverSession()
	if err != nil {
		var zero R
		return zero, err
	}
	ctx, done := c.related(hctx)
	defer done()
	defer c.s.forgetAsk(*meta)
	var forget func()
	*meta, forget = c.clientMeta(*meta)
	defer forget()
	res, err := send(ss, ctx, params)
	return res, passError(err)
}

// createMessage forwards the backend's sampling request to the client.
func (c *conn) createMessage(hctx context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
	p := *req.Params
	return toClient(c, hctx, &p, &p.Meta, (*mcp.ServerSession).CreateMessage)
}

// elicit forwards the backend's elicitation request to the client.
func (c *conn) elicit(hctx context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
	p := *req.Params
	return toClient(c, hctx, &p, &p.Meta, (*mcp.ServerSession).Elicit)
}

// rootsList answers the backend's roots/list with the client's roots
// (the SDK client would answer from its own, empty, list).
func (c *conn) rootsList(next mcp.MethodHandler) mcp.MethodHandler {
	return func(hctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if method != "roots/list" {
			return next(hctx, method, req)
		}
		ss, err := c.serverSession()
		if err != nil {
			return nil, err
		}
		ctx, done := c.related(hctx)
		defer done()
		p := &mcp.ListRootsParams{}
		if rp, ok := req.GetParams().(*mcp.ListRootsParams); ok && rp != nil {
			defer c.s.forgetAsk(rp.Meta)
			var forget func()
			p.Meta, forget = c.clientMeta(rp.Meta)
			defer forget()
		}
		res, err := ss.ListRoots(ctx, p)
		return res, passError(err)
	}
}

// progress forwards the backend's progress notification: the token is the
// client's own (forwardMeta passed it on unchanged), and each client
// session has its own backend sessions, so it cannot reach another client.
func (c *conn) progress(hctx context.Context, req *mcp.ProgressNotificationClientRequest) {
	ss, err := c.serverSession()
	if err != nil {
		return
	}
	ctx, done := c.related(hctx)
	defer done()
	p := *req.Params
	p.Meta = nil
	if err := ss.NotifyProgress(ctx, &p); err != nil {
		c.b.log.Debug("forwarding progress failed", "error", err)
	}
}

// logMessage forwards the backend's log message to the client, naming the
// backend as the logger when it named none.
func (c *conn) logMessage(hctx context.Context, req *mcp.LoggingMessageRequest) {
	ss, err := c.serverSession()
	if err != nil {
		return
	}
	p := *req.Params
	if p.Logger == "" {
		p.Logger = c.b.Name
	}
	// On the stream of the call it belongs to, as a single backend's would
	// be (and, on 2026-07-28, filtered by the level that call's _meta set).
	ctx, done := c.related(hctx)
	defer done()
	err = ss.Log(ctx, &p)
	if err != nil && !mcpwire.Stateless(c.s.version) {
		// The SDK client hands notifications to their handlers on a
		// goroutine of their own, so the call's response can overtake a
		// message the backend sent before it, and the call's stream is then
		// closed: the message goes on the client's standalone stream.
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = ss.Log(sctx, &p)
		cancel()
	}
	if err != nil {
		c.b.log.Debug("forwarding a log message failed", "error", err)
	}
}
