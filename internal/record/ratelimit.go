package record

// RateLimit is what the rate-limit stage decided for one message. It
// fits in the padding after Op.Kind, so that neither Op nor the Record
// holding one inline changes its allocation size class: the rule is an
// index, and the reporters are given the names (RuleName).
type RateLimit struct {
	Decision RateLimitDecision
	// Rule is 1 + the index in rateLimits.rules of the rule that decided:
	// the one that rejected the message, or when admitted the first that
	// covered it; 0 when no rule covered it.
	Rule uint8
}

// RuleName is the name of the rule that decided, from rules (the
// configured names in order); "" when none did.
func (r RateLimit) RuleName(rules []string) string {
	if r.Rule == 0 || int(r.Rule) > len(rules) {
		return ""
	}
	return rules[r.Rule-1]
}

// RateLimitDecision is a rate-limit check's outcome for one message.
type RateLimitDecision uint8

const (
	// RateLimitNone: no rule covers the message's method, or it was not
	// checked (a notification, a response, or a message after the one a
	// batch was rejected for).
	RateLimitNone RateLimitDecision = iota
	RateLimitAllowed
	RateLimitLimited
	// RateLimitAllowedFallback and RateLimitLimitedFallback: the shared
	// store was unreachable and onStoreFailure decided (each replica's
	// local share, open or closed).
	RateLimitAllowedFallback
	RateLimitLimitedFallback
)

// String is the decision as mcpgate.ratelimit.decision writes it; "" for
// RateLimitNone.
func (d RateLimitDecision) String() string {
	switch d {
	case RateLimitAllowed:
		return "allowed"
	case RateLimitLimited:
		return "limited"
	case RateLimitAllowedFallback:
		return "allowed_fallback"
	case RateLimitLimitedFallback:
		return "limited_fallback"
	}
	return ""
}

// RateLimitDecisions lists every decision but RateLimitNone, for whoever
// prepares one metric attribute set per decision.
var RateLimitDecisions = [...]RateLimitDecision{RateLimitAllowed, RateLimitLimited, RateLimitAllowedFallback, RateLimitLimitedFallback}

// RateLimited returns the message of r that a rate limit rejected, or nil.
func (r *Record) RateLimited() *Op {
	for i := range r.Ops {
		if d := r.Ops[i].RateLimit.Decision; d == RateLimitLimited || d == RateLimitLimitedFallback {
			return &r.Ops[i]
		}
	}
	return nil
}
