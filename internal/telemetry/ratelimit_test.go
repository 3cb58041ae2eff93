package telemetry

import (
	"net/http"
	"testing"

	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// TestRateLimitAttributes: a SERVER span carries its message's rate-limit
// decision and rule name; mcpgate.ratelimit.decisions counts each by rule
// and decision, and nothing else; a message no rule covered has neither.
func TestRateLimitAttributes(t *testing.T) {
	rules := []string{"per-user", "global"}
	tests := []struct {
		name       string
		rl         record.RateLimit
		limited    bool
		wantSpan   map[string]string // the rate-limit attributes of the span
		wantMetric map[string]string // nil: no data point
	}{
		{"allowed", record.RateLimit{Decision: record.RateLimitAllowed, Rule: 1}, false,
			map[string]string{"mcpgate.ratelimit.decision": "allowed", "mcpgate.ratelimit.rule": "per-user"},
			map[string]string{"mcpgate.ratelimit.decision": "allowed", "mcpgate.ratelimit.rule": "per-user", "#value": "1"}},
		{"limited", record.RateLimit{Decision: record.RateLimitLimited, Rule: 2}, true,
			map[string]string{"mcpgate.ratelimit.decision": "limited", "mcpgate.ratelimit.rule": "global", "error.type": "rate_limited"},
			map[string]string{"mcpgate.ratelimit.decision": "limited", "mcpgate.ratelimit.rule": "global", "#value": "1"}},
		{"decided by the fallback", record.RateLimit{Decision: record.RateLimitAllowedFallback, Rule: 1}, false,
			map[string]string{"mcpgate.ratelimit.decision": "allowed_fallback", "mcpgate.ratelimit.rule": "per-user"},
			map[string]string{"mcpgate.ratelimit.decision": "allowed_fallback", "mcpgate.ratelimit.rule": "per-user", "#value": "1"}},
		{"no rule covered it", record.RateLimit{}, false, map[string]string{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, InstrumentOptions{RateLimitRules: rules}, nil)
			relay := answer(func(rec *record.Record) { rec.Ops[0].RateLimit = tt.rl })
			if tt.limited {
				relay = func(w http.ResponseWriter, r *http.Request) {
					rec := record.FromContext(r.Context())
					rec.Ops[0].RateLimit = tt.rl
					rec.Fail(record.ReasonRateLimited, "rate limited")
					mcpwire.WriteError(w, http.StatusTooManyRequests, rec.RequestID(), -32029, "rate limited")
				}
			}
			h.serve(post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`), relay)
			spans := h.spans.Ended()
			if len(spans) != 1 {
				t.Fatalf("%d spans", len(spans))
			}
			got := attrs(spans[0].Attributes())
			for _, k := range []string{"mcpgate.ratelimit.decision", "mcpgate.ratelimit.rule", "error.type"} {
				if got[k] != tt.wantSpan[k] {
					t.Errorf("span %s = %q, want %q", k, got[k], tt.wantSpan[k])
				}
			}
			points := h.collect(t, MetricRateLimitDecisions)
			if tt.wantMetric == nil {
				if len(points) != 0 {
					t.Errorf("decision points %v, want none", points)
				}
				return
			}
			diffAttrs(t, "decisions", one(t, points), tt.wantMetric)
		})
	}
}

// TestRateLimitFallbacks: each fallback is counted by rule and mode; a
// name that is not a configured rule or mode is never a label.
func TestRateLimitFallbacks(t *testing.T) {
	h := newHarness(t, InstrumentOptions{RateLimitRules: []string{"per-user"}}, nil)
	h.tel.RateLimitFallback("per-user", "local")
	h.tel.RateLimitFallback("per-user", "local")
	h.tel.RateLimitFallback("someone-else", "local")
	h.tel.RateLimitFallback("per-user", "sideways")
	diffAttrs(t, "fallbacks", one(t, h.collect(t, MetricRateLimitFallbacks)), map[string]string{
		"mcpgate.ratelimit.rule": "per-user", "mcpgate.ratelimit.on_store_failure": "local", "#value": "2"})
	var nilTel *Telemetry
	nilTel.RateLimitFallback("per-user", "local")
}
