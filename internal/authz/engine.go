package authz

import (
	"fmt"
	"iter"
	"strings"
	"sync/atomic"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"

	"github.com/mcpgate/mcpgate/internal/identity"
)

// Mode is authz.mode.
type Mode uint8

const (
	// ModeOff evaluates nothing: every request is admitted, lists pass
	// unfiltered.
	ModeOff Mode = iota
	// ModeShadow evaluates every request and list item and records what
	// enforce would decide, enforcing none of it.
	ModeShadow
	// ModeEnforce denies what the policies do not permit and filters lists.
	ModeEnforce
)

func (m Mode) String() string {
	switch m {
	case ModeShadow:
		return "shadow"
	case ModeEnforce:
		return "enforce"
	}
	return "off"
}

// ParseMode parses authz.mode; "" is off.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", "off":
		return ModeOff, nil
	case "shadow":
		return ModeShadow, nil
	case "enforce":
		return ModeEnforce, nil
	}
	return ModeOff, fmt.Errorf("authz: mode %q: want off, shadow or enforce", s)
}

// Effect is a decision's outcome: the value of mcpgate.authz.decision.
type Effect uint8

const (
	Allow Effect = iota
	Deny
	// ShadowDeny: the policies deny it; shadow mode let it through.
	ShadowDeny
)

func (e Effect) String() string {
	switch e {
	case Deny:
		return "deny"
	case ShadowDeny:
		return "shadow_deny"
	}
	return "allow"
}

// Decision is the outcome of one request's evaluation, with the mode
// applied.
type Decision struct {
	Effect Effect
	// Evaluated is false when the request was admitted without evaluation:
	// mode off, or a method admitted by default (see Admitted).
	Evaluated bool
	// Policies are the ids of the determining policies: the forbids that
	// matched on a deny, else the permits that matched on an allow; empty
	// on a deny no policy permitted. Ids are @id annotations, else
	// file:line of the policy.
	Policies []string
	// Errored are the ids of policies whose evaluation failed and which were
	// therefore skipped, as Cedar does. Cedar's error messages may quote
	// entity ids (the subject), so only ids are kept.
	Errored []string
	// Reason says why in words safe to show the caller: never the policy
	// text, ids or the principal.
	Reason string
}

// Allowed reports whether the request may proceed (allow or shadow_deny).
func (d Decision) Allowed() bool { return d.Effect != Deny }

const (
	reasonAdmitted  = "admitted by default: protocol lifecycle or list method"
	reasonOff       = "authorization is off"
	reasonPermitted = "permitted by policy"
	reasonForbidden = "forbidden by policy"
	reasonNoPermit  = "no policy permits this request"
)

// Admitted reports whether method is admitted by default, never evaluated:
// the protocol's lifecycle and plumbing, which touch no tool, prompt or
// resource and without which no client works (initialize, ping,
// server/discover, subscriptions/listen, logging/setLevel, every
// notifications/* message), and the list methods, whose results are
// filtered item by item instead (ListAction).
func Admitted(method string) bool {
	switch method {
	case "initialize", "ping", "server/discover", "subscriptions/listen", "logging/setLevel",
		"tools/list", "prompts/list", "resources/list", "resources/templates/list":
		return true
	}
	return strings.HasPrefix(method, "notifications/")
}

// Options configure an Engine.
type Options struct {
	Mode Mode
	// Policies are file names or globs (authz.policies).
	Policies []string
	// Claims are the token claims exposed as principal.claims (authz.claims).
	Claims []string
	Load   LoadOptions
}

// Engine evaluates requests against a policy set that Reload can replace
// while requests are in flight. It is safe for concurrent use.
type Engine struct {
	mode   Mode
	claims []string
	load   LoadOptions
	set    atomic.Pointer[PolicySet]
	cache  memo[Target, types.Entity]
	// contexts memoizes the argument-less context records by client.
	contexts memo[contextKey, types.Record]
	// principals memoizes prepared principals by identity: authn hands the
	// same *Identity to every request of a cached token.
	principals memo[*identity.Identity, Principal]
}

// New loads the policies and returns the engine. In mode off no policy is
// read.
func New(opts Options) (*Engine, error) {
	e := &Engine{mode: opts.Mode, claims: append([]string(nil), opts.Claims...), load: opts.Load}
	if opts.Mode == ModeOff {
		e.set.Store(&PolicySet{})
		return e, nil
	}
	s, err := Load(opts.Policies, opts.Load)
	if err != nil {
		return nil, err
	}
	e.set.Store(s)
	return e, nil
}

// NewWithSet returns an engine over an already built set (tests, `mcpgate
// authz check`).
func NewWithSet(mode Mode, claims []string, s *PolicySet) *Engine {
	e := &Engine{mode: mode, claims: append([]string(nil), claims...)}
	e.set.Store(s)
	return e
}

// Reload loads the policy files patterns name and swaps them in atomically.
// On any error the engine keeps the set it had and returns the error: a
// broken file on SIGHUP must not leave the gateway without policies.
func (e *Engine) Reload(patterns []string) (*PolicySet, error) {
	s, err := Load(patterns, e.load)
	if err != nil {
		return nil, err
	}
	e.set.Store(s)
	return s, nil
}

// Mode returns the engine's mode.
func (e *Engine) Mode() Mode { return e.mode }

// Policies returns the set in force.
func (e *Engine) Policies() *PolicySet { return e.set.Load() }

// Principal prepares id (nil: anonymous) with the engine's claims.
func (e *Engine) Principal(id *identity.Identity) Principal {
	if id == nil {
		return anonymous
	}
	return e.principals.get(id, e.newPrincipal)
}

func (e *Engine) newPrincipal(id *identity.Identity) Principal {
	return NewPrincipal(id, e.claims)
}

// Client is what a request says about its client.
type Client struct {
	ProtocolVersion string // the request's protocol revision, "" when unknown
	Name            string // clientInfo.name, "" when unknown
}

// Request is one JSON-RPC request to decide on.
type Request struct {
	Method string
	Target Target
	// Arguments is the raw JSON of the call's arguments (params.arguments
	// of tools/call and prompts/get, params.argument of
	// completion/complete); nil when none.
	Arguments []byte
	Client    Client
}

// Decide evaluates r for p and applies the mode.
func (e *Engine) Decide(p Principal, r Request) Decision {
	if e.mode == ModeOff {
		return Decision{Effect: Allow, Reason: reasonOff}
	}
	if Admitted(r.Method) {
		return Decision{Effect: Allow, Reason: reasonAdmitted}
	}
	t := r.Target
	if t.Kind == KindDefault {
		t.Kind = KindFor(r.Method)
	}
	set := e.set.Load()
	res := e.cache.get(t, targetEntity)
	var ctx types.Record
	if len(r.Arguments) > 0 && set.readsArguments(types.NewEntityUID(TypeAction, types.String(r.Method)), res.UID) {
		args, truncated := convertArguments(r.Arguments)
		ctx = contextRecord(args, truncated, false, r.Client)
	} else {
		// No policy that can match reads the arguments: the decision is the
		// same without converting them.
		ctx = e.contexts.get(contextKey{r.Client, false}, argumentlessContext)
	}
	allowed, d := set.authorize(p, r.Method, res, ctx, true)
	d.Evaluated = true
	switch {
	case allowed:
		d.Effect, d.Reason = Allow, reasonPermitted
	case e.mode == ModeShadow:
		d.Effect = ShadowDeny
	default:
		d.Effect = Deny
	}
	if !allowed {
		d.Reason = reasonNoPermit
		if len(d.Policies) > 0 {
			d.Reason = reasonForbidden
		}
	}
	return d
}

// AllowItem reports whether the policies let p use target with action (the
// call action of a list: tools/call for a tools/list item, ...), regardless
// of the mode. It evaluates with context.listing true and no arguments.
func (e *Engine) AllowItem(p Principal, action string, target Target, c Client) bool {
	if target.Kind == KindDefault {
		target.Kind = KindFor(action)
	}
	ok, _ := e.set.Load().authorize(p, action, e.cache.get(target, targetEntity), e.contexts.get(contextKey{c, true}, argumentlessContext), false)
	return ok
}

func contextRecord(args types.Record, truncated, listing bool, c Client) types.Record {
	return types.NewRecord(types.RecordMap{
		"arguments":          args,
		"argumentsTruncated": types.Boolean(truncated),
		"listing":            types.Boolean(listing),
		"protocolVersion":    types.String(c.ProtocolVersion),
		"clientName":         types.String(c.Name),
	})
}

// authorize runs Cedar over the policies that can match; with detail, the
// Decision names the determining (on a deny: the matching forbids) and the
// failed policies.
func (s *PolicySet) authorize(p Principal, method string, res types.Entity, ctx types.Record, detail bool) (bool, Decision) {
	action := types.NewEntityUID(TypeAction, types.String(method))
	it := candidateIter{s: s, action: action, resource: res.UID}
	ents := entities{principal: &p.ent, resource: &res}
	dec, diag := cedar.Authorize(&it, &ents, cedar.Request{
		Principal: p.ent.UID, Action: action, Resource: res.UID, Context: ctx,
	})
	var d Decision
	if !detail {
		return dec == cedar.Allow, d
	}
	if len(diag.Reasons) > 0 {
		d.Policies = make([]string, len(diag.Reasons))
		for i, r := range diag.Reasons {
			d.Policies[i] = string(r.PolicyID)
		}
	}
	if len(diag.Errors) > 0 {
		d.Errored = make([]string, len(diag.Errors))
		for i, r := range diag.Errors {
			d.Errored[i] = string(r.PolicyID)
		}
	}
	return dec == cedar.Allow, d
}

// candidateIter feeds cedar.Authorize the indexed candidates.
type candidateIter struct {
	s                *PolicySet
	action, resource types.EntityUID
}

func (c *candidateIter) All() iter.Seq2[cedar.PolicyID, *cedar.Policy] {
	return func(yield func(cedar.PolicyID, *cedar.Policy) bool) {
		c.s.index.candidates(c.action, c.resource, func(i int) bool {
			p := &c.s.policies[i]
			return yield(cedar.PolicyID(p.id), p.p)
		})
	}
}
