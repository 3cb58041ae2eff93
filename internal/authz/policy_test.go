package authz

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string // substring of the error
	}{
		{"parse error names file, line and column", map[string]string{"a.cedar": "permit (principal, action, resource);\n\nforbid (principal, action resource);"},
			"a.cedar:3:35: parse error:"},
		{"type error: attribute no entity has", map[string]string{"a.cedar": "@id(\"x\")\npermit (principal is mcpgate::User, action, resource) when { principal.department == \"hr\" };"},
			"a.cedar:1: policy \"x\" does not type-check: attribute `department` on entity type `mcpgate::User` not found"},
		{"type error: groups on the anonymous principal", map[string]string{"a.cedar": "permit (principal, action == mcpgate::Action::\"tools/call\", resource) when { principal.groups.contains(\"a\") };"},
			"mcpgate::Anonymous"},
		{"type error: an action never evaluated (list methods are filtered, not decided)", map[string]string{"a.cedar": "permit (principal, action == mcpgate::Action::\"tools/list\", resource);"},
			"unrecognized action"},
		{"duplicate @id across files", map[string]string{"a.cedar": "@id(\"p\")\npermit (principal, action, resource);", "b.cedar": "@id(\"p\")\nforbid (principal, action, resource);"},
			`policy id "p" is already used at`},
		{"empty @id", map[string]string{"a.cedar": "@id(\"\")\npermit (principal, action, resource);"}, "@id is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			_, err := Load([]string{filepath.Join(dir, "*.cedar")}, LoadOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load error %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(tt.name, "parse") {
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Line != 3 || pe.Column != 35 || !strings.HasSuffix(pe.File, "a.cedar") {
					t.Fatalf("ParseError = %+v", pe)
				}
			}
		})
	}
	t.Run("pattern matching no file", func(t *testing.T) {
		_, err := Load([]string{filepath.Join(t.TempDir(), "*.cedar")}, LoadOptions{})
		if err == nil || !strings.Contains(err.Error(), "matches no file") {
			t.Fatalf("Load = %v", err)
		}
	})
	t.Run("no pattern", func(t *testing.T) {
		if _, err := Load(nil, LoadOptions{}); err == nil {
			t.Fatal("Load(nil) succeeded")
		}
	})
}

func TestPolicyIDs(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.cedar": "@id(\"named\")\npermit (principal, action, resource);\n\npermit (principal, action, resource); forbid (principal, action, resource) when { false };\n",
		"b.cedar": "forbid (principal, action, resource) when { false };\n",
	})
	s, err := Load([]string{filepath.Join(dir, "b.cedar"), filepath.Join(dir, "*.cedar")}, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := filepath.Join(dir, "a.cedar"), filepath.Join(dir, "b.cedar")
	want := []string{"named", a + ":4", a + ":4:39", b + ":1"}
	if got := s.IDs(); !slices.Equal(got, want) {
		t.Fatalf("IDs = %v, want %v", got, want)
	}
	if got := s.Files(); !slices.Equal(got, []string{a, b}) {
		t.Fatalf("Files = %v (a file named twice is read once)", got)
	}
	e := NewWithSet(ModeEnforce, nil, s)
	if d := e.Decide(anonymous, Request{Method: "tools/call", Target: tool("t", "b", readOnly)}); !slices.Equal(d.Policies, []string{"named", a + ":4"}) {
		t.Fatalf("determining policies = %v", d.Policies)
	}
}

func TestReloadKeepsOldSetOnError(t *testing.T) {
	dir := writeFiles(t, map[string]string{"p.cedar": `@id("v1") permit (principal, action, resource);`})
	pat := []string{filepath.Join(dir, "*.cedar")}
	e, err := New(Options{Mode: ModeEnforce, Policies: pat})
	if err != nil {
		t.Fatal(err)
	}
	req := Request{Method: "tools/call", Target: tool("t", "b", readOnly)}
	decided := func() []string { return e.Decide(anonymous, req).Policies }

	writeFiles := func(c string) {
		if err := os.WriteFile(filepath.Join(dir, "p.cedar"), []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeFiles(`@id("v2") permit (principal, action, resource);`)
	if _, err := e.Reload(pat); err != nil || !slices.Equal(decided(), []string{"v2"}) {
		t.Fatalf("reload: %v, policies %v", err, decided())
	}
	for _, broken := range []string{`permit (principal, action, resource`, `permit (principal, action, resource) when { principal.nope };`} {
		writeFiles(broken)
		if _, err := e.Reload(pat); err == nil {
			t.Fatalf("broken set %q loaded", broken)
		}
		if got := decided(); !slices.Equal(got, []string{"v2"}) {
			t.Fatalf("after a failed reload the policies are %v, want v2 kept", got)
		}
	}
}

func TestShippedSchemaParses(t *testing.T) {
	if _, err := validator(); err != nil {
		t.Fatal(err)
	}
	// Every example policy type-checks: Load refuses ill-typed sets.
	s, err := Load([]string{examples}, LoadOptions{})
	if err != nil || s.Len() != 11 {
		t.Fatalf("examples: %v (%d policies)", err, s.Len())
	}
}

// TestReloadWhileDeciding: requests decided during reloads see one whole
// set or the other (run with -race).
func TestReloadWhileDeciding(t *testing.T) {
	dir := writeFiles(t, map[string]string{"p.cedar": `@id("a") permit (principal, action, resource);`})
	pat := []string{filepath.Join(dir, "p.cedar")}
	e, err := New(Options{Mode: ModeEnforce, Policies: pat})
	if err != nil {
		t.Fatal(err)
	}
	sets := []string{`@id("a") permit (principal, action, resource);`, `@id("b") permit (principal, action, resource);`}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 50 {
			if err := os.WriteFile(pat[0], []byte(sets[i%2]), 0o600); err != nil {
				t.Error(err)
				return
			}
			if _, err := e.Reload(pat); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	req := Request{Method: "tools/call", Target: tool("t", "b", readOnly)}
	for {
		select {
		case <-done:
			return
		default:
		}
		d := e.Decide(anonymous, req)
		if d.Effect != Allow || len(d.Policies) != 1 || (d.Policies[0] != "a" && d.Policies[0] != "b") {
			t.Fatalf("decision during reload: %+v", d)
		}
	}
}
