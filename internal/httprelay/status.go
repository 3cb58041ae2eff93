package httprelay

import "github.com/mcpgate/mcpgate/internal/health"

// Status reports the backend for /readyz. The relay keeps no sessions of
// its own (the backend's pass through), so none are counted.
func (r *Relay) Status() []health.Backend {
	return []health.Backend{{Name: r.opts.Name, Kind: "http"}}
}
