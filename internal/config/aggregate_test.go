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

// TestAggregatedLifecycleKeys: with several backends, a lifecycle key is
// either honoured (restart, timeouts.idle, isolation: session) or refused
// with why and what to write instead, never decoded and dropped (issue 14).
func TestAggregatedLifecycleKeys(t *testing.T) {
	const other = "  - name: b\n    url: http://127.0.0.1:1\nauth: {mode: anonymous}\n"
	tests := []struct {
		name    string
		backend string // backends[0], a command backend unless it says url
		wantErr string // "": accepted
	}{
		{"isolation session", "isolation: session", ""},
		{"restart", "restart: {initialBackoff: 2s, maxBackoff: 1m}", ""},
		{"isolation shared", "isolation: shared",
			`mcpgate.yaml:4: backends[0].isolation: shared only applies with one backend: aggregating, every client session holds a session of its own with each backend, so a command backend runs one child per client session (isolation: session); to share one child, relay this server with an mcpgate of its own (isolation: shared) and aggregate that one by url`},
		{"maxSessions", "maxSessions: 10",
			`mcpgate.yaml:4: backends[0].maxSessions: only applies with one backend: aggregating, every client session holds one child of each command backend, so aggregate.maxSessions caps them; set that instead`},
		{"maxSessionsPerPrincipal", "maxSessionsPerPrincipal: 2",
			`mcpgate.yaml:4: backends[0].maxSessionsPerPrincipal: only applies with one backend: aggregating, every client session holds one child of each command backend, so aggregate.maxSessionsPerPrincipal caps them; set that instead`},
		{"zero maxSessions", "maxSessions: 0",
			`mcpgate.yaml:4: backends[0].maxSessions: only applies with one backend: aggregating, every client session holds one child of each command backend, so aggregate.maxSessions caps them; set that instead`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "backends:\n  - name: a\n    command: [x]\n    " + tt.backend + "\n" + other
			c, err := Parse("mcpgate.yaml", []byte(src), fakeLookup(nil, nil))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("accepted; want %s", tt.wantErr)
			case tt.wantErr != "" && err.Error() != tt.wantErr:
				t.Fatalf("error:\n got: %s\nwant: %s", err, tt.wantErr)
			case err == nil && (c.Backends[0].MaxSessions != 0 || c.Backends[0].MaxSessionsPerPrincipal != 0):
				// Filled in, they would read as caps that do not hold.
				t.Fatalf("relay-only caps defaulted in aggregating mode: %+v", c.Backends[0])
			}
		})
	}
	t.Run("timeouts.idle of a url backend", func(t *testing.T) {
		src := "backends:\n  - name: a\n    url: http://127.0.0.1:2\n    timeouts: {idle: 30s}\n" + other
		c, err := Parse("mcpgate.yaml", []byte(src), fakeLookup(nil, nil))
		if err != nil {
			t.Fatal(err)
		}
		if c.Backends[0].Timeouts.Idle != 30*time.Second {
			t.Fatalf("timeouts.idle = %s", c.Backends[0].Timeouts.Idle)
		}
	})
}

// TestRemovedKeys: a key that was removed gets why, not "unknown key".
func TestRemovedKeys(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"backends[].stateless", "backends:\n  - name: a\n    command: [x]\n    stateless: true\nauth: {mode: anonymous}\n",
			`mcpgate.yaml:4: backends[0].stateless: was removed: nothing ever read it (the gateway behaved the same either way); a server that keeps no per-session state can serve every session from one child: isolation: shared`},
		{"backends[].stateless false", "backends:\n  - name: a\n    url: http://127.0.0.1:1\n  - name: b\n    command: [x]\n    stateless: false\nauth: {mode: anonymous}\n",
			`mcpgate.yaml:6: backends[1].stateless: was removed: nothing ever read it (the gateway behaved the same either way); a server that keeps no per-session state can serve every session from one child: isolation: shared`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("mcpgate.yaml", []byte(tt.src), fakeLookup(nil, nil))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error:\n got: %v\nwant: %s", err, tt.want)
			}
		})
	}
}
