package aggregate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strings"
	"unicode/utf8"
)

// MaxNameLen is the MCP limit on tool and prompt names.
const MaxNameLen = 128

// hashSuffixLen is the length of the suffix that replaces the tail of a
// name too long for MaxNameLen: "_" and 8 hex digits of its SHA-256.
const hashSuffixLen = 9

// uriScheme starts a resource URI (or template) the gateway rewrote to keep
// it unique: "mcpgate://<backend>/<the backend's URI>".
const uriScheme = "mcpgate://"

// Naming is how a session names what its backends offer.
type Naming struct {
	Separator string // between the backend name and its own name
	Prefix    bool   // false: names are offered as the backend spells them
}

// Exposed returns the name a client sees for backend's item own: prefixed
// (when Prefix is on) and kept within MaxNameLen. A name too long keeps its
// first bytes and ends in "_" and 8 hex digits of the SHA-256 of the whole
// untruncated name, so that two long names sharing a beginning stay apart
// and the same name always maps the same way.
func (n Naming) Exposed(backend, own string) string {
	name := own
	if n.Prefix {
		name = backend + n.Separator + own
	}
	if len(name) <= MaxNameLen {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	cut := MaxNameLen - hashSuffixLen
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return name[:cut] + "_" + hex.EncodeToString(sum[:4])
}

// Filter selects a backend's tools and prompts by their own names.
type Filter struct {
	Include []string // path.Match patterns; empty means all
	Exclude []string // path.Match patterns; wins over Include
}

// Allows reports whether the item called own passes the filter. Patterns
// were validated with the configuration; a malformed one matches nothing.
func (f Filter) Allows(own string) bool {
	if len(f.Include) > 0 && !matchAny(f.Include, own) {
		return false
	}
	return !matchAny(f.Exclude, own)
}

func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if ok, err := path.Match(p, s); err == nil && ok {
			return true
		}
	}
	return false
}

// Route is where a client-visible name or URI goes: the backend and the
// name or URI the backend knows it by.
type Route struct {
	Backend string
	Own     string
}

// CollisionError is two backends offering one client-visible name.
type CollisionError struct {
	Kind     string // "tool" or "prompt"
	Name     string // the client-visible name
	First    string // backend that offered it first
	Second   string
	OwnFirst string
	OwnSec   string
}

func (e *CollisionError) Error() string {
	return fmt.Sprintf("%s name %q is offered by backends %q (as %q) and %q (as %q): turn aggregate.prefix on, or exclude one of them with the backend's exclude list",
		e.Kind, e.Name, e.First, e.OwnFirst, e.Second, e.OwnSec)
}

// WrapURI returns the URI a client sees for backend's uri when an earlier
// backend already listed uri itself: "mcpgate://<backend>/<uri>".
func WrapURI(backend, uri string) string { return uriScheme + backend + "/" + uri }

// UnwrapURI undoes WrapURI: it returns the backend and its own URI, or
// ok false when uri is not a wrapped one.
func UnwrapURI(uri string) (backend, own string, ok bool) {
	rest, found := strings.CutPrefix(uri, uriScheme)
	if !found {
		return "", "", false
	}
	backend, own, found = strings.Cut(rest, "/")
	if !found || backend == "" {
		return "", "", false
	}
	return backend, own, true
}

// uriTable maps client-visible resource URIs (or templates) to routes. The
// first backend, in configuration order, to list a URI keeps it as it is;
// a later one that lists the same URI gets it wrapped (WrapURI). A backend's
// URI that already looks wrapped is wrapped again, so that unwrapping once
// always gives back what the backend sent.
type uriTable struct {
	routes map[string]Route
}

func newURITable() *uriTable { return &uriTable{routes: map[string]Route{}} }

func (t *uriTable) add(backend, uri string) string {
	exposed := uri
	if _, _, wrapped := UnwrapURI(uri); wrapped {
		exposed = WrapURI(backend, uri)
	} else if r, ok := t.routes[uri]; ok && r.Backend != backend {
		exposed = WrapURI(backend, uri)
	}
	t.routes[exposed] = Route{Backend: backend, Own: uri}
	return exposed
}

// route resolves a client-visible URI: a listed one, else a wrapped one
// naming a known backend (a URI under one of its templates), else the
// backend listed it unwrapped (for URIs that match a template).
func (t *uriTable) route(uri string, known func(string) bool) (Route, bool) {
	if r, ok := t.routes[uri]; ok {
		return r, true
	}
	if b, own, ok := UnwrapURI(uri); ok && known(b) {
		return Route{Backend: b, Own: own}, true
	}
	return Route{}, false
}

// splitPrefixed returns the backend a prefixed name would belong to, for a
// name no connected backend offers: a call to a backend that is down gets an
// error naming it rather than "unknown tool". backends are the configured
// names.
func (n Naming) splitPrefixed(name string, backends []string) (string, bool) {
	if !n.Prefix {
		return "", false
	}
	best := ""
	for _, b := range backends {
		if strings.HasPrefix(name, b+n.Separator) && len(b) > len(best) {
			best = b
		}
	}
	return best, best != ""
}
