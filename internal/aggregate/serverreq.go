//lint:file-ignore SA1019 sampling, elicitation and roots are deprecated as of 2026-07-28, but 2025-11-25 clients and servers use them and the gateway must pass them through.

package aggregate

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Progress for server→client requests. A backend may put a progress token
// on the sampling, elicitation or roots request it sends, and the client
// then reports progress on it to the gateway. The backends of a session
// choose their tokens independently, so two could pick the same one: the
// request reaches the client under a token of the gateway's own
// ("mcpgate-p-<tag>-N", tag random per replica: another replica may serve
// the same client session), and the client's notifications/progress goes
// back to the backend that asked, under the backend's token.

var progressIDs atomic.Uint64

const progressTokenKey = "progressToken"

type progressRoute struct {
	c     *conn
	token any // the backend's
}

// progressRoutes are a session's server→client requests in flight that
// carry a progress token, by the token the client sees.
type progressRoutes struct {
	mu sync.Mutex
	m  map[string]progressRoute
}

// clientMeta returns the _meta of a server→client request c forwards to
// the client: the backend's, with its progress token replaced by one of
// the gateway's, and a func that forgets the mapping once the request is
// done.
func (c *conn) clientMeta(m mcp.Meta) (mcp.Meta, func()) {
	tok, ok := m[progressTokenKey]
	if !ok || tok == nil {
		return m, func() {}
	}
	ours := "mcpgate-p-" + c.s.agg.tag + "-" + strconv.FormatUint(progressIDs.Add(1), 10)
	m = maps.Clone(m)
	m[progressTokenKey] = ours
	p := &c.s.progress
	p.mu.Lock()
	if p.m == nil {
		p.m = map[string]progressRoute{}
	}
	p.m[ours] = progressRoute{c: c, token: tok}
	p.mu.Unlock()
	return m, func() {
		p.mu.Lock()
		delete(p.m, ours)
		p.mu.Unlock()
	}
}

// clientProgress is the server's ProgressNotificationHandler: progress the
// client reports on a server→client request goes to the backend that
// made it, under the backend's token.
func (s *session) clientProgress(ctx context.Context, req *mcp.ProgressNotificationServerRequest) {
	key := fmt.Sprint(req.Params.ProgressToken)
	s.progress.mu.Lock()
	r, ok := s.progress.m[key]
	s.progress.mu.Unlock()
	if !ok {
		s.agg.log.Debug("progress from the client for no request in flight; not relayed", "token", key)
		return
	}
	p := *req.Params
	p.Meta = nil
	p.ProgressToken = r.token
	if err := r.c.cs.NotifyProgress(ctx, &p); err != nil {
		r.c.b.log.Debug("relaying the client's progress failed", "error", err)
	}
}

// rootsChanged is the server's RootsListChangedHandler: the client's
// roots changed, so every backend is told, as the client told the gateway.
// The SDK's client sends notifications/roots/list_changed only when its own
// list of roots changes, so each backend client's list is made the
// client's new one: that sends the notification (twice at most, one for
// the roots added and one for those removed), and also answers a 2026-07-28
// backend's roots input request, which the SDK fulfils from that list
// rather than through the roots/list middleware. (Between a session's
// start and the client's first list_changed, that list is empty; roots/list
// requests are always answered with the client's own, see rootsList.)
func (s *session) rootsChanged(context.Context, *mcp.RootsListChangedRequest) {
	ss := s.ss
	if ss == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.agg.opts.ConnectTimeout)
		defer cancel()
		res, err := ss.ListRoots(ctx, &mcp.ListRootsParams{})
		if err != nil {
			s.agg.log.Debug("listing the client's roots after roots/list_changed failed", "error", err)
			return
		}
		s.mu.Lock()
		conns := make([]*conn, 0, len(s.conns))
		for _, c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		for _, c := range conns {
			c.mirrorRoots(res.Roots)
		}
	}()
}

func (c *conn) mirrorRoots(roots []*mcp.Root) {
	keep := map[string]bool{}
	for _, r := range roots {
		keep[r.URI] = true
	}
	c.mu.Lock()
	var gone []string
	for uri := range c.roots {
		if !keep[uri] {
			gone = append(gone, uri)
		}
	}
	c.roots = keep
	c.mu.Unlock()
	if len(roots) > 0 {
		c.client.AddRoots(roots...)
	}
	if len(gone) > 0 {
		c.client.RemoveRoots(gone...)
	}
}

// createMessageWithTools forwards the backend's sampling request, tools
// and all, to a client that declared sampling with tools.
func (c *conn) createMessageWithTools(hctx context.Context, req *mcp.CreateMessageWithToolsRequest) (*mcp.CreateMessageWithToolsResult, error) {
	p := *req.Params
	return toClient(c, hctx, &p, &p.Meta, (*mcp.ServerSession).CreateMessageWithTools)
}

// elicitationComplete relays a backend's notifications/elicitation/complete
// (the end of a URL-mode elicitation) to the client.
func (c *conn) elicitationComplete(hctx context.Context, req *mcp.ElicitationCompleteNotificationRequest) {
	ss, err := c.serverSession()
	if err != nil {
		return
	}
	ctx, done := c.related(hctx)
	defer done()
	p := *req.Params
	p.Meta = nil
	if err := ss.NotifyElicitationComplete(ctx, &p); err != nil {
		c.b.log.Debug("relaying elicitation/complete failed", "error", err)
	}
}
