package gateway

import (
	"slices"
	"strings"

	"github.com/mcpgate/mcpgate/internal/aggregate"
	"github.com/mcpgate/mcpgate/internal/authz"
	"github.com/mcpgate/mcpgate/internal/authzstage"
	"github.com/mcpgate/mcpgate/internal/config"
)

// newAuthz builds the authz engine and stage from the configuration. With
// authz.mode off the stage is a pass-through and no policy is read.
func newAuthz(cfg *config.Config) (*authzstage.Stage, error) {
	mode, err := authz.ParseMode(cfg.Authz.Mode)
	if err != nil {
		return nil, err
	}
	e, err := authz.New(authz.Options{Mode: mode, Policies: cfg.Authz.Policies, Claims: cfg.Authz.Claims})
	if err != nil {
		return nil, err
	}
	o := authzstage.Options{Engine: e}
	if len(cfg.Backends) == 1 {
		o.Backend = cfg.Backends[0].Name
	} else {
		o.BackendOf = aggregatedBackendOf(cfg)
	}
	return authzstage.New(o), nil
}

// aggregatedBackendOf names the backend of an aggregated name by its
// prefix (the longest backend name that, with the separator, begins it),
// and of a resource URI the aggregator wrapped (mcpgate://<backend>/…) by
// the backend it names. A name with aggregate.prefix false, or a URI left
// as its backend listed it, carries no backend: "" (docs/authorization.md).
func aggregatedBackendOf(cfg *config.Config) func(string) string {
	names := make([]string, len(cfg.Backends))
	for i := range cfg.Backends {
		names[i] = cfg.Backends[i].Name
	}
	prefix, sep := cfg.Aggregate.Prefix, cfg.Aggregate.Separator
	return func(name string) string {
		if b, _, ok := aggregate.UnwrapURI(name); ok && slices.Contains(names, b) {
			return b
		}
		if !prefix {
			return ""
		}
		best := ""
		for _, b := range names {
			if len(b) > len(best) && strings.HasPrefix(name, b+sep) {
				best = b
			}
		}
		return best
	}
}

// ReloadPolicies rereads the policy files (SIGHUP). A set that fails to
// parse or type-check is refused and the one in force stays; the error
// names file and position, never a policy's text. It returns the number of
// policies now in force; with authz off it does nothing.
func (g *Gateway) ReloadPolicies() (int, error) {
	e := g.authz.Engine()
	if e == nil || e.Mode() == authz.ModeOff {
		return 0, nil
	}
	s, err := e.Reload(g.cfg.Authz.Policies)
	if err != nil {
		return e.Policies().Len(), err
	}
	return s.Len(), nil
}

// AuthzOn reports whether authorization evaluates requests.
func (g *Gateway) AuthzOn() bool { return g.cfg.Authz.On() }
