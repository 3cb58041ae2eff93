package authz

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzParsePolicies: any document either loads or fails with an error,
// never a panic (the parser and the experimental validator both run), and a
// set that loads can be evaluated.
func FuzzParsePolicies(f *testing.F) {
	for _, s := range []string{
		`permit (principal, action, resource);`,
		`@id("x") forbid (principal is mcpgate::User, action == mcpgate::Action::"tools/call", resource) when { principal.groups.contains("a") } unless { resource.annotations has readOnlyHint };`,
		`permit (principal, action in [mcpgate::Action::"tasks/get"], resource is mcpgate::Backend) when { context.arguments has x && context.arguments.x like "*a*" };`,
		`permit (principal, action, resource == mcpgate::Tool::"t") when { resource.backend == "b" && context.protocolVersion == "2025-11-25" };`,
		`permit (principal, action, resource) when { 1 + };`,
		`@id("a") @id("b") permit (principal, action, resource);`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		s, err := ParsePolicies(map[string][]byte{"f.cedar": []byte(doc)}, LoadOptions{AllowTypeErrors: true})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		e := NewWithSet(ModeEnforce, []string{"department"}, s)
		d := e.Decide(e.Principal(alice), Request{Method: "tools/call", Target: tool("t", "b", readOnly), Arguments: []byte(`{"x":"a"}`)})
		if d.Effect == ShadowDeny {
			t.Fatal("shadow_deny in enforce mode")
		}
		e.AllowItem(anonymous, "resources/read", Target{Name: "file:///x"}, Client{})
	})
}

// FuzzConvertArguments: any input converts within the bounds, and input
// encoding/json accepts as an object is never reported malformed unless
// it lies beyond a bound.
func FuzzConvertArguments(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"a":{"b":[1,"x",true,null,1.25]}}`, `{"p\u0061":"\ud83d\ude00"}`, `[1]`, `{"a":1e400}`, `{"a":"` + "\xff" + `"}`} {
		f.Add([]byte(s))
	}
	e := examplesEngine(f, ModeEnforce)
	f.Fuzz(func(t *testing.T, in []byte) {
		rec, truncated := convertArguments(in)
		if n := countValues(rec); n > MaxArgumentValues {
			t.Fatalf("%d values, bound %d", n, MaxArgumentValues)
		}
		if d := depthOf(rec); d > MaxArgumentDepth {
			t.Fatalf("depth %d, bound %d", d, MaxArgumentDepth)
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(in, &obj) == nil && !truncated && len(obj) > 0 && rec.Len() == 0 {
			// Every member was null, or the document was rejected.
			for _, v := range obj {
				if string(v) != "null" {
					t.Fatalf("object %q converted to an empty record without truncation", in)
				}
			}
		}
		_ = e.Decide(e.Principal(carol), Request{Method: "tools/call", Target: tool("read_file", "files", readOnly), Arguments: in})
	})
}

// FuzzFilterList: what FilterList accepts is valid JSON (but for invalid
// UTF-8 in strings it does not read) and so is what it returns; the output
// is never longer than the input and holds no item the engine denies.
func FuzzFilterList(f *testing.F) {
	for _, s := range []string{`{"tools":[{"name":"public_a"},{"name":"b"}],"nextCursor":"x"}`, `{"tools":[]}`, `{"Tools":[{"NAME":"public_x","name":"y"}]}`, `{}`} {
		f.Add([]byte(s))
	}
	e := examplesEngine(f, ModeEnforce)
	f.Fuzz(func(t *testing.T, in []byte) {
		out, st, err := e.FilterList(anonymous, "tools/list", in, ListOptions{})
		if err != nil {
			return
		}
		if len(out) > len(in) {
			t.Fatalf("output longer than input: %q → %q", in, out)
		}
		if !json.Valid(out) && utf8.Valid(in) {
			t.Fatalf("%q accepted and filtered to invalid JSON %q", in, out)
		}
		if st.Removed > st.Items {
			t.Fatalf("stats %+v", st)
		}
		if st.Removed == 0 && string(out) != string(in) {
			t.Fatalf("nothing removed but bytes changed")
		}
		var r struct {
			Tools []struct {
				Name string `json:"name"`
			} `json:"tools"`
		}
		if json.Unmarshal(out, &r) == nil {
			for _, it := range r.Tools {
				if !e.AllowItem(anonymous, "tools/call", Target{Name: it.Name}, Client{}) {
					t.Fatalf("denied tool %q left in %q", it.Name, out)
				}
			}
		}
	})
}
