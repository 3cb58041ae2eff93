package telemetry

import (
	"encoding/json"
	"sync"
	"sync/atomic"
)

// listKind says which list a name came from.
type listKind uint8

const (
	kindTool listKind = iota
	kindPrompt
)

// Catalog bounds.
const (
	// DefaultCatalogMax is the default number of names kept per backend and
	// list.
	DefaultCatalogMax = 1000
	catalogNameMax    = 128 // longer names are never learned (they stay "_OTHER")
	catalogBackendMax = 256
)

// Catalog holds the tool and prompt names each backend listed (tools/list,
// prompts/list results), so that a metric carries a tool or prompt name only
// when a backend offered it: a name a client made up is "_OTHER". It is
// bounded per backend and list; names past the bound are never learned.
// Names are only added: a tool a backend stops listing keeps its series,
// which is harmless and keeps dashboards continuous.
//
// Lookups are on every request and learning is rare, so the names live in an
// immutable map replaced on change (copy on write), read without a lock.
type Catalog struct {
	max   int
	snap  atomic.Pointer[catalogSnap]
	mu    sync.Mutex // serializes writers
	sizes map[sizeKey]int
}

// catalogSnap is one immutable state of the catalog.
type catalogSnap struct {
	byBackend map[catalogKey]struct{}
	anywhere  map[nameKey]struct{} // the same names, whatever the backend
}

type nameKey struct {
	kind listKind
	name string
}

type catalogKey struct {
	backend string
	kind    listKind
	name    string
}

type sizeKey struct {
	backend string
	kind    listKind
}

// NewCatalog returns an empty catalog keeping at most max names per backend
// and list; 0 means DefaultCatalogMax.
func NewCatalog(max int) *Catalog {
	if max <= 0 {
		max = DefaultCatalogMax
	}
	c := &Catalog{max: max, sizes: map[sizeKey]int{}}
	c.snap.Store(&catalogSnap{byBackend: map[catalogKey]struct{}{}, anywhere: map[nameKey]struct{}{}})
	return c
}

// Learn records the names in result, the JSON "result" of a backend's
// response to method; only tools/list and prompts/list are read, anything
// else is ignored. Safe on a nil Catalog.
func (c *Catalog) Learn(backend, method string, result []byte) {
	if c == nil {
		return
	}
	var kind listKind
	var names []string
	switch method {
	case "tools/list":
		var r struct {
			Tools []struct {
				Name string `json:"name"`
			} `json:"tools"`
		}
		if json.Unmarshal(result, &r) != nil {
			return
		}
		kind = kindTool
		for _, x := range r.Tools {
			names = append(names, x.Name)
		}
	case "prompts/list":
		var r struct {
			Prompts []struct {
				Name string `json:"name"`
			} `json:"prompts"`
		}
		if json.Unmarshal(result, &r) != nil {
			return
		}
		kind = kindPrompt
		for _, x := range r.Prompts {
			names = append(names, x.Name)
		}
	default:
		return
	}
	c.add(backend, kind, names)
}

func (c *Catalog) add(backend string, kind listKind, names []string) {
	cur := c.snap.Load()
	fresh := names[:0]
	for _, n := range names {
		if n == "" || len(n) > catalogNameMax {
			continue
		}
		if _, ok := cur.byBackend[catalogKey{backend, kind, n}]; !ok {
			fresh = append(fresh, n)
		}
	}
	if len(fresh) == 0 {
		return // the common case: a list seen before
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	sk := sizeKey{backend, kind}
	if _, seen := c.sizes[sk]; !seen && len(c.sizes) >= catalogBackendMax*2 {
		return
	}
	cur = c.snap.Load()
	next := &catalogSnap{
		byBackend: make(map[catalogKey]struct{}, len(cur.byBackend)+len(fresh)),
		anywhere:  make(map[nameKey]struct{}, len(cur.anywhere)+len(fresh)),
	}
	for k := range cur.byBackend {
		next.byBackend[k] = struct{}{}
	}
	for k := range cur.anywhere {
		next.anywhere[k] = struct{}{}
	}
	n := c.sizes[sk]
	for _, name := range fresh {
		if n >= c.max {
			break
		}
		k := catalogKey{backend, kind, name}
		if _, ok := next.byBackend[k]; !ok {
			next.byBackend[k] = struct{}{}
			next.anywhere[nameKey{kind, name}] = struct{}{}
			n++
		}
	}
	c.sizes[sk] = n
	c.snap.Store(next)
}

// KnownTool reports whether backend listed a tool called name.
func (c *Catalog) KnownTool(backend, name string) bool { return c.known(backend, kindTool, name) }

// KnownPrompt reports whether backend listed a prompt called name.
func (c *Catalog) KnownPrompt(backend, name string) bool { return c.known(backend, kindPrompt, name) }

func (c *Catalog) known(backend string, kind listKind, name string) bool {
	if c == nil {
		return false
	}
	_, ok := c.snap.Load().byBackend[catalogKey{backend, kind, name}]
	return ok
}

// knownAnywhere reports whether any backend listed name.
func (c *Catalog) knownAnywhere(kind listKind, name string) bool {
	if c == nil {
		return false
	}
	_, ok := c.snap.Load().anywhere[nameKey{kind, name}]
	return ok
}
