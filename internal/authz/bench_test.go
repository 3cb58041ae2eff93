package authz

import (
	"fmt"
	"strings"
	"testing"
)

// policySet returns n policies shaped like a real deployment's: most scoped
// to one tool (indexed), every tenth scoped to the action alone with a
// condition on the resource (evaluated for every call), every
// twentieth a forbid.
func policySet(b *testing.B, n int, argumentRule bool) *PolicySet {
	var s strings.Builder
	for i := range n {
		switch {
		case i%20 == 0:
			fmt.Fprintf(&s, "@id(\"f%d\") forbid (principal is mcpgate::User, action == mcpgate::Action::\"tools/call\", resource == mcpgate::Tool::\"tool-%d\") when { principal.groups.contains(\"contractors\") };\n", i, i)
		case i%10 == 0:
			fmt.Fprintf(&s, "@id(\"c%d\") permit (principal is mcpgate::User, action == mcpgate::Action::\"tools/call\", resource) when { resource.backend == \"b%d\" && principal.groups.contains(\"g%d\") };\n", i, i, i)
		default:
			fmt.Fprintf(&s, "@id(\"p%d\") permit (principal is mcpgate::User, action == mcpgate::Action::\"tools/call\", resource == mcpgate::Tool::\"tool-%d\") when { principal.groups.contains(\"engineering\") };\n", i, i)
		}
	}
	// The examples' argument and annotation rules, so that a call's
	// arguments and hints are read.
	if argumentRule {
		s.WriteString(`@id("no-etc") forbid (principal, action == mcpgate::Action::"tools/call", resource) when { context.arguments has path && context.arguments.path like "/etc/*" };
`)
	}
	s.WriteString(`@id("no-destructive") forbid (principal is mcpgate::User, action == mcpgate::Action::"tools/call", resource) when { principal.groups.contains("contractors") } unless { resource.annotations has readOnlyHint && resource.annotations.readOnlyHint };
`)
	set, err := ParsePolicies(map[string][]byte{"bench.cedar": []byte(s.String())}, LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return set
}

func BenchmarkDecideToolsCall(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("policies=%d", n), func(b *testing.B) {
			e := NewWithSet(ModeEnforce, []string{"department"}, policySet(b, n, true))
			p := e.Principal(alice)
			req := Request{Method: "tools/call", Target: tool("tool-7", "b1", readOnly),
				Arguments: []byte(`{"path":"/home/alice/notes.txt","limit":20}`), Client: Client{ProtocolVersion: "2025-11-25", Name: "claude"}}
			if d := e.Decide(p, req); d.Effect != Allow {
				b.Fatalf("decision %+v", d)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				_ = e.Decide(p, req)
			}
		})
	}
	// No policy reads the arguments: they are not converted.
	b.Run("policies=100/no-argument-rule", func(b *testing.B) {
		e := NewWithSet(ModeEnforce, []string{"department"}, policySet(b, 100, false))
		p := e.Principal(alice)
		req := Request{Method: "tools/call", Target: tool("tool-7", "b1", readOnly),
			Arguments: []byte(`{"path":"/home/alice/notes.txt","limit":20}`), Client: Client{ProtocolVersion: "2025-11-25", Name: "claude"}}
		b.ReportAllocs()
		for b.Loop() {
			_ = e.Decide(p, req)
		}
	})
}

// BenchmarkPrincipal is the per-request cost of preparing the caller: a
// cached identity (authn shares one *Identity per cached token) and a new
// one.
func BenchmarkPrincipal(b *testing.B) {
	e := NewWithSet(ModeEnforce, []string{"department"}, policySet(b, 10, true))
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = e.Principal(dave)
		}
	})
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = NewPrincipal(dave, []string{"department"})
		}
	})
}

func toolsList(n int) []byte {
	var s strings.Builder
	s.WriteString(`{"tools":[`)
	for i := range n {
		if i > 0 {
			s.WriteByte(',')
		}
		fmt.Fprintf(&s, `{"name":"tool-%d","description":"Does thing %d to the repository.","inputSchema":{"type":"object","properties":{"path":{"type":"string"},"limit":{"type":"integer"}},"required":["path"]},"annotations":{"readOnlyHint":%v}}`, i, i, i%3 == 0)
	}
	s.WriteString(`],"nextCursor":"abc"}`)
	return []byte(s.String())
}

func BenchmarkFilterToolsList(b *testing.B) {
	list := toolsList(1000)
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("tools=1000/policies=%d", n), func(b *testing.B) {
			e := NewWithSet(ModeEnforce, nil, policySet(b, n, true))
			p := e.Principal(carol)
			out, st, err := e.FilterList(p, "tools/list", list, ListOptions{Backend: "b1"})
			if err != nil || st.Items != 1000 || st.Removed == 0 || len(out) >= len(list) {
				b.Fatalf("%+v %v", st, err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(list)))
			b.ResetTimer()
			for b.Loop() {
				_, _, _ = e.FilterList(p, "tools/list", list, ListOptions{Backend: "b1"})
			}
		})
	}
}
