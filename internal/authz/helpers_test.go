package authz

import (
	"testing"

	"github.com/mcpgate/mcpgate/internal/identity"
)

const examples = "testdata/examples.cedar"

func examplesEngine(t testing.TB, mode Mode) *Engine {
	t.Helper()
	e, err := New(Options{Mode: mode, Policies: []string{examples}, Claims: []string{"department"}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func engineFor(t testing.TB, mode Mode, text string) *Engine {
	t.Helper()
	s, err := ParsePolicies(map[string][]byte{"test.cedar": []byte(text)}, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return NewWithSet(mode, []string{"department"}, s)
}

func user(sub string, groups ...string) *identity.Identity {
	return &identity.Identity{Subject: sub, Issuer: "https://idp.example.com", Groups: groups, Method: identity.MethodOIDC,
		Claims: map[string]any{"sub": sub}}
}

var (
	alice = user("alice", "engineering")
	carol = user("carol", "contractors")
	dave  = &identity.Identity{Subject: "dave", Issuer: "https://idp.example.com", Method: identity.MethodOIDC,
		Claims: map[string]any{"department": "hr", "scope": "openid mcp:tasks"}}
	erin = user("erin") // signed in, no group
)

func tool(name, backend string, a Annotations) Target {
	return Target{Kind: KindTool, Name: name, Backend: backend, Annotations: a}
}

var (
	readOnly    = Annotations{ReadOnly: HintTrue}
	destructive = Annotations{Destructive: HintTrue}
	safeWrite   = Annotations{ReadOnly: HintFalse, Destructive: HintFalse}
)
