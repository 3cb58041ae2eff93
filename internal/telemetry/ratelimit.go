package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/mcpgate/mcpgate/internal/record"
)

// Rate-limit instruments and attributes. A rule name is operator-bounded
// (rateLimits.rules, at most 255), so it may label a metric; nothing
// about the caller does.
const (
	MetricRateLimitDecisions = "mcpgate.ratelimit.decisions"
	MetricRateLimitFallbacks = "mcpgate.ratelimit.store.fallbacks"

	keyRateLimitDecision       = attribute.Key("mcpgate.ratelimit.decision")
	keyRateLimitRule           = attribute.Key("mcpgate.ratelimit.rule")
	keyRateLimitOnStoreFailure = attribute.Key("mcpgate.ratelimit.on_store_failure")
)

// onStoreFailureModes are the values of mcpgate.ratelimit.on_store_failure.
var onStoreFailureModes = [...]string{"local", "open", "closed"}

// rateLimits holds the rate-limit instruments and, built once, the
// attribute set of every (rule, decision) and (rule, mode), so that
// counting allocates nothing.
type rateLimits struct {
	rules     []string
	decisions metric.Int64Counter
	fallbacks metric.Int64Counter
	// byDecision[rule index][decision]; byMode[rule name][mode index].
	byDecision [][len(record.RateLimitDecisions) + 1]metric.AddOption
	byMode     map[string][len(onStoreFailureModes)]metric.AddOption
}

func newRateLimits(m metric.Meter, rules []string) (*rateLimits, error) {
	rl := &rateLimits{rules: rules, byMode: make(map[string][len(onStoreFailureModes)]metric.AddOption, len(rules))}
	var err1, err2 error
	rl.decisions, err1 = m.Int64Counter(MetricRateLimitDecisions, metric.WithUnit("{message}"),
		metric.WithDescription("Rate-limit decisions on request messages a rule covers, by rule and decision."))
	rl.fallbacks, err2 = m.Int64Counter(MetricRateLimitFallbacks, metric.WithUnit("{decision}"),
		metric.WithDescription("Rate-limit checks decided without the shared store (unreachable), by rule and onStoreFailure."))
	if err1 != nil {
		return nil, err1
	}
	if err2 != nil {
		return nil, err2
	}
	rl.byDecision = make([][len(record.RateLimitDecisions) + 1]metric.AddOption, len(rules))
	for i, name := range rules {
		for _, d := range record.RateLimitDecisions {
			rl.byDecision[i][d] = metric.WithAttributeSet(attribute.NewSet(keyRateLimitRule.String(name), keyRateLimitDecision.String(d.String())))
		}
		var modes [len(onStoreFailureModes)]metric.AddOption
		for j, mode := range onStoreFailureModes {
			modes[j] = metric.WithAttributeSet(attribute.NewSet(keyRateLimitRule.String(name), keyRateLimitOnStoreFailure.String(mode)))
		}
		rl.byMode[name] = modes
	}
	return rl, nil
}

// record counts the decision of every message of rec a rule covered.
func (rl *rateLimits) record(ctx context.Context, rec *record.Record) {
	for i := range rec.Ops {
		d := rec.Ops[i].RateLimit
		if d.Decision == record.RateLimitNone || d.Rule == 0 || int(d.Rule) > len(rl.byDecision) || int(d.Decision) > len(record.RateLimitDecisions) {
			continue
		}
		rl.decisions.Add(ctx, 1, rl.byDecision[d.Rule-1][d.Decision])
	}
}

// RateLimitFallback counts one check of rule decided without the shared
// store, by onStoreFailure mode (local, open or closed)
// (mcpgate.ratelimit.store.fallbacks): the limiter's OnFallback hook. Safe
// for concurrent use and on a nil *Telemetry.
func (t *Telemetry) RateLimitFallback(rule, mode string) {
	if t == nil || t.rl == nil {
		return
	}
	modes, ok := t.rl.byMode[rule]
	if !ok {
		return // not a configured rule: never a label of its own
	}
	for j, m := range onStoreFailureModes {
		if m == mode {
			t.rl.fallbacks.Add(context.Background(), 1, modes[j])
			return
		}
	}
}

// appendRateLimit appends a message's rate-limit decision and rule.
func (t *Telemetry) appendRateLimit(kv []attribute.KeyValue, op *record.Op) []attribute.KeyValue {
	d := op.RateLimit
	if d.Decision == record.RateLimitNone {
		return kv
	}
	kv = append(kv, keyRateLimitDecision.String(d.Decision.String()))
	if name := d.RuleName(t.opts.RateLimitRules); name != "" {
		kv = append(kv, keyRateLimitRule.String(name))
	}
	return kv
}
