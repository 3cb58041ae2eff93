package aggregate

import (
	"context"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// SEP-2549 caching hints (2026-07-28): a result says how long it may be
// cached (ttlMs) and by whom (cacheScope "public" or "private"). A list the
// gateway merges from several backends is never more shareable than its
// least shareable part: its ttlMs is the smallest of the backends' (less
// the time since the gateway listed them), its scope "private" when any
// backend's is (a backend without such a list has no say). A backend that gave no hint (an older revision) gave ttlMs
// 0, "immediately stale", so a merged list holding its items is too.
// resources/read results carry the owning backend's hints unchanged.

// cacheHint is the least shareable hint of one backend's list, over every
// page.
type cacheHint struct {
	seen    bool
	ttlMs   int
	private bool
	at      time.Time // when the first page was fetched
}

func (h *cacheHint) merge(c mcp.Cacheable, at time.Time) {
	if !h.seen || c.TTLMs < h.ttlMs {
		h.ttlMs = c.TTLMs
	}
	if !h.seen {
		h.at = at
	}
	h.seen = true
	h.private = h.private || c.CacheScope == "private"
}

// listHints are one backend's hints, per list method.
type listHints struct {
	tools, prompts, resources, templates cacheHint
}

// cacheHints are a session's backends' list hints, by backend. Its lock is
// a leaf: the SDK calls setCacheable with its server's lock held, and the
// session's lock is held while adding to that server.
type cacheHints struct {
	mu sync.Mutex
	m  map[string]listHints
}

func (h *cacheHints) set(backend string, l listHints) {
	h.mu.Lock()
	if h.m == nil {
		h.m = map[string]listHints{}
	}
	h.m[backend] = l
	h.mu.Unlock()
}

func (h *cacheHints) drop(backend string) {
	h.mu.Lock()
	delete(h.m, backend)
	h.mu.Unlock()
}

// setCacheable is the server's ServerOptions.SetCacheable: the merged
// lists get the least shareable of the hints of the backends whose items
// they hold. Other results (resources/read, server/discover) keep what
// their handler or the SDK produced.
func (s *session) setCacheable(_ context.Context, req mcp.Request, c *mcp.Cacheable) {
	var pick func(listHints) cacheHint
	switch req.(type) {
	case *mcp.ListToolsRequest:
		pick = func(l listHints) cacheHint { return l.tools }
	case *mcp.ListPromptsRequest:
		pick = func(l listHints) cacheHint { return l.prompts }
	case *mcp.ListResourcesRequest:
		pick = func(l listHints) cacheHint { return l.resources }
	case *mcp.ListResourceTemplatesRequest:
		pick = func(l listHints) cacheHint { return l.templates }
	default:
		return
	}
	now := time.Now()
	first := true
	ttl, private := 0, false
	s.hints.mu.Lock()
	for _, l := range s.hints.m {
		h := pick(l)
		if !h.seen {
			continue // the backend offers no such list
		}
		left := max(0, h.ttlMs-int(now.Sub(h.at)/time.Millisecond))
		if first || left < ttl {
			ttl = left
		}
		first = false
		private = private || h.private
	}
	s.hints.mu.Unlock()
	c.TTLMs = ttl
	c.CacheScope = "public"
	if private {
		c.CacheScope = "private"
	}
}
