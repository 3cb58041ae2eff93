package telemetry

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestCatalogLearn(t *testing.T) {
	tests := []struct {
		name, method, result string
		tools, prompts       []string // known afterwards
		notTools             []string
	}{
		{name: "tools", method: "tools/list", result: `{"tools":[{"name":"echo"},{"name":"get-sum","inputSchema":{}}],"nextCursor":"x"}`,
			tools: []string{"echo", "get-sum"}},
		{name: "prompts", method: "prompts/list", result: `{"prompts":[{"name":"greet"}]}`, prompts: []string{"greet"}, notTools: []string{"greet"}},
		{name: "other methods ignored", method: "resources/list", result: `{"tools":[{"name":"echo"}]}`, notTools: []string{"echo"}},
		{name: "bad JSON ignored", method: "tools/list", result: `{"tools":[`, notTools: []string{"echo"}},
		{name: "empty and overlong names skipped", method: "tools/list",
			result: `{"tools":[{"name":""},{"name":"` + strings.Repeat("a", 129) + `"}]}`, notTools: []string{"", strings.Repeat("a", 129)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCatalog(0)
			c.Learn("b", tc.method, []byte(tc.result))
			for _, n := range tc.tools {
				if !c.KnownTool("b", n) {
					t.Errorf("tool %q not learned", n)
				}
				if c.KnownTool("other", n) {
					t.Errorf("tool %q known for another backend", n)
				}
			}
			for _, n := range tc.prompts {
				if !c.KnownPrompt("b", n) {
					t.Errorf("prompt %q not learned", n)
				}
			}
			for _, n := range tc.notTools {
				if c.KnownTool("b", n) {
					t.Errorf("tool %q learned", n)
				}
			}
		})
	}
}

// TestCatalogBounded: a backend listing more names than the bound fills it
// and no more; pages add up.
func TestCatalogBounded(t *testing.T) {
	c := NewCatalog(10)
	for page := range 5 {
		var b strings.Builder
		b.WriteString(`{"tools":[`)
		for i := range 4 {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"name":"t%d"}`, page*4+i)
		}
		b.WriteString(`]}`)
		c.Learn("b", "tools/list", []byte(b.String()))
	}
	n := 0
	for i := range 20 {
		if c.KnownTool("b", fmt.Sprintf("t%d", i)) {
			n++
		}
	}
	if n != 10 {
		t.Errorf("%d names kept, want the bound 10", n)
	}
	if !c.KnownTool("b", "t0") || c.KnownTool("b", "t19") {
		t.Errorf("the first names listed should be the ones kept")
	}
}

func TestCatalogConcurrent(t *testing.T) {
	c := NewCatalog(0)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				c.Learn("b", "tools/list", fmt.Appendf(nil, `{"tools":[{"name":"t%d-%d"}]}`, i, j))
				c.KnownTool("b", "t0-0")
			}
		})
	}
	wg.Wait()
	if !c.KnownTool("b", "t7-49") {
		t.Error("a name was lost")
	}
}

func TestCatalogNil(t *testing.T) {
	var c *Catalog
	c.Learn("b", "tools/list", []byte(`{"tools":[{"name":"x"}]}`))
	if c.KnownTool("b", "x") {
		t.Error("nil catalog knows a name")
	}
}
