package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/pseudonym"
)

// Failure is onStoreFailure: what a limiter does while its shared store is
// unreachable.
type Failure uint8

const (
	// FailLocal (default): each replica enforces its share of every limit
	// (the limit divided by Options.Replicas) in memory.
	FailLocal Failure = iota
	// FailOpen admits every request.
	FailOpen
	// FailClosed rejects every request the rules cover.
	FailClosed
)

// ParseFailure parses onStoreFailure; "" is local.
func ParseFailure(s string) (Failure, error) {
	switch s {
	case "", "local":
		return FailLocal, nil
	case "open":
		return FailOpen, nil
	case "closed":
		return FailClosed, nil
	}
	return 0, fmt.Errorf("ratelimit: onStoreFailure %q: want local, open or closed", s)
}

func (f Failure) String() string {
	switch f {
	case FailOpen:
		return "open"
	case FailClosed:
		return "closed"
	}
	return "local"
}

// Options configure a Limiter.
type Options struct {
	Rules []Rule
	// Store holds the buckets; nil is an in-process Memory store. A shared
	// store (Redis) is what makes a limit hold across replicas.
	Store Store
	// OnStoreFailure and Replicas apply to a shared store only. Replicas is
	// the number of gateway replicas sharing it (default 1): under
	// FailLocal each enforces 1/Replicas of every limit.
	OnStoreFailure Failure
	Replicas       int
	// Pseudonyms keys the buckets (required). With a shared store every
	// replica must use the same keys, or each keys its own buckets.
	Pseudonyms *pseudonym.Pseudonymizer
	// OnFallback, when set, is called for every request decided without the
	// store (for a counter by rule and onStoreFailure; it carries no
	// identity). It is called from concurrent requests.
	OnFallback func(rule string, f Failure)
	// OnStoreState, when set, is called when the store becomes unreachable
	// (false) and reachable again (true).
	OnStoreState func(up bool)
	// Logger logs each outage once as it starts and once as it ends;
	// nil is slog.Default().
	Logger *slog.Logger
	// ProbeInterval is how long after a failure the store is tried again
	// (default 1s); meanwhile requests are decided by the fallback at once.
	ProbeInterval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// MaxRules bounds the rules: a message records the rule that decided as a
// one-byte index (record.RateLimit).
const MaxRules = 255

// Limiter checks requests against the rules. Safe for concurrent use.
type Limiter struct {
	rules    []Rule
	limits   []Limit // per rule
	shares   []Limit // per rule, under FailLocal
	store    Store
	shared   bool
	local    *Memory // FailLocal's buckets
	failure  Failure
	pseudo   *pseudonym.Pseudonymizer
	onFall   func(string, Failure)
	onState  func(bool)
	log      *slog.Logger
	probe    time.Duration
	now      func() time.Time
	down     atomic.Bool
	retryAt  atomic.Int64 // unix ns: when the store may be tried again
	outageMu sync.Mutex
	fallen   atomic.Int64 // requests decided by the fallback in this outage
}

// New validates the rules and returns the limiter.
func New(o Options) (*Limiter, error) {
	if o.Pseudonyms == nil {
		return nil, errors.New("ratelimit: no pseudonymizer: bucket keys are pseudonyms, never subjects")
	}
	seen := map[string]bool{}
	l := &Limiter{store: o.Store, failure: o.OnStoreFailure, pseudo: o.Pseudonyms, onFall: o.OnFallback,
		onState: o.OnStoreState, log: o.Logger, probe: o.ProbeInterval, now: o.Now}
	if l.now == nil {
		l.now = time.Now
	}
	if l.log == nil {
		l.log = slog.Default()
	}
	if l.probe <= 0 {
		l.probe = time.Second
	}
	if len(o.Rules) > MaxRules {
		return nil, fmt.Errorf("ratelimit: %d rules, at most %d", len(o.Rules), MaxRules)
	}
	replicas := max(1, o.Replicas)
	for _, r := range o.Rules {
		if err := r.Validate(); err != nil {
			return nil, err
		}
		if seen[r.Name] {
			return nil, fmt.Errorf("ratelimit: two rules are named %q", r.Name)
		}
		seen[r.Name] = true
		l.rules = append(l.rules, r)
		l.limits = append(l.limits, r.limit())
		l.shares = append(l.shares, r.limit().share(replicas))
	}
	if l.store == nil {
		l.store = NewMemory(l.now)
	} else {
		l.shared = true
		l.local = NewMemory(l.now)
	}
	return l, nil
}

// Request is what a limit check needs to know of a request.
type Request struct {
	Method string
	// Target is the tool name (for tools/call), or the prompt name or
	// resource URI: what principal+tool and tool rules key on.
	Target string
	// Identity is the authenticated principal; nil for an anonymous caller,
	// who is keyed on ClientAddr (the address after trustedProxies).
	Identity   *identity.Identity
	ClientAddr string
}

// Decision is a check's outcome.
type Decision struct {
	Allowed bool
	// Rule is the rule that rejected the request, or, when allowed, the
	// first rule that covered it ("" when none did).
	Rule string
	// RetryAfter is how long the caller should wait (rejected only).
	RetryAfter time.Duration
	// Fallback is true when the store was unreachable and onStoreFailure
	// decided.
	Fallback bool
	// index is Rule's position in Options.Rules (valid when Rule is set).
	index int
}

// addressIssuer is the issuer under which a client address is
// pseudonymized, so it can never collide with a principal's pseudonym.
const addressIssuer = "urn:mcpgate:client-address"

// Check applies every rule covering r.Method. A request must pass them all;
// a rule that admitted it has counted it even when a later one rejects.
func (l *Limiter) Check(ctx context.Context, r Request) Decision {
	d := Decision{Allowed: true}
	var who string
	for i := range l.rules {
		rule := &l.rules[i]
		if !rule.covers(r.Method) {
			continue
		}
		if d.Rule == "" {
			d.Rule, d.index = rule.Name, i
		}
		if who == "" && (rule.Per == PerPrincipal || rule.Per == PerPrincipalTool) {
			who = l.principalKey(r)
		}
		res, fallback := l.allow(ctx, i, bucketKey(rule, who, r.Target))
		d.Fallback = d.Fallback || fallback
		if !res.Allowed {
			return Decision{Rule: rule.Name, RetryAfter: res.RetryAfter, Fallback: d.Fallback, index: i}
		}
	}
	return d
}

func (l *Limiter) principalKey(r Request) string {
	if r.Identity == nil {
		h, _ := l.pseudo.Hash(addressIssuer, r.ClientAddr)
		return "a:" + h
	}
	h, _ := l.pseudo.Hash(r.Identity.Issuer, r.Identity.Subject)
	return "p:" + h
}

// bucketKey names a rule's bucket. The rule name comes first so that
// renaming a rule starts its buckets afresh rather than sharing another's.
func bucketKey(rule *Rule, who, target string) string {
	const prefix = "mcpgate:rl:"
	switch rule.Per {
	case PerPrincipal:
		return prefix + rule.Name + ":" + who
	case PerPrincipalTool:
		return prefix + rule.Name + ":" + who + ":" + target
	case PerTool:
		return prefix + rule.Name + "::" + target
	}
	return prefix + rule.Name
}

// allow asks the store, or the fallback while the store is down.
func (l *Limiter) allow(ctx context.Context, i int, key string) (Result, bool) {
	if !l.shared {
		res, _ := l.store.Allow(ctx, key, l.limits[i]) // Memory never fails
		return res, false
	}
	if l.down.Load() {
		// One request per probe interval tries the store; the others are
		// decided by the fallback without waiting on it.
		at, now := l.retryAt.Load(), l.now().UnixNano()
		if now < at || !l.retryAt.CompareAndSwap(at, now+int64(l.probe)) {
			return l.fallback(ctx, i, key), true
		}
	}
	res, err := l.store.Allow(ctx, key, l.limits[i])
	if err != nil {
		if ctx.Err() != nil {
			// The request went away; the store is not to blame.
			return l.fallback(ctx, i, key), true
		}
		l.storeDown(err)
		return l.fallback(ctx, i, key), true
	}
	if l.down.Load() {
		l.storeUp()
	}
	return res, false
}

func (l *Limiter) fallback(ctx context.Context, i int, key string) Result {
	l.fallen.Add(1)
	if l.onFall != nil {
		l.onFall(l.rules[i].Name, l.failure)
	}
	switch l.failure {
	case FailOpen:
		return Result{Allowed: true}
	case FailClosed:
		return Result{RetryAfter: l.probe}
	}
	res, _ := l.local.Allow(ctx, key, l.shares[i])
	return res
}

func (l *Limiter) storeDown(err error) {
	l.retryAt.Store(l.now().Add(l.probe).UnixNano())
	l.outageMu.Lock()
	defer l.outageMu.Unlock()
	if l.down.Load() {
		return // still down: the probe failed, already logged
	}
	l.down.Store(true)
	l.fallen.Store(0)
	l.log.Warn("rate-limit store unreachable; falling back until it answers again",
		"onStoreFailure", l.failure.String(), "error", err.Error())
	if l.onState != nil {
		l.onState(false)
	}
}

func (l *Limiter) storeUp() {
	l.outageMu.Lock()
	defer l.outageMu.Unlock()
	if !l.down.Load() {
		return
	}
	l.down.Store(false)
	l.log.Info("rate-limit store reachable again; limits are shared again",
		"fallbackDecisions", l.fallen.Load())
	if l.onState != nil {
		l.onState(true)
	}
}

// Pinger is a store that can be asked whether it answers (Redis).
type Pinger interface {
	Ping(ctx context.Context) error
}

// CheckStore asks a shared store that is a Pinger whether it answers, as
// at start-up: when it does not, the outage begins now — logged once,
// decided by the fallback meanwhile — rather than with the first request.
// It returns the store's error (nil without a shared store).
func (l *Limiter) CheckStore(ctx context.Context) error {
	p, ok := l.store.(Pinger)
	if !l.shared || !ok {
		return nil
	}
	if err := p.Ping(ctx); err != nil {
		l.storeDown(err)
		return err
	}
	return nil
}

// StoreUp reports whether the shared store answered last time it was asked
// (always true without a shared store).
func (l *Limiter) StoreUp() bool { return !l.down.Load() }
