package authz

import (
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"
)

// fullSet iterates every policy, as cedar.Authorize would without the index.
type fullSet struct{ s *PolicySet }

func (f fullSet) All() iter.Seq2[cedar.PolicyID, *cedar.Policy] {
	return func(yield func(cedar.PolicyID, *cedar.Policy) bool) {
		for _, p := range f.s.policies {
			if !yield(cedar.PolicyID(p.id), p.p) {
				return
			}
		}
	}
}

// TestIndexMatchesFullEvaluation checks that evaluating only the indexed
// candidates decides exactly as evaluating every policy does.
func TestIndexMatchesFullEvaluation(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	actions := []string{"tools/call", "prompts/get", "resources/read", "tasks/get"}
	tools := []string{"a", "b", "c"}
	var b strings.Builder
	for i := range 300 {
		effect := "permit"
		if r.IntN(4) == 0 {
			effect = "forbid"
		}
		var action string
		switch r.IntN(4) {
		case 0:
			action = "action"
		case 1:
			action = fmt.Sprintf("action == mcpgate::Action::%q", actions[r.IntN(len(actions))])
		case 2:
			action = fmt.Sprintf("action in [mcpgate::Action::%q, mcpgate::Action::%q]", actions[r.IntN(len(actions))], actions[r.IntN(len(actions))])
		default:
			action = fmt.Sprintf("action in mcpgate::Action::%q", actions[r.IntN(len(actions))])
		}
		var resource string
		switch r.IntN(4) {
		case 0:
			resource = "resource"
		case 1:
			resource = fmt.Sprintf("resource == mcpgate::Tool::%q", tools[r.IntN(len(tools))])
		case 2:
			resource = fmt.Sprintf("resource in mcpgate::Tool::%q", tools[r.IntN(len(tools))])
		default:
			resource = "resource is mcpgate::Tool"
		}
		cond := ""
		if r.IntN(2) == 0 {
			cond = fmt.Sprintf(` when { principal is mcpgate::User && principal.groups.contains("g%d") }`, r.IntN(3))
		}
		fmt.Fprintf(&b, "@id(\"p%d\")\n%s (principal, %s, %s)%s;\n", i, effect, action, resource, cond)
	}
	s, err := ParsePolicies(map[string][]byte{"rand.cedar": []byte(b.String())}, LoadOptions{AllowTypeErrors: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		p := NewPrincipal(user("u", fmt.Sprintf("g%d", r.IntN(3))), nil)
		if i%5 == 0 {
			p = anonymous
		}
		method := actions[r.IntN(len(actions))]
		tgt := Target{Kind: KindFor(method), Name: tools[r.IntN(len(tools))], Backend: "x"}
		if r.IntN(4) == 0 {
			tgt.Kind = KindTool
		}
		res := tgt.entity()
		ctx := contextRecord(types.Record{}, false, false, Client{})
		got, d := s.authorize(p, method, res, ctx, true)
		action := types.NewEntityUID(TypeAction, types.String(method))
		dec, diag := cedar.Authorize(fullSet{s}, &entities{principal: &p.ent, resource: &res},
			cedar.Request{Principal: p.ent.UID, Action: action, Resource: res.UID, Context: ctx})
		var want []string
		for _, r := range diag.Reasons {
			want = append(want, string(r.PolicyID))
		}
		slices.Sort(want)
		gotIDs := slices.Clone(d.Policies)
		slices.Sort(gotIDs)
		if got != (dec == cedar.Allow) || !slices.Equal(gotIDs, want) {
			t.Fatalf("request %d (%s on %v): indexed %v %v, full %v %v", i, method, res.UID, got, gotIDs, dec, want)
		}
	}
}
