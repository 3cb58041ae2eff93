package config

import (
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The authz section: types, decoding and validation. docs/authorization.md
// describes it. The policies themselves are parsed and type-checked by
// internal/authz (which sits above config): `mcpgate validate` and
// gateway.New load them, so a broken policy file fails both.

// Authz configures authorization with Cedar policies.
type Authz struct {
	// Mode is off (the default: nothing is evaluated), shadow (every
	// decision is evaluated and recorded, none enforced) or enforce.
	Mode string // mode: off | shadow | enforce
	// Policies are policy files or filepath.Match globs, relative to the
	// configuration file's directory.
	Policies []string // policies:
	// Claims are the token claims exposed to policies as principal.claims.
	Claims []string // claims:
}

// The values of authz.mode.
const (
	AuthzOff     = "off"
	AuthzShadow  = "shadow"
	AuthzEnforce = "enforce"
)

// On reports whether authorization evaluates anything.
func (a *Authz) On() bool { return a.Mode == AuthzShadow || a.Mode == AuthzEnforce }

func (d *decoder) authz(a *Authz) func(*yaml.Node, string) {
	return func(n *yaml.Node, p string) {
		d.mapping(n, p, []field{
			{"mode", d.str(&a.Mode)},
			{"policies", func(n *yaml.Node, p string) {
				d.strList(&a.Policies)(n, p)
				// Globs are paths: relative ones are read from the
				// configuration file's directory, like every other file.
				for i, s := range a.Policies {
					if s != "" && !filepath.IsAbs(s) && d.dir != "" && d.dir != "." {
						a.Policies[i] = filepath.Join(d.dir, s)
					}
				}
			}},
			{"claims", d.strList(&a.Claims)},
		})
	}
}

// authz validates the section's shape; the policy files are the engine's
// to parse.
func (v *validator) authz(a *Authz) {
	switch a.Mode {
	case "", AuthzOff, AuthzShadow, AuthzEnforce: // "": off, the default
	default:
		v.errorf("authz.mode", "unknown mode %s (valid: off, shadow, enforce)", v.m.quote("authz.mode", a.Mode))
	}
	if a.On() && len(a.Policies) == 0 {
		v.errorf("authz.policies", "required when authz.mode is %s: a list of Cedar policy files or globs (e.g. /etc/mcpgate/policies/*.cedar)", a.Mode)
	}
	for i, p := range a.Policies {
		path := joinIndex("authz.policies", i)
		switch {
		case p == "":
			v.errorf(path, "must not be empty")
		case strings.ContainsRune(p, 0):
			v.errorf(path, "must not contain a NUL byte")
		default:
			if _, err := filepath.Match(p, ""); err != nil {
				v.errorf(path, "is not a valid glob: %v", err)
			}
		}
	}
	seen := map[string]bool{}
	for i, c := range a.Claims {
		path := joinIndex("authz.claims", i)
		switch {
		case c == "":
			v.errorf(path, "must not be empty")
		case seen[c]:
			v.errorf(path, "claim %q is listed twice", c)
		}
		seen[c] = true
	}
}
