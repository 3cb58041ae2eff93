package stdiorelay

import "github.com/mcpgate/mcpgate/internal/health"

// Status reports the backend and its live sessions for /readyz.
func (r *Relay) Status() []health.Backend {
	return []health.Backend{{Name: r.opts.Name, Kind: "stdio", Sessions: health.Count(r.Sessions())}}
}
