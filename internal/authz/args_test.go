package authz

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cedar-policy/cedar-go/types"
)

func TestConvertArguments(t *testing.T) {
	deep := strings.Repeat(`{"a":`, MaxArgumentDepth) + `1` + strings.Repeat(`}`, MaxArgumentDepth)
	var many strings.Builder
	many.WriteString(`{`)
	for i := range MaxArgumentValues + 10 {
		if i > 0 {
			many.WriteString(",")
		}
		fmt.Fprintf(&many, `"k%03d":%d`, i, i)
	}
	many.WriteString(`}`)
	tests := []struct {
		name      string
		in        string
		want      string // the record in Cedar syntax
		truncated bool
	}{
		{"absent", ``, `{}`, false},
		{"null", `null`, `{}`, false},
		{"scalars", `{"s":"x","t":true,"f":false,"i":-42,"d":1.5,"n":null}`, `{"d":decimal("1.5"),"f":false,"i":-42,"s":"x","t":true}`, false},
		{"nested record and set", `{"o":{"p":[1,2,2,"x"]}}`, `{"o":{"p":[1,2,"x"]}}`, false},
		{"escapes", `{"p\u0061th":"\/etc\u002fpasswd"}`, `{"path":"/etc/passwd"}`, false},
		{"depth at the bound is kept", deep[len(`{"a":`) : len(deep)-1], ``, false},
		{"deeper than the bound is left out", deep, ``, true},
		{"too many values", many.String(), ``, true},
		{"long string left out, not cut", `{"p":"` + strings.Repeat("a", MaxArgumentString+1) + `","q":"ok"}`, `{"q":"ok"}`, true},
		{"long member name left out", `{"` + strings.Repeat("k", MaxArgumentString+1) + `":1,"q":2}`, `{"q":2}`, true},
		{"number with five decimals left out", `{"x":0.12345,"y":1e3,"z":99999999999999999999}`, `{}`, true},
		{"not an object", `[1,2]`, `{}`, true},
		{"malformed", `{"a":`, `{}`, true},
		{"too large to convert", `{"a":"` + strings.Repeat("x", MaxArgumentBytes) + `"}`, `{}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, truncated := convertArguments([]byte(tt.in))
			if truncated != tt.truncated {
				t.Fatalf("truncated = %v, want %v", truncated, tt.truncated)
			}
			if tt.want != "" && compact(rec) != tt.want {
				t.Fatalf("record = %s, want %s", rec, tt.want)
			}
			if n := countValues(rec); n > MaxArgumentValues {
				t.Fatalf("%d values converted, bound %d", n, MaxArgumentValues)
			}
			if d := depthOf(rec); d > MaxArgumentDepth {
				t.Fatalf("depth %d, bound %d", d, MaxArgumentDepth)
			}
		})
	}
}

func countValues(v types.Value) int {
	n := 0
	switch x := v.(type) {
	case types.Record:
		for _, e := range x.All() {
			n += 1 + countValues(e)
		}
	case types.Set:
		for e := range x.All() {
			n += 1 + countValues(e)
		}
	}
	return n
}

func depthOf(v types.Value) int {
	d := 0
	switch x := v.(type) {
	case types.Record:
		for _, e := range x.All() {
			d = max(d, depthOf(e))
		}
		return d + 1
	case types.Set:
		for e := range x.All() {
			d = max(d, depthOf(e))
		}
		return d + 1
	}
	return 0
}

func TestClaimConversion(t *testing.T) {
	got := convertJSON(map[string]any{"a": 3.0, "b": 2.5, "c": []any{"x", nil}, "d": nil, "e": 1e300}, 1)
	if s := compact(got); s != `{"a":3,"b":decimal("2.5"),"c":["x"]}` {
		t.Fatalf("claims = %s", s)
	}
}

// compact renders v in Cedar syntax without the spaces cedar-go puts
// after commas (sets in cedar-go's deterministic hash order).
func compact(v types.Value) string { return strings.ReplaceAll(v.String(), ", ", ",") }
