package audit

import (
	"testing"

	"github.com/mcpgate/mcpgate/internal/record"
)

// TestRateLimitEvents: a message a rule covered carries rateLimit with
// the decision and the rule's name; a request a rule rejected is one
// rejected event, outcome denied, error.type rate_limited, naming the
// message that was limited; a message no rule covered has no rateLimit.
func TestRateLimitEvents(t *testing.T) {
	rules := []string{"per-user", "global"}
	limited := func(o record.Op, rule uint8) record.Op {
		o.RateLimit = record.RateLimit{Decision: record.RateLimitLimited, Rule: rule}
		return o
	}
	allowed := func(o record.Op, d record.RateLimitDecision) record.Op {
		o.RateLimit = record.RateLimit{Decision: d, Rule: 1}
		return o
	}
	type want struct{ event, outcome, errType, decision, rule string }
	tests := []struct {
		name string
		rec  record.Record
		want []want
	}{
		{"admitted", record.Record{HTTPMethod: "POST", Status: 200, Identity: alice,
			Ops: []record.Op{allowed(answeredOK(toolCall("7", "search")), record.RateLimitAllowed)}},
			[]want{{event: "tool_call", outcome: "success", decision: "allowed", rule: "per-user"}}},
		{"admitted by the fallback", record.Record{HTTPMethod: "POST", Status: 200, Identity: alice,
			Ops: []record.Op{allowed(answeredOK(toolCall("7", "search")), record.RateLimitAllowedFallback)}},
			[]want{{event: "tool_call", outcome: "success", decision: "allowed_fallback", rule: "per-user"}}},
		{"not covered", record.Record{HTTPMethod: "POST", Status: 200, Identity: alice,
			Ops: []record.Op{answeredOK(op("request", "tools/list", "1"))}},
			[]want{{event: "tools_list", outcome: "success"}}},
		{"rejected", record.Record{HTTPMethod: "POST", Status: 429, Identity: alice,
			Reason: record.ReasonRateLimited, Detail: `rate limited by rule "global": retry after 3s`,
			Ops: []record.Op{limited(toolCall("7", "search"), 2)}},
			[]want{{event: "rejected", outcome: "denied", errType: "rate_limited", decision: "limited", rule: "global"}}},
		{"a rejected batch names the limited message", record.Record{HTTPMethod: "POST", Status: 429, Identity: alice, Batch: true,
			Reason: record.ReasonRateLimited,
			Ops:    []record.Op{allowed(toolCall("1", "a"), record.RateLimitAllowed), limited(toolCall("2", "b"), 2), toolCall("3", "c")}},
			[]want{{event: "rejected", outcome: "denied", errType: "rate_limited", decision: "limited", rule: "global"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, events := report(t, ReportOptions{RateLimitRules: rules}, &tt.rec)
			if len(events) != len(tt.want) {
				t.Fatalf("%d events, want %d: %v", len(events), len(tt.want), events)
			}
			for i, w := range tt.want {
				e := events[i]
				str := func(path ...string) string { s, _ := get(e, path...).(string); return s }
				got := want{str("event"), str("outcome"), str("error", "type"), str("rateLimit", "decision"), str("rateLimit", "rule")}
				if got != w {
					t.Errorf("event %d: %+v, want %+v", i, got, w)
				}
				if w.decision == "" && get(e, "rateLimit") != nil {
					t.Errorf("event %d has rateLimit: %v", i, e)
				}
			}
		})
	}
}
