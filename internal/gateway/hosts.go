package gateway

import (
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/mcpgate/mcpgate/internal/config"
	"github.com/mcpgate/mcpgate/internal/guard"
)

// hostPolicy is the Host check of the public listener (docs/protocol.md):
// the loopback names and the listener's own host at the listener's port,
// the host of auth.resource, and allowedHosts. Nil with allowedHosts "*".
// It runs in both modes: in aggregating mode it replaces the SDK's own
// check, which refuses every name but localhost on a loopback listener.
func hostPolicy(cfg *config.Config) *guard.HostPolicy {
	if slices.Contains(cfg.AllowedHosts, "*") {
		return nil
	}
	p := &guard.HostPolicy{LocalNames: slices.Clone(guard.LoopbackNames)}
	if h, _, err := net.SplitHostPort(cfg.Listen); err == nil && h != "" {
		name := strings.ToLower(h)
		if a, err := netip.ParseAddr(h); err == nil {
			name = a.String()
			if a.Is6() {
				name = "[" + name + "]"
			}
			if a.IsUnspecified() {
				name = "" // 0.0.0.0 and :: are no name a client uses
			}
		}
		if name != "" && !slices.Contains(p.LocalNames, name) {
			p.LocalNames = append(p.LocalNames, name)
		}
	}
	p.Hosts = slices.Clone(cfg.AllowedHosts)
	if h := cfg.ResourceHost(); h != "" {
		p.Hosts = append(p.Hosts, h)
	}
	return p
}
