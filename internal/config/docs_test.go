package config

import (
	"os"
	"regexp"
	"testing"
)

// TestDocsExample parses the annotated example in docs/configuration.md.
func TestDocsExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Skip(err)
	}
	m := regexp.MustCompile("(?s)## Annotated full example.*?```yaml\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("example not found in docs/configuration.md")
	}
	if _, err := Parse("/etc/mcpgate/mcpgate.yaml", m[1], fakeLookup(map[string]string{"SEARCH_TOKEN": "x", "MCPGATE_SESSION_S2": testKey, "MCPGATE_SESSION_S1": testKey}, nil)); err != nil {
		t.Fatalf("docs example: %v", err)
	}
}
