package authz

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestFilterList(t *testing.T) {
	e := examplesEngine(t, ModeEnforce)
	tests := []struct {
		name    string
		method  string
		who     Principal
		in      string
		want    string
		removed int
	}{
		{"tools for a contractor: destructive and unhinted ones go",
			"tools/list", e.Principal(carol),
			`{"tools":[{"name":"search","annotations":{"readOnlyHint":true}}, {"name":"delete_repo","annotations":{"destructiveHint":true}},{"name":"mystery"} ,{"name":"comment","annotations":{"readOnlyHint":false,"destructiveHint":false},"inputSchema":{"type":"object"}}],"nextCursor":"c2",  "_meta":{"x":1}}`,
			`{"tools":[{"name":"search","annotations":{"readOnlyHint":true}},{"name":"comment","annotations":{"readOnlyHint":false,"destructiveHint":false},"inputSchema":{"type":"object"}}],"nextCursor":"c2",  "_meta":{"x":1}}`,
			2},
		{"tools for an engineer: all stay, bytes untouched",
			"tools/list", e.Principal(alice),
			`{"tools":[ {"name":"search"} , {"name":"delete_repo"} ]}`,
			`{"tools":[ {"name":"search"} , {"name":"delete_repo"} ]}`, 0},
		{"tools for anonymous: public ones only",
			"tools/list", anonymous,
			`{"tools":[{"name":"public_time"},{"name":"search"},{"name":"public_weather"}]}`,
			`{"tools":[{"name":"public_time"},{"name":"public_weather"}]}`, 1},
		{"prompts by prompts/get: none for anonymous",
			"prompts/list", anonymous,
			`{"prompts":[{"name":"greet"},{"name":"summarize"}]}`,
			`{"prompts":[]}`, 2},
		{"prompts by prompts/get: all for a user",
			"prompts/list", e.Principal(erin),
			`{"prompts":[{"name":"greet"},{"name":"summarize"}]}`,
			`{"prompts":[{"name":"greet"},{"name":"summarize"}]}`, 0},
		{"resources by resources/read",
			"resources/list", e.Principal(erin),
			`{"resources":[{"uri":"file:///docs/a.md","name":"a"},{"uri":"file:///hr/pay.csv","name":"pay"},{"uri":"file:///docs/b.md","name":"b"}],"ttlMs":1000,"cacheScope":"public"}`,
			`{"resources":[{"uri":"file:///docs/a.md","name":"a"},{"uri":"file:///docs/b.md","name":"b"}],"ttlMs":1000,"cacheScope":"public"}`, 1},
		{"resources by claim",
			"resources/list", e.Principal(dave),
			`{"resources":[{"uri":"file:///docs/a.md"},{"uri":"file:///hr/pay.csv"}]}`,
			`{"resources":[{"uri":"file:///docs/a.md"},{"uri":"file:///hr/pay.csv"}]}`, 0},
		{"resource templates by resources/read on the template",
			"resources/templates/list", e.Principal(erin),
			`{"resourceTemplates":[{"uriTemplate":"file:///docs/{path}","name":"docs"},{"uriTemplate":"file:///hr/{path}","name":"hr"}]}`,
			`{"resourceTemplates":[{"uriTemplate":"file:///docs/{path}","name":"docs"}]}`, 1},
		{"an item member spelled twice ignoring case is denied",
			"tools/list", e.Principal(alice),
			`{"tools":[{"name":"search","Name":"other"},{"name":"ok"}]}`,
			`{"tools":[{"name":"ok"}]}`, 1},
		{"an item without a name is denied",
			"tools/list", e.Principal(alice),
			`{"tools":[{"title":"x"},{"name":"ok"}]}`,
			`{"tools":[{"name":"ok"}]}`, 1},
		{"a second member spelled Tools is filtered too",
			"tools/list", anonymous,
			`{"tools":[{"name":"public_a"}],"Tools":[{"name":"secret"}]}`,
			`{"tools":[{"name":"public_a"}],"Tools":[]}`, 1},
		{"escaped member names are read",
			"tools/list", anonymous,
			`{"tool\u0073":[{"n\u0061me":"secret"},{"name":"public_\u0061"}]}`,
			`{"tool\u0073":[{"name":"public_\u0061"}]}`, 1},
		{"an empty list", "tools/list", anonymous, `{"tools":[]}`, `{"tools":[]}`, 0},
		{"no item member", "tools/list", anonymous, `{"nextCursor":"x"}`, `{"nextCursor":"x"}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, st, err := e.FilterList(tt.who, tt.method, []byte(tt.in), ListOptions{Backend: "b"})
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want || st.Removed != tt.removed || st.Denied != tt.removed || !st.Private {
				t.Fatalf("FilterList = %s %+v\nwant %s, %d removed, private", out, st, tt.want, tt.removed)
			}
			if !json.Valid(out) {
				t.Fatalf("output is not JSON: %s", out)
			}
		})
	}
}

func TestFilterListShadow(t *testing.T) {
	e := examplesEngine(t, ModeShadow)
	in := []byte(`{"tools":[{"name":"public_time"},{"name":"search"}]}`)
	out, st, err := e.FilterList(anonymous, "tools/list", in, ListOptions{})
	if err != nil || string(out) != string(in) || st.Denied != 1 || st.Removed != 0 || st.Private || st.Items != 2 {
		t.Fatalf("shadow FilterList = %s %+v %v", out, st, err)
	}
}

func TestFilterListBackendsAndCatalog(t *testing.T) {
	e := examplesEngine(t, ModeEnforce)
	var c Catalog
	in := []byte(`{"tools":[{"name":"db_drop","annotations":{"destructiveHint":true}},{"name":"staging_db_drop","annotations":{"destructiveHint":"yes"}}]}`)
	backendOf := func(name string) string {
		if name == "db_drop" {
			return "prod-db"
		}
		return "staging-db"
	}
	out, st, err := e.FilterList(e.Principal(alice), "tools/list", in, ListOptions{BackendOf: backendOf, Catalog: &c})
	if err != nil || st.Removed != 1 || string(out) != `{"tools":[{"name":"staging_db_drop","annotations":{"destructiveHint":"yes"}}]}` {
		t.Fatalf("FilterList = %s %+v %v", out, st, err)
	}
	if a, ok := c.Annotations("prod-db", "db_drop"); !ok || a != destructive {
		t.Fatalf("catalog prod-db/db_drop = %+v %v", a, ok)
	}
	// A hint that is not a boolean reads as unpublished.
	if a, ok := c.Annotations("staging-db", "staging_db_drop"); !ok || a != (Annotations{}) {
		t.Fatalf("catalog staging = %+v %v", a, ok)
	}
}

func TestFilterListMalformed(t *testing.T) {
	e := examplesEngine(t, ModeEnforce)
	for name, in := range map[string]string{
		"not an object":        `[1]`,
		"items not an array":   `{"tools":{"name":"a"}}`,
		"item not an object":   `{"tools":["a"]}`,
		"truncated":            `{"tools":[{"name":"a"}`,
		"trailing garbage":     `{"tools":[]} x`,
		"name not a string":    `{"tools":[{"name":1}]}`,
		"bad escape":           `{"tools":[{"name":"\x"}]}`,
		"bad escape, skipped":  `{"tools":[{"name":"a","description":"\q"}]}`,
		"short unicode escape": `{"tools":[],"x":"\u12"}`,
		"control in a string":  "{\"tools\":[{\"name\":\"a\nb\"}]}",
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := e.FilterList(anonymous, "tools/list", []byte(in), ListOptions{}); !errors.Is(err, ErrListShape) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestAllowItem(t *testing.T) {
	e := examplesEngine(t, ModeShadow) // AllowItem ignores the mode
	if e.AllowItem(anonymous, "tools/call", Target{Name: "search"}, Client{}) {
		t.Fatal("anonymous may use search")
	}
	if !e.AllowItem(anonymous, "tools/call", Target{Name: "public_x"}, Client{}) {
		t.Fatal("anonymous may not use public_x")
	}
	// Listing: the files backend's truncated-arguments forbid does not hide
	// its tools.
	if !e.AllowItem(e.Principal(alice), "tools/call", Target{Name: "read_file", Backend: "files"}, Client{}) {
		t.Fatal("read_file hidden from alice")
	}
}
