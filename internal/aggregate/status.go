package aggregate

import "github.com/mcpgate/mcpgate/internal/health"

// Status reports every backend's health for /readyz, in configuration
// order: Statuses in the shape every relay reports.
func (a *Aggregator) Status() []health.Backend {
	sts := a.Statuses()
	out := make([]health.Backend, len(sts))
	for i, s := range sts {
		out[i] = health.Backend{Name: s.Name, Kind: s.Kind, Sessions: health.Count(s.Sessions),
			LastError: s.LastError, LastErrAt: s.LastErrAt, LastOK: s.LastOK}
	}
	return out
}
