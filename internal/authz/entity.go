package authz

import (
	"strings"
	"sync"

	"github.com/cedar-policy/cedar-go/types"

	"github.com/mcpgate/mcpgate/internal/identity"
)

// The entity types of the model (namespace mcpgate); schema.cedarschema
// declares them.
const (
	TypeUser      types.EntityType = "mcpgate::User"
	TypeAnonymous types.EntityType = "mcpgate::Anonymous"
	TypeAction    types.EntityType = "mcpgate::Action"
	TypeTool      types.EntityType = "mcpgate::Tool"
	TypePrompt    types.EntityType = "mcpgate::Prompt"
	TypeResource  types.EntityType = "mcpgate::Resource"
	TypeBackend   types.EntityType = "mcpgate::Backend"
)

// AnonymousID is the id of the one anonymous principal.
const AnonymousID = "anonymous"

// Principal is a caller prepared for evaluation: build it once per request
// (Engine.Principal) and use it for the request's decision and, for a list,
// every item. It holds the subject: it must never be logged or exported.
type Principal struct {
	ent types.Entity
}

// Anonymous reports whether p is the anonymous principal.
func (p Principal) Anonymous() bool { return p.ent.UID.Type == TypeAnonymous }

var anonymous = Principal{ent: types.Entity{UID: types.NewEntityUID(TypeAnonymous, AnonymousID)}}

// NewPrincipal returns the principal for id (nil: the anonymous principal,
// a distinct entity type rather than a synthetic user, so no policy about
// users can match a caller who did not authenticate). claims names the
// token claims exposed as principal.claims; a named claim the token lacks,
// or whose value has no Cedar form, is absent.
func NewPrincipal(id *identity.Identity, claims []string) Principal {
	if id == nil {
		return anonymous
	}
	groups := make([]types.Value, len(id.Groups))
	for i, g := range id.Groups {
		groups[i] = types.String(g)
	}
	var picked types.RecordMap
	for _, c := range claims {
		v, ok := id.Claims[c]
		if !ok {
			continue
		}
		if cv := convertJSON(v, 2); cv != nil {
			if picked == nil {
				picked = types.RecordMap{}
			}
			picked[types.String(c)] = cv
		}
	}
	scopes := scopesOf(id.Claims)
	sv := make([]types.Value, len(scopes))
	for i, s := range scopes {
		sv[i] = types.String(s)
	}
	return Principal{ent: types.Entity{
		UID: types.NewEntityUID(TypeUser, types.String(id.Subject)),
		Attributes: types.NewRecord(types.RecordMap{
			"issuer":  types.String(id.Issuer),
			"subject": types.String(id.Subject),
			"groups":  types.NewSet(groups...),
			"scopes":  types.NewSet(sv...),
			"method":  types.String(id.Method),
			"claims":  types.NewRecord(picked),
		}),
	}}
}

// scopesOf reads OAuth scopes from a token's claims: "scope", a
// space-separated string (RFC 8693, RFC 9068), or "scp", an array or a
// string (as some identity providers issue). API keys carry none.
func scopesOf(claims map[string]any) []string {
	var out []string
	add := func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, strings.Fields(x)...)
		case []any:
			for _, e := range x {
				if s, ok := e.(string); ok {
					out = append(out, s)
				}
			}
		case []string:
			out = append(out, x...)
		}
	}
	if v, ok := claims["scope"]; ok {
		add(v)
	}
	if v, ok := claims["scp"]; ok {
		add(v)
	}
	return out
}

// Kind is the entity type of a request's target.
type Kind uint8

const (
	// KindDefault derives the kind from the method: tools/call a tool,
	// prompts/get a prompt, resources/read, /subscribe and /unsubscribe a
	// resource, everything else the backend. completion/complete names its
	// kind in params.ref: set KindPrompt (ref/prompt) or KindResource
	// (ref/resource, the URI template as Name).
	KindDefault Kind = iota
	KindTool
	KindPrompt
	KindResource
	KindBackend
)

// KindFor returns the kind KindDefault stands for with method.
func KindFor(method string) Kind {
	switch method {
	case "tools/call":
		return KindTool
	case "prompts/get":
		return KindPrompt
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		return KindResource
	}
	return KindBackend
}

// Hint is a tool annotation's value: unset when the backend did not
// publish it.
type Hint uint8

const (
	HintUnset Hint = iota
	HintFalse
	HintTrue
)

// HintOf returns the Hint for an optional boolean.
func HintOf(b *bool) Hint {
	switch {
	case b == nil:
		return HintUnset
	case *b:
		return HintTrue
	}
	return HintFalse
}

// Annotations are a tool's behaviour hints as published in tools/list.
type Annotations struct {
	ReadOnly, Destructive, Idempotent, OpenWorld Hint
}

// annotationRecords holds the record of each of the 3⁴ combinations of
// hints, built once: records are immutable, and building one per list item
// was the largest cost of filtering a list.
var annotationRecords = func() (r [81]types.Record) {
	for i := range r {
		a := Annotations{Hint(i % 3), Hint(i / 3 % 3), Hint(i / 9 % 3), Hint(i / 27 % 3)}
		r[i] = a.build()
	}
	return r
}()

func (a Annotations) record() types.Record {
	if a.ReadOnly > HintTrue || a.Destructive > HintTrue || a.Idempotent > HintTrue || a.OpenWorld > HintTrue {
		return a.build()
	}
	return annotationRecords[int(a.ReadOnly)+3*int(a.Destructive)+9*int(a.Idempotent)+27*int(a.OpenWorld)]
}

func (a Annotations) build() types.Record {
	if a == (Annotations{}) {
		return types.Record{}
	}
	m := make(types.RecordMap, 4)
	put := func(k types.String, h Hint) {
		if h != HintUnset {
			m[k] = types.Boolean(h == HintTrue)
		}
	}
	put("readOnlyHint", a.ReadOnly)
	put("destructiveHint", a.Destructive)
	put("idempotentHint", a.Idempotent)
	put("openWorldHint", a.OpenWorld)
	return types.NewRecord(m)
}

// Target is what a request acts on.
type Target struct {
	Kind Kind
	// Name is the tool or prompt name as the client sees it (after any
	// aggregation prefix), or the resource URI (for a template, the URI
	// template); unused for a backend.
	Name string
	// Backend is the backend the target lives on (the backend the request
	// goes to, for KindBackend).
	Backend string
	// Annotations are the tool's published hints (tools only).
	Annotations Annotations
}

// entity returns the resource entity for t, whose kind is resolved.
func (t Target) entity() types.Entity {
	switch t.Kind {
	case KindTool:
		return types.Entity{UID: types.NewEntityUID(TypeTool, types.String(t.Name)), Attributes: types.NewRecord(types.RecordMap{
			"name":        types.String(t.Name),
			"backend":     types.String(t.Backend),
			"annotations": t.Annotations.record(),
		})}
	case KindPrompt:
		return types.Entity{UID: types.NewEntityUID(TypePrompt, types.String(t.Name)), Attributes: types.NewRecord(types.RecordMap{
			"name":    types.String(t.Name),
			"backend": types.String(t.Backend),
		})}
	case KindResource:
		return types.Entity{UID: types.NewEntityUID(TypeResource, types.String(t.Name)), Attributes: types.NewRecord(types.RecordMap{
			"uri":     types.String(t.Name),
			"backend": types.String(t.Backend),
		})}
	}
	return types.Entity{UID: types.NewEntityUID(TypeBackend, types.String(t.Backend)), Attributes: types.NewRecord(types.RecordMap{
		"name": types.String(t.Backend),
	})}
}

// memo memoizes values that never change for their key: resource entities
// by target (the same tools are decided and listed over and over),
// argument-less context records by client and listing, principals by
// identity pointer (identities are read-only once handed out). Client names
// and identities are the callers' to multiply, so a memo is bounded: past
// maxMemo entries it starts over (and lets go of what it held).
type memo[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
}

const maxMemo = 10000

// get returns the value for k, made by make(k) the first time.
func (c *memo[K, V]) get(k K, make func(K) V) V {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return v
	}
	v = make(k)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxMemo {
		c.m = map[K]V{}
	}
	c.m[k] = v
	c.mu.Unlock()
	return v
}

// contextKey is what an argument-less context record depends on.
type contextKey struct {
	c       Client
	listing bool
}

func targetEntity(t Target) types.Entity { return t.entity() }

func argumentlessContext(k contextKey) types.Record {
	return contextRecord(types.Record{}, false, k.listing, k.c)
}

// entities is the entity store of one evaluation: the principal and the
// resource (actions have no attributes or parents).
type entities struct{ principal, resource *types.Entity }

func (e *entities) Get(uid types.EntityUID) (types.Entity, bool) {
	switch uid {
	case e.principal.UID:
		return *e.principal, true
	case e.resource.UID:
		return *e.resource, true
	}
	return types.Entity{}, false
}
