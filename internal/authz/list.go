package authz

import (
	"errors"
	"sync"
)

// ListAction returns, for a list method, the action its items are
// evaluated with, the result member holding them and the items' kind:
// tools/list by tools/call, prompts/list by prompts/get, resources/list and
// resources/templates/list by resources/read. A principal sees the items it
// may use.
func ListAction(method string) (action, member string, kind Kind, ok bool) {
	switch method {
	case "tools/list":
		return "tools/call", "tools", KindTool, true
	case "prompts/list":
		return "prompts/get", "prompts", KindPrompt, true
	case "resources/list":
		return "resources/read", "resources", KindResource, true
	case "resources/templates/list":
		return "resources/read", "resourceTemplates", KindResource, true
	}
	return "", "", KindDefault, false
}

// ListOptions describe the list a result answers.
type ListOptions struct {
	// Backend is the backend every item lives on (relay mode).
	Backend string
	// BackendOf, when set, names the backend of the item called name
	// (aggregating mode); it overrides Backend.
	BackendOf func(name string) string
	Client    Client
	// Catalog, when set, records the annotations of every tool listed, for
	// the tools/call decisions that follow.
	Catalog *Catalog
}

// ListStats say what filtering did.
type ListStats struct {
	Items int // items in the result
	// Removed items are not in the returned result (enforce mode).
	Removed int
	// Denied items are those the policies deny: Removed in enforce mode,
	// left in (and to be recorded as shadow_deny) in shadow mode.
	Denied int
	// Private is true when the returned result depends on the principal
	// (enforce mode, whether or not this principal lost an item): a
	// 2026-07-28 result must then be marked cacheScope "private", since a
	// shared cache would hand one principal's list to another.
	Private bool
}

// ErrListShape is returned for a list result that is not a JSON object or
// whose item member is not an array of objects. In enforce mode the caller
// must not relay such a result unfiltered.
var ErrListShape = errors.New("authz: list result is malformed")

// FilterList returns result (the JSON-RPC result object of a list method)
// holding only the items p may use, as the mode says: in enforce mode the
// others are removed, in shadow mode they are counted in Denied and left
// in, in mode off nothing is evaluated. Every byte outside the removed
// items is kept as it was, and when nothing is removed result itself is
// returned. An item whose identifying member (name, uri, uriTemplate)
// appears twice under names equal ignoring case is treated as denied: a
// case-insensitive reader could see another name than the one evaluated.
func (e *Engine) FilterList(p Principal, method string, result []byte, o ListOptions) ([]byte, ListStats, error) {
	action, member, kind, ok := ListAction(method)
	if !ok || e.mode == ModeOff {
		return result, ListStats{}, nil
	}
	idMember := "name"
	switch method {
	case "resources/list":
		idMember = "uri"
	case "resources/templates/list":
		idMember = "uriTemplate"
	}
	set := e.set.Load()
	ctx := e.contexts.get(contextKey{o.Client, true}, argumentlessContext)
	var st ListStats
	type span struct{ start, end int }
	var keep []span // kept items of arrays that lost some, in order
	var arrays []span
	var arrayKeep [][]span
	s := scan{b: result}
	err := s.object(func(name []byte, esc bool) error {
		if !nameIs(name, esc, member) {
			return s.skip()
		}
		if s.peek() != '[' {
			return ErrListShape
		}
		aStart := s.pos
		keep = nil
		removed := false
		err := s.array(func() error {
			start := s.pos
			it, err := scanItem(&s, kind, idMember)
			if err != nil {
				return err
			}
			st.Items++
			t := Target{Kind: kind, Name: it.id, Backend: o.Backend, Annotations: it.ann}
			if o.BackendOf != nil {
				t.Backend = o.BackendOf(it.id)
			}
			if o.Catalog != nil && kind == KindTool && !it.ambiguous {
				o.Catalog.Put(t.Backend, it.id, it.ann)
			}
			allowed := !it.ambiguous && it.found
			if allowed {
				allowed, _ = set.authorize(p, action, e.cache.get(t, targetEntity), ctx, false)
			}
			if !allowed {
				st.Denied++
				if e.mode == ModeEnforce {
					removed = true
					return nil
				}
			}
			keep = append(keep, span{start, s.pos})
			return nil
		})
		if err != nil {
			return err
		}
		if removed {
			arrays = append(arrays, span{aStart, s.pos})
			arrayKeep = append(arrayKeep, keep)
		}
		return nil
	})
	if err != nil || !s.end() {
		return nil, ListStats{}, ErrListShape
	}
	st.Private = e.mode == ModeEnforce
	if len(arrays) == 0 {
		return result, st, nil
	}
	out := make([]byte, 0, len(result))
	at := 0
	for i, a := range arrays {
		out = append(out, result[at:a.start]...)
		out = append(out, '[')
		for j, k := range arrayKeep[i] {
			if j > 0 {
				out = append(out, ',')
			}
			out = append(out, result[k.start:k.end]...)
		}
		out = append(out, ']')
		at = a.end
	}
	out = append(out, result[at:]...)
	st.Removed = st.Denied
	return out, st, nil
}

// item is what filtering reads of one list item.
type item struct {
	id        string // name, uri or uriTemplate
	found     bool
	ambiguous bool
	ann       Annotations
}

// scanItem reads one item object: its identifying member and, for a tool,
// its annotations.
func scanItem(s *scan, kind Kind, idMember string) (item, error) {
	var it item
	if s.peek() != '{' {
		return it, ErrListShape
	}
	err := s.object(func(name []byte, esc bool) error {
		if nameIs(name, esc, idMember) {
			raw, e, err := s.str()
			if err != nil {
				return ErrListShape
			}
			v, ok := unquote(raw, e)
			if !ok {
				return ErrListShape
			}
			if it.found {
				it.ambiguous = true
			}
			it.id, it.found = v, true
			return nil
		}
		if kind == KindTool && nameIs(name, esc, "annotations") && s.peek() == '{' {
			return s.object(func(name []byte, esc bool) error {
				var h *Hint
				switch {
				case nameIs(name, esc, "readOnlyHint"):
					h = &it.ann.ReadOnly
				case nameIs(name, esc, "destructiveHint"):
					h = &it.ann.Destructive
				case nameIs(name, esc, "idempotentHint"):
					h = &it.ann.Idempotent
				case nameIs(name, esc, "openWorldHint"):
					h = &it.ann.OpenWorld
				default:
					return s.skip()
				}
				switch s.peek() {
				case 't':
					*h = HintTrue
					return s.lit("true")
				case 'f':
					*h = HintFalse
					return s.lit("false")
				}
				return s.skip() // not a boolean: as if unpublished
			})
		}
		return s.skip()
	})
	return it, err
}

// Catalog remembers the annotations each backend published for its tools,
// so that a tools/call can be decided with the hints its tools/list showed.
// It is bounded: past maxCatalog entries it starts over (the next list
// fills it again). Safe for concurrent use.
type Catalog struct {
	mu sync.RWMutex
	m  map[catalogKey]Annotations
}

type catalogKey struct{ backend, tool string }

const maxCatalog = 10000

// Put records tool's annotations on backend.
func (c *Catalog) Put(backend, tool string, a Annotations) {
	k := catalogKey{backend, tool}
	c.mu.RLock()
	old, ok := c.m[k]
	c.mu.RUnlock()
	if ok && old == a {
		return
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCatalog {
		c.m = map[catalogKey]Annotations{}
	}
	c.m[k] = a
	c.mu.Unlock()
}

// Annotations returns what Put recorded for tool on backend.
func (c *Catalog) Annotations(backend, tool string) (Annotations, bool) {
	c.mu.RLock()
	a, ok := c.m[catalogKey{backend, tool}]
	c.mu.RUnlock()
	return a, ok
}
