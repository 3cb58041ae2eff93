package audit

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/internal/record"
)

// TestAuthzDecisions: each event carries its message's decision and the
// mode; a denied request is one rejected event with the first denial;
// nothing of it names the principal.
func TestAuthzDecisions(t *testing.T) {
	deny := &record.Authz{Effect: record.AuthzDeny, Mode: "enforce", Evaluated: true, Policies: []string{"no-drop"}}
	allow := &record.Authz{Effect: record.AuthzAllow, Mode: "enforce", Evaluated: true, Policies: []string{"eng-tools"}}
	withAuthz := func(op record.Op, a *record.Authz) record.Op { op.Authz = a; return op }
	tests := []struct {
		name string
		rec  record.Record
		want []map[string]any // each event's authz; nil: absent
		kind []string
	}{
		{"allowed call", record.Record{HTTPMethod: "POST", Status: 200, Identity: alice,
			Ops: []record.Op{withAuthz(answeredOK(toolCall("7", "echo")), allow)}},
			[]map[string]any{{"decision": "allow", "mode": "enforce", "policies": []any{"eng-tools"}}}, []string{"tool_call"}},
		{"shadow deny", record.Record{HTTPMethod: "POST", Status: 200, Identity: alice,
			Ops: []record.Op{withAuthz(answeredOK(toolCall("7", "drop")), &record.Authz{Effect: record.AuthzShadowDeny, Mode: "shadow", Evaluated: true})}},
			[]map[string]any{{"decision": "shadow_deny", "mode": "shadow"}}, []string{"tool_call"}},
		{"denied batch", record.Record{HTTPMethod: "POST", Status: 403, Identity: alice, Batch: true,
			Reason: record.ReasonAccessDenied, Detail: "authz: tools/call denied by policy",
			Ops: []record.Op{withAuthz(toolCall("1", "echo"), allow), withAuthz(toolCall("2", "drop"), deny)}},
			[]map[string]any{{"decision": "deny", "mode": "enforce", "policies": []any{"no-drop"}}}, []string{"rejected"}},
		{"authz off", record.Record{HTTPMethod: "POST", Status: 200, Identity: alice,
			Ops: []record.Op{answeredOK(toolCall("7", "echo"))}},
			[]map[string]any{nil}, []string{"tool_call"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := tt.rec
			rec.Start = t0
			log, evs := report(t, ReportOptions{Principal: PrincipalHashed, Hash: func(_, _ string) (string, string) { return "00ff", "k1" }}, &rec)
			if len(evs) != len(tt.want) {
				t.Fatalf("%d events, want %d: %v", len(evs), len(tt.want), evs)
			}
			for i, w := range tt.want {
				got, _ := evs[i]["authz"].(map[string]any)
				if w == nil && got != nil || w != nil && !reflect.DeepEqual(got, w) {
					t.Errorf("event %d: authz %v, want %v", i, got, w)
				}
				if evs[i]["event"] != tt.kind[i] {
					t.Errorf("event %d: %v, want %s", i, evs[i]["event"], tt.kind[i])
				}
			}
			if rec.Reason == record.ReasonAccessDenied && (evs[0]["outcome"] != "denied" || get(evs[0], "error", "type") != "access_denied") {
				t.Errorf("denied request: %v", evs[0])
			}
			if strings.Contains(log, alice.Subject) {
				t.Errorf("hashed mode: the log carries the subject: %s", log)
			}
		})
	}
}
