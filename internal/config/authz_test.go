package config

import (
	"path/filepath"
	"slices"
	"testing"
)

func TestAuthzSection(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		want    Authz
		wantErr string
	}{
		{"absent is off", minimalURL, Authz{}, ""},
		{"enforce", "authz:\n  mode: enforce\n  policies: [/etc/p/*.cedar, rel.cedar]\n  claims: [department]\n" + minimalURL,
			Authz{Mode: "enforce", Policies: []string{"/etc/p/*.cedar", filepath.Join("conf", "rel.cedar")}, Claims: []string{"department"}}, ""},
		{"unknown mode", "authz: {mode: on, policies: [p.cedar]}\n" + minimalURL, Authz{},
			`conf/mcpgate.yaml:1: authz.mode: unknown mode "on" (valid: off, shadow, enforce)`},
		{"policies required", "authz: {mode: shadow}\n" + minimalURL, Authz{},
			`conf/mcpgate.yaml:1: authz.policies: required when authz.mode is shadow: a list of Cedar policy files or globs (e.g. /etc/mcpgate/policies/*.cedar)`},
		{"bad glob", "authz: {mode: enforce, policies: [\"/p/[\"]}\n" + minimalURL, Authz{},
			`conf/mcpgate.yaml:1: authz.policies[0]: is not a valid glob: syntax error in pattern`},
		{"claim twice", "authz: {claims: [a, a]}\n" + minimalURL, Authz{},
			`conf/mcpgate.yaml:1: authz.claims[1]: claim "a" is listed twice`},
		{"unknown key", "authz: {mode: off, policy: [p]}\n" + minimalURL, Authz{},
			`conf/mcpgate.yaml:1: authz: unknown key "policy" (known keys here: mode, policies, claims)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(filepath.Join("conf", "mcpgate.yaml"), []byte(tt.src), fakeLookup(nil, nil))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error\n got: %v\nwant: %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Authz.Mode != tt.want.Mode || !slices.Equal(c.Authz.Policies, tt.want.Policies) || !slices.Equal(c.Authz.Claims, tt.want.Claims) {
				t.Errorf("authz %+v, want %+v", c.Authz, tt.want)
			}
			if c.Authz.On() != (tt.want.Mode == AuthzShadow || tt.want.Mode == AuthzEnforce) {
				t.Errorf("On() = %v", c.Authz.On())
			}
		})
	}
}
