package aggregate

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash"
	"runtime"
	"weak"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// A catalog is what one backend offers as a client sees it: the tools and
// prompts under their client-visible names (with the routes back to the
// backend's own names), the resources and resource templates as listed.
// It is immutable once built, so every client session whose session with
// that backend listed exactly the same thing shares one: with 1,000 tools
// a catalog is megabytes, and each idle session holding its own copy was
// what made the heap grow by ~4 MB per session (issue 13).
//
// Sessions are matched by content, not by backend alone: each client
// session still lists its own backend session (a server may offer other
// tools to a client with other capabilities, and a stdio child's list is
// that child's), so a session never offers what another session's backend
// listed. A backend's list_changed re-lists that one session (as before);
// when every session's list changes the same way, they all end up on the
// one new catalog. The shared catalogs are held weakly: one no session
// offers any more is collected, and its entry dropped.
type catalog struct {
	backend string

	tools      []*mcp.Tool       // client-visible names, input schema of type object
	toolRoutes map[string]string // client-visible tool name → the backend's own
	prompts    []*mcp.Prompt
	promptRtes map[string]string // client-visible prompt name → the backend's own
	resources  []*mcp.Resource   // as listed: a session may wrap some URIs (uriTable)
	templates  []*mcp.ResourceTemplate
}

// catalogKey is the SHA-256 of a backend's filtered lists, as JSON.
type catalogKey [sha256.Size]byte

// catalogs are one backend's shared catalogs, by content; backend.mu.
type catalogs struct {
	m       map[catalogKey]weak.Pointer[catalog]
	learned catalogKey // the last one shown to the telemetry catalog
}

// shared returns the catalog of l for backend b: the one other sessions
// already share when they listed the same, else a new one, shared from now
// on. learn reports whether it differs from the catalog the telemetry
// catalog last learned the backend's names from.
func (b *backend) shared(n Naming, l *lists) (c *catalog, learn bool, err error) {
	key, err := l.key()
	if err != nil {
		return nil, false, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	learn = key != b.catalogs.learned
	b.catalogs.learned = key
	if wp, ok := b.catalogs.m[key]; ok {
		if c := wp.Value(); c != nil {
			return c, learn, nil
		}
	}
	c = newCatalog(n, b.Name, l)
	if b.catalogs.m == nil {
		b.catalogs.m = map[catalogKey]weak.Pointer[catalog]{}
	}
	wp := weak.Make(c)
	b.catalogs.m[key] = wp
	runtime.AddCleanup(c, func(key catalogKey) {
		b.mu.Lock()
		defer b.mu.Unlock()
		if cur, ok := b.catalogs.m[key]; ok && cur.Value() == nil {
			delete(b.catalogs.m, key)
		}
	}, key)
	return c, learn, nil
}

// sharedCatalogs reports how many catalogs of b are alive, for tests.
func (b *backend) sharedCatalogs() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, wp := range b.catalogs.m {
		if wp.Value() != nil {
			n++
		}
	}
	return n
}

// key hashes the lists the way a client would see them listed.
func (l *lists) key() (catalogKey, error) {
	h := sha256.New()
	enc := json.NewEncoder(h)
	for i, part := range []any{l.tools, l.prompts, l.resources, l.templates} {
		sep(h, i)
		if err := enc.Encode(part); err != nil {
			return catalogKey{}, fmt.Errorf("hashing the lists: %w", err)
		}
	}
	var k catalogKey
	h.Sum(k[:0])
	return k, nil
}

func sep(h hash.Hash, i int) { _, _ = h.Write([]byte{0, byte(i)}) }

// newCatalog builds backend's catalog from its lists: client-visible names
// (Naming.Exposed) and schemas the SDK accepts; the lists' items are not
// modified (copies carry the changes).
func newCatalog(n Naming, backend string, l *lists) *catalog {
	c := &catalog{
		backend:    backend,
		tools:      make([]*mcp.Tool, len(l.tools)),
		toolRoutes: make(map[string]string, len(l.tools)),
		prompts:    make([]*mcp.Prompt, len(l.prompts)),
		promptRtes: make(map[string]string, len(l.prompts)),
		resources:  l.resources,
		templates:  l.templates,
	}
	for i, t := range l.tools {
		t2 := *t
		t2.Name = n.Exposed(backend, t.Name)
		t2.InputSchema = objectSchema(t.InputSchema)
		c.tools[i] = &t2
		c.toolRoutes[t2.Name] = t.Name
	}
	for i, p := range l.prompts {
		p2 := *p
		p2.Name = n.Exposed(backend, p.Name)
		c.prompts[i] = &p2
		c.promptRtes[p2.Name] = p.Name
	}
	return c
}

// collides returns the first name of c that other (another backend's
// catalog on the same session) offers too, as a CollisionError.
func (c *catalog) collides(other *catalog) error {
	for _, t := range c.tools {
		if own, ok := other.toolRoutes[t.Name]; ok {
			return &CollisionError{Kind: "tool", Name: t.Name, First: other.backend, Second: c.backend, OwnFirst: own, OwnSec: c.toolRoutes[t.Name]}
		}
	}
	for _, p := range c.prompts {
		if own, ok := other.promptRtes[p.Name]; ok {
			return &CollisionError{Kind: "prompt", Name: p.Name, First: other.backend, Second: c.backend, OwnFirst: own, OwnSec: c.promptRtes[p.Name]}
		}
	}
	return nil
}
