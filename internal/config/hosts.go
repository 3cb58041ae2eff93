package config

import (
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

// AlwaysForwarded are the client request headers every remote backend
// gets in relay mode (besides backends[].forwardHeaders); httprelay
// implements the list, docs/protocol.md documents it.
var AlwaysForwarded = []string{
	"Accept", "Content-Type", "User-Agent",
	mcpwire.HeaderSessionID, mcpwire.HeaderProtocolVersion, mcpwire.HeaderMethod,
	mcpwire.HeaderName, mcpwire.HeaderLastEventID, "Traceparent", "Tracestate",
}

func alwaysForwarded(name string) bool {
	f := mcpwire.FoldHeader(name)
	return slices.Contains(AlwaysForwarded, f) || strings.HasPrefix(f, mcpwire.HeaderParamPrefix)
}

// forwardHeaders checks backends[].forwardHeaders: names the operator adds
// to the allow-list of client headers a relayed backend receives. None may
// be a header the gateway manages (a client could then claim an identity
// or a forwarding hop the backend believes), a hop-by-hop or framing
// header, or one that is forwarded anyway.
func (v *validator) forwardHeaders(c *Config) {
	for i := range c.Backends {
		b := &c.Backends[i]
		p := joinIndex("backends", i) + ".forwardHeaders"
		if len(b.ForwardHeaders) == 0 {
			continue
		}
		if b.IsCommand() {
			v.errorf(p, "only applies to url backends (a stdio child gets no HTTP headers)")
			continue
		}
		if len(c.Backends) > 1 {
			v.errorf(p, "only applies with one backend: in aggregating mode the gateway holds its own sessions with the backends and forwards no client header")
			continue
		}
		seen := map[string]string{}
		for j, name := range b.ForwardHeaders {
			hp := joinIndex(p, j)
			lower := strings.ToLower(name)
			switch {
			case !validToken(name):
				v.errorf(hp, "invalid header name %s", v.m.quote(hp, name))
				continue
			case alwaysForwarded(name):
				v.errorf(hp, "%s is always forwarded; remove it", name)
			case mcpwire.Managed(name, c.Auth.APIKeyHeader):
				v.errorf(hp, "%s may not be forwarded: the gateway manages it (credentials, identity, forwarding or trace context), and a client could make claims the backend believes", name)
			case forbiddenHeaders[lower] != "":
				v.errorf(hp, "%s may not be forwarded (%s)", name, forbiddenHeaders[lower])
			case lower == "accept-encoding":
				v.errorf(hp, "Accept-Encoding may not be forwarded: responses must arrive uncompressed to be inspected")
			case lower == "http2-settings" || lower == "te":
				v.errorf(hp, "%s may not be forwarded (hop-by-hop)", name)
			}
			f := mcpwire.FoldHeader(name)
			if other, dup := seen[f]; dup {
				v.errorf(hp, "duplicate header %s (also %s; names are case-insensitive, and underscores count as hyphens)", name, other)
			}
			seen[f] = name
		}
	}
}

// allowedHosts checks allowedHosts: "*" alone, or host names and IP
// addresses, each with an optional port.
func (v *validator) allowedHosts(c *Config) {
	for i, h := range c.AllowedHosts {
		p := joinIndex("allowedHosts", i)
		if h == "*" {
			if len(c.AllowedHosts) > 1 {
				v.errorf(p, `"*" turns the Host check off and cannot be combined with names`)
			}
			continue
		}
		if msg := checkHostEntry(h); msg != "" {
			v.errorf(p, "%s %s", v.m.quote(p, h), msg)
		}
	}
}

// checkHostEntry checks one allowedHosts entry as a Host header would
// carry it: host or host:port, an IPv6 address in brackets.
func checkHostEntry(h string) string {
	const shape = "is not a host (a name or IP address with an optional port, e.g. mcp.example.com or mcp.example.com:8443; no scheme or path)"
	if strings.ContainsAny(h, "/?#@ ") {
		return shape
	}
	host, port, hasPort := h, "", false
	switch {
	case strings.HasPrefix(h, "["):
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return shape
		}
		if a, err := netip.ParseAddr(h[1:end]); err != nil || !a.Is6() || a.Zone() != "" {
			return shape
		}
		rest := h[end+1:]
		if rest == "" {
			return ""
		}
		if !strings.HasPrefix(rest, ":") {
			return shape
		}
		return checkHostPort(rest[1:])
	case strings.Count(h, ":") > 1:
		return "must write an IPv6 address in brackets ([::1])"
	default:
		host, port, hasPort = strings.Cut(h, ":")
	}
	if _, err := netip.ParseAddr(host); err != nil && !validHostname(host) {
		return shape
	}
	if hasPort {
		return checkHostPort(port)
	}
	return ""
}

func checkHostPort(port string) string {
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 || port[0] == '0' || port[0] == '+' {
		return "has an invalid port (1 to 65535)"
	}
	return ""
}

// ResourceHost is the host (with its port, if written) of auth.resource,
// "" without one: the name clients use, which the Host check admits.
func (c *Config) ResourceHost() string {
	if c.Auth.Resource == "" {
		return ""
	}
	u, err := url.Parse(c.Auth.Resource)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Host)
}
