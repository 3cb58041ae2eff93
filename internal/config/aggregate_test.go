package config

import (
	"slices"
	"testing"
	"time"
)

// TestAggregateParse: several backends parse, with the aggregate section
// and per-backend filters, and defaults apply when the section is absent.
func TestAggregateParse(t *testing.T) {
	// withCaps is a with the default session caps.
	withCaps := func(a Aggregate) Aggregate {
		a.MaxSessions, a.MaxSessionsPerPrincipal, a.InitializeTimeout = 100, 20, 10*time.Second
		return a
	}
	const two = "backends:\n  - name: a\n    url: http://127.0.0.1:1\n    include: [\"get-*\", echo]\n  - name: b\n    command: [x]\n    exclude: [\"trigger-*\"]\nauth: {mode: anonymous}\n"
	tests := []struct {
		name   string
		yaml   string
		want   Aggregate
		filter [2][]string // backends[0].include, backends[1].exclude
	}{
		{"defaults", two, withCaps(Aggregate{Separator: "_", Prefix: true}), [2][]string{{"get-*", "echo"}, {"trigger-*"}}},
		{"prefix off", "aggregate: {prefix: false}\n" + two, withCaps(Aggregate{Separator: "_", Prefix: false}), [2][]string{{"get-*", "echo"}, {"trigger-*"}}},
		{"separator", "aggregate: {separator: \".\"}\n" + two, withCaps(Aggregate{Separator: ".", Prefix: true}), [2][]string{{"get-*", "echo"}, {"trigger-*"}}},
		{"stateless on", "aggregate: {stateless: true}\n" + two, withCaps(Aggregate{Separator: "_", Prefix: true, Stateless: true}), [2][]string{{"get-*", "echo"}, {"trigger-*"}}},
		{"no separator without prefix", "aggregate: {separator: \"\", prefix: false}\n" + two, withCaps(Aggregate{Separator: "", Prefix: false}), [2][]string{{"get-*", "echo"}, {"trigger-*"}}},
		{"session caps", "aggregate: {maxSessions: 500, maxSessionsPerPrincipal: 5, initializeTimeout: 3s}\n" + two,
			Aggregate{Separator: "_", Prefix: true, MaxSessions: 500, MaxSessionsPerPrincipal: 5, InitializeTimeout: 3 * time.Second}, [2][]string{{"get-*", "echo"}, {"trigger-*"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("mcpgate.yaml", []byte(tt.yaml), fakeLookup(nil, nil))
			if err != nil {
				t.Fatal(err)
			}
			if c.Aggregate != tt.want {
				t.Errorf("aggregate = %+v, want %+v", c.Aggregate, tt.want)
			}
			if len(c.Backends) != 2 || !slices.Equal(c.Backends[0].Include, tt.filter[0]) || !slices.Equal(c.Backends[1].Exclude, tt.filter[1]) {
				t.Errorf("filters = %v / %v", c.Backends[0].Include, c.Backends[1].Exclude)
			}
		})
	}
}
