package authz

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDraftDocShowsWhatShips keeps docs/authorization.md true: it shows the
// shipped schema and the example policies verbatim, and every test case it
// points to exists.
func TestDraftDocShowsWhatShips(t *testing.T) {
	doc, err := os.ReadFile("../../docs/authorization.md")
	if err != nil {
		t.Fatal(err)
	}
	ex, err := os.ReadFile(examples)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{"schema": SchemaText, "examples": ex} {
		if !strings.Contains(string(doc), string(want)) {
			t.Errorf("docs/authorization.md does not show the %s as shipped", name)
		}
	}
	var tests []byte
	for _, f := range []string{"engine_test.go", "list_test.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tests = append(tests, b...)
	}
	row := regexp.MustCompile(`(?m)^\|[^|]*\|[^|]*\|[^|]*\| (?:Test\w+: )?([^|]+?) \|$`)
	n := 0
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		c := m[1]
		if c == "Test case" || strings.HasPrefix(c, "~") || c == "Allocations" {
			continue
		}
		n++
		if !strings.Contains(string(tests), `"`+c) {
			t.Errorf("docs/authorization.md points to test case %q, which does not exist", c)
		}
	}
	if n < 10 {
		t.Fatalf("found %d example rows", n)
	}
	for _, bound := range []string{"64 KiB", "| 8 |", "| 256 |", "4096 bytes"} {
		if !strings.Contains(string(doc), bound) {
			t.Errorf("bound %q not documented", bound)
		}
	}
	if MaxArgumentBytes != 64<<10 || MaxArgumentDepth != 8 || MaxArgumentValues != 256 || MaxArgumentString != 4096 {
		t.Error("the bounds changed: update docs/authorization.md")
	}
}
