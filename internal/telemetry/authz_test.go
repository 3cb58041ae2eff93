package telemetry

import (
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/record"
)

// TestAuthzDecisions: the decision the authz stage wrote on an op is on
// its SERVER span (decision and policy ids) and counted by decision and
// bounded method, and neither carries the principal.
func TestAuthzDecisions(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		authz      *record.Authz
		wantSpan   map[string]string // the authz attributes; nil: none
		wantMetric map[string]string // nil: no point
	}{
		{"deny", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"drop"}}`,
			&record.Authz{Effect: record.AuthzDeny, Mode: "enforce", Evaluated: true, Policies: []string{"no-drop", "p.cedar:7"}},
			map[string]string{"mcpgate.authz.decision": "deny", "mcpgate.authz.policies": `["no-drop","p.cedar:7"]`},
			map[string]string{"mcpgate.authz.decision": "deny", "mcp.method.name": "tools/call", "#value": "1"}},
		{"shadow deny", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"drop"}}`,
			&record.Authz{Effect: record.AuthzShadowDeny, Mode: "shadow", Evaluated: true},
			map[string]string{"mcpgate.authz.decision": "shadow_deny"},
			map[string]string{"mcpgate.authz.decision": "shadow_deny", "mcp.method.name": "tools/call", "#value": "1"}},
		{"unknown method bounded", `{"jsonrpc":"2.0","id":1,"method":"x/secret-alice","params":{}}`,
			&record.Authz{Effect: record.AuthzAllow, Mode: "enforce", Evaluated: true, Policies: []string{"any"}},
			map[string]string{"mcpgate.authz.decision": "allow", "mcpgate.authz.policies": `["any"]`},
			map[string]string{"mcpgate.authz.decision": "allow", "mcp.method.name": "_OTHER", "#value": "1"}},
		{"filtered list", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
			&record.Authz{Effect: record.AuthzAllow, Mode: "shadow", Evaluated: true, ItemsDenied: 3},
			map[string]string{"mcpgate.authz.decision": "allow", "mcpgate.authz.items_denied": "3"},
			map[string]string{"mcpgate.authz.decision": "allow", "mcp.method.name": "tools/list", "#value": "1"}},
		{"off", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`, nil, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, InstrumentOptions{}, nil)
			h.serve(post(tc.body), answer(func(r *record.Record) {
				r.Identity = &identity.Identity{Subject: "alice-subject", Issuer: "https://idp", Method: identity.MethodOIDC}
				r.Ops[0].Authz = tc.authz
			}))
			spans := h.spans.Ended()
			if len(spans) != 1 {
				t.Fatalf("%d spans", len(spans))
			}
			got := attrs(spans[0].Attributes())
			for k, v := range got {
				if strings.Contains(v, "alice-subject") {
					t.Errorf("span attribute %s carries the subject", k)
				}
			}
			for _, k := range []string{"mcpgate.authz.decision", "mcpgate.authz.policies", "mcpgate.authz.items_denied"} {
				if w, ok := tc.wantSpan[k]; ok != (got[k] != "") || got[k] != w {
					t.Errorf("span %s=%q, want %q", k, got[k], w)
				}
			}
			points := h.collect(t, MetricAuthzDecisions)
			if tc.wantMetric == nil {
				if len(points) != 0 {
					t.Fatalf("points %v with authz off", points)
				}
				return
			}
			diffAttrs(t, "authz decisions", one(t, points), tc.wantMetric)
		})
	}
}
