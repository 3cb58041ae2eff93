package authz

import (
	"slices"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/internal/identity"
)

// TestExamples runs the worked examples of docs/authorization.md
// (testdata/examples.cedar) in enforce mode.
func TestExamples(t *testing.T) {
	e := examplesEngine(t, ModeEnforce)
	tests := []struct {
		name     string
		id       *identity.Identity
		req      Request
		want     Effect
		policies []string
	}{
		{"group-based allow: engineer calls a tool", alice,
			Request{Method: "tools/call", Target: tool("search", "web", readOnly)}, Allow, []string{"engineers-call-tools"}},
		{"no group: nothing permits", erin,
			Request{Method: "tools/call", Target: tool("search", "web", readOnly)}, Deny, nil},
		{"forbid overrides permit: engineer drops prod", alice,
			Request{Method: "tools/call", Target: tool("db_drop", "prod-db", destructive)}, Deny, []string{"no-prod-drop"}},
		{"same tool on another backend is permitted", alice,
			Request{Method: "tools/call", Target: tool("db_drop", "staging-db", destructive)}, Allow, []string{"engineers-call-tools"}},
		{"argument-based rule: path under /etc", alice,
			Request{Method: "tools/call", Target: tool("read_file", "files", readOnly), Arguments: []byte(`{"path":"/etc/shadow"}`)}, Deny, []string{"no-etc"}},
		{"argument-based rule: other path", alice,
			Request{Method: "tools/call", Target: tool("read_file", "files", readOnly), Arguments: []byte(`{"path":"/home/alice/notes"}`)}, Allow, []string{"engineers-call-tools"}},
		{"argument-based rule: no path argument", alice,
			Request{Method: "tools/call", Target: tool("list", "files", readOnly), Arguments: []byte(`{}`)}, Allow, []string{"engineers-call-tools"}},
		{"arguments beyond the bounds on the files backend", alice,
			Request{Method: "tools/call", Target: tool("read_file", "files", readOnly), Arguments: []byte(`{"path":"` + strings.Repeat("a", MaxArgumentString+1) + `"}`)}, Deny, []string{"files-need-visible-arguments"}},
		{"annotation-based: contractor, destructive tool", carol,
			Request{Method: "tools/call", Target: tool("delete_repo", "git", destructive)}, Deny, []string{"no-destructive-for-contractors"}},
		{"annotation-based: contractor, tool without hints is destructive by default", carol,
			Request{Method: "tools/call", Target: tool("mystery", "git", Annotations{})}, Deny, []string{"no-destructive-for-contractors"}},
		{"annotation-based: contractor, read-only tool", carol,
			Request{Method: "tools/call", Target: tool("search", "git", readOnly)}, Allow, []string{"contractors-call-tools"}},
		{"annotation-based: contractor, non-destructive write", carol,
			Request{Method: "tools/call", Target: tool("comment", "git", safeWrite)}, Allow, []string{"contractors-call-tools"}},
		{"anonymous: public tool", nil,
			Request{Method: "tools/call", Target: tool("public_time", "web", readOnly)}, Allow, []string{"anonymous-public-tools"}},
		{"anonymous: other tool", nil,
			Request{Method: "tools/call", Target: tool("search", "web", readOnly)}, Deny, nil},
		{"anonymous: no user policy applies (prompts)", nil,
			Request{Method: "prompts/get", Target: Target{Name: "greet", Backend: "web"}}, Deny, nil},
		{"prompts for users", erin,
			Request{Method: "prompts/get", Target: Target{Name: "greet", Backend: "web"}}, Allow, []string{"users-get-prompts"}},
		{"resource by uri pattern", erin,
			Request{Method: "resources/read", Target: Target{Name: "file:///docs/readme.md", Backend: "files"}}, Allow, []string{"docs-readable"}},
		{"resource by claim: hr", dave,
			Request{Method: "resources/read", Target: Target{Name: "file:///hr/salaries.csv", Backend: "files"}}, Allow, []string{"hr-by-claim"}},
		{"resource by claim: not hr", alice,
			Request{Method: "resources/read", Target: Target{Name: "file:///hr/salaries.csv", Backend: "files"}}, Deny, nil},
		{"scope-based: tasks", dave,
			Request{Method: "tasks/get", Target: Target{Backend: "git"}}, Allow, []string{"tasks-by-scope"}},
		{"scope-based: no scope", alice,
			Request{Method: "tasks/get", Target: Target{Backend: "git"}}, Deny, nil},
		{"unknown method, target the backend", alice,
			Request{Method: "vendor/thing", Target: Target{Backend: "git"}}, Deny, nil},
		{"completion on a prompt", erin,
			Request{Method: "completion/complete", Target: Target{Kind: KindPrompt, Name: "greet", Backend: "web"}}, Deny, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := e.Decide(e.Principal(tt.id), tt.req)
			if d.Effect != tt.want || !slices.Equal(d.Policies, tt.policies) || !d.Evaluated {
				t.Fatalf("Decide = %+v, want %v by %v", d, tt.want, tt.policies)
			}
			if d.Allowed() != (tt.want == Allow) {
				t.Fatalf("Allowed = %v", d.Allowed())
			}
			if len(d.Errored) > 0 {
				t.Fatalf("policies errored: %v", d.Errored)
			}
			leaks := append([]string{"alice", "carol", "dave", "erin", "principal", "when", "{", "@"}, e.Policies().IDs()...)
			for _, leak := range leaks {
				if strings.Contains(d.Reason, leak) {
					t.Fatalf("reason %q shows %q", d.Reason, leak)
				}
			}
		})
	}
}

func TestShadowMode(t *testing.T) {
	e := examplesEngine(t, ModeShadow)
	tests := []struct {
		name string
		id   *identity.Identity
		req  Request
		want Effect
	}{
		{"a deny is recorded, not enforced", carol, Request{Method: "tools/call", Target: tool("delete_repo", "git", destructive)}, ShadowDeny},
		{"nothing permits: shadow_deny", erin, Request{Method: "tools/call", Target: tool("search", "web", readOnly)}, ShadowDeny},
		{"an allow stays an allow", alice, Request{Method: "tools/call", Target: tool("search", "web", readOnly)}, Allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := e.Decide(e.Principal(tt.id), tt.req)
			if d.Effect != tt.want || !d.Allowed() || !d.Evaluated {
				t.Fatalf("Decide = %+v, want %v and allowed", d, tt.want)
			}
		})
	}
	if got := ShadowDeny.String(); got != "shadow_deny" {
		t.Fatalf("ShadowDeny = %q", got)
	}
}

func TestAdmittedByDefault(t *testing.T) {
	e := engineFor(t, ModeEnforce, `forbid (principal, action, resource);`)
	p := e.Principal(alice)
	for _, m := range []string{"initialize", "ping", "server/discover", "subscriptions/listen", "logging/setLevel",
		"notifications/initialized", "notifications/cancelled", "notifications/anything",
		"tools/list", "prompts/list", "resources/list", "resources/templates/list"} {
		t.Run(m, func(t *testing.T) {
			d := e.Decide(p, Request{Method: m})
			if d.Effect != Allow || d.Evaluated {
				t.Fatalf("Decide = %+v, want admitted without evaluation", d)
			}
		})
	}
	for _, m := range []string{"tools/call", "prompts/get", "resources/read", "resources/subscribe", "completion/complete", "tasks/get", "sampling/createMessage"} {
		t.Run(m+" is evaluated", func(t *testing.T) {
			if d := e.Decide(p, Request{Method: m, Target: Target{Name: "x", Backend: "b"}}); d.Effect != Deny || !d.Evaluated {
				t.Fatalf("Decide = %+v, want an evaluated deny", d)
			}
		})
	}
}

func TestModeOff(t *testing.T) {
	e, err := New(Options{Mode: ModeOff, Policies: []string{"/nonexistent/*.cedar"}})
	if err != nil {
		t.Fatalf("mode off reads no policy: %v", err)
	}
	if d := e.Decide(anonymous, Request{Method: "tools/call"}); d.Effect != Allow || d.Evaluated {
		t.Fatalf("Decide = %+v", d)
	}
	in := []byte(`{"tools":[{"name":"a"}]}`)
	out, st, err := e.FilterList(anonymous, "tools/list", in, ListOptions{})
	if err != nil || string(out) != string(in) || st != (ListStats{}) {
		t.Fatalf("FilterList = %s %+v %v", out, st, err)
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"": ModeOff, "off": ModeOff, "shadow": ModeShadow, "enforce": ModeEnforce} {
		if got, err := ParseMode(in); err != nil || got != want || (in != "" && got.String() != in) {
			t.Fatalf("ParseMode(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseMode("Enforce"); err == nil {
		t.Fatal("ParseMode accepted a miscased mode")
	}
}

func TestPrincipal(t *testing.T) {
	if !NewPrincipal(nil, nil).Anonymous() {
		t.Fatal("nil identity is not anonymous")
	}
	// An anonymous caller is never a user, even one whose subject is
	// "anonymous".
	e := engineFor(t, ModeEnforce, `permit (principal == mcpgate::User::"anonymous", action, resource);`)
	if d := e.Decide(e.Principal(nil), Request{Method: "tools/call", Target: tool("x", "b", readOnly)}); d.Effect != Deny {
		t.Fatalf("anonymous matched a user policy: %+v", d)
	}
	if d := e.Decide(e.Principal(user("anonymous")), Request{Method: "tools/call", Target: tool("x", "b", readOnly)}); d.Effect != Allow {
		t.Fatalf("user anonymous: %+v", d)
	}
	// Attributes as the schema declares them.
	e = engineFor(t, ModeEnforce, `permit (principal is mcpgate::User, action, resource) when {
		principal.issuer == "https://idp.example.com" && principal.subject == "dave" &&
		principal.method == "oidc" && principal.scopes.contains("mcp:tasks") &&
		principal.scopes.contains("openid") && principal.groups.isEmpty() &&
		principal.claims has department && !(principal.claims has scope) };`)
	if d := e.Decide(e.Principal(dave), Request{Method: "tasks/list", Target: Target{Backend: "b"}}); d.Effect != Allow {
		t.Fatalf("dave: %+v", d)
	}
	// scp as an array, API key without claims.
	id := &identity.Identity{Subject: "bot", Issuer: identity.APIKeyIssuer, Method: identity.MethodAPIKey, Groups: []string{"ci"}}
	e = engineFor(t, ModeEnforce, `permit (principal is mcpgate::User, action, resource) when { principal.method == "apiKey" && principal.groups.contains("ci") && principal.scopes.isEmpty() };`)
	if d := e.Decide(e.Principal(id), Request{Method: "tasks/list", Target: Target{Backend: "b"}}); d.Effect != Allow {
		t.Fatalf("api key: %+v", d)
	}
	scp := &identity.Identity{Subject: "s", Claims: map[string]any{"scp": []any{"a", "b", 3}}}
	if got := scopesOf(scp.Claims); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("scp scopes = %v", got)
	}
}

func TestErroredPoliciesNamedNotQuoted(t *testing.T) {
	// Cedar skips a policy whose evaluation fails; the decision names it
	// (never its message, which may quote the subject).
	s, err := ParsePolicies(map[string][]byte{"e.cedar": []byte(`
@id("needs-claim")
forbid (principal is mcpgate::User, action, resource) when { principal.claims.level > 3 };
@id("all")
permit (principal, action, resource);`)}, LoadOptions{AllowTypeErrors: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.TypeErrors) != 1 {
		t.Fatalf("TypeErrors = %v", s.TypeErrors)
	}
	e := NewWithSet(ModeEnforce, nil, s)
	d := e.Decide(e.Principal(alice), Request{Method: "tools/call", Target: tool("x", "b", readOnly)})
	if d.Effect != Allow || !slices.Equal(d.Errored, []string{"needs-claim"}) {
		t.Fatalf("Decide = %+v", d)
	}
}

// TestArgumentsSkippedOnlyWhenUnread: a request's arguments are converted
// only when a policy that can match may read them; every way of reading
// them is recognized, so skipping never changes a decision.
func TestArgumentsSkippedOnlyWhenUnread(t *testing.T) {
	tests := []struct {
		name   string
		policy string
		reads  bool
	}{
		{"attribute", `forbid (principal, action, resource) when { context.arguments has x };`, true},
		{"index", `forbid (principal, action, resource) when { context["arguments"] has x };`, true},
		{"truncation flag", `forbid (principal, action, resource) when { context.argumentsTruncated };`, true},
		{"has on the context", `forbid (principal, action, resource) when { context has arguments };`, true},
		{"the whole context", `forbid (principal, action, resource) when { context == {"arguments": {}, "argumentsTruncated": false, "listing": false, "protocolVersion": "", "clientName": ""} };`, true},
		{"the whole context in a set", `forbid (principal, action, resource) when { [context].contains(context) };`, true},
		{"other context attributes only", `forbid (principal, action, resource) when { context.clientName == "x" || context.listing };`, false},
		{"no context", `forbid (principal is mcpgate::User, action, resource) when { principal.groups.contains("x") };`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParsePolicies(map[string][]byte{"a.cedar": []byte(tt.policy + "\n@id(\"all\") permit (principal, action, resource);")}, LoadOptions{AllowTypeErrors: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := s.policies[0].readsArguments; got != tt.reads {
				t.Fatalf("readsArguments = %v, want %v (policy as cedar-go prints it: %s)", got, tt.reads, s.policies[0].p.MarshalCedar())
			}
		})
	}
	// The decision with a forbid on arguments, and its absence, both hold.
	e := engineFor(t, ModeEnforce, `@id("x") forbid (principal, action, resource) when { context.arguments has x };
@id("all") permit (principal, action, resource);`)
	for args, want := range map[string]Effect{`{"x":1}`: Deny, `{"y":1}`: Allow} {
		if d := e.Decide(anonymous, Request{Method: "tools/call", Target: tool("t", "b", readOnly), Arguments: []byte(args)}); d.Effect != want {
			t.Fatalf("%s: %+v", args, d)
		}
	}
}

func TestPrincipalCache(t *testing.T) {
	e := examplesEngine(t, ModeEnforce)
	a, b := e.Principal(dave), e.Principal(dave)
	if a.ent.UID != b.ent.UID || !a.ent.Attributes.Equal(b.ent.Attributes) {
		t.Fatal("cached principal differs")
	}
	other := *dave
	other.Subject = "dave2"
	if e.Principal(&other).ent.UID == a.ent.UID {
		t.Fatal("another identity got the cached principal")
	}
}
