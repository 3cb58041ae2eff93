package observe

import (
	"net/http"
	"net/netip"
	"strings"
)

// maxForwardedHops bounds the X-Forwarded-For entries clientAddr walks, so
// that a long header costs no more than a short one.
const maxForwardedHops = 32

// clientAddr is the request's client: the TCP peer, or — when the peer is
// in trusted — the address its X-Forwarded-For names. The header is read
// from the right: each proxy appends the address it received from, so the
// rightmost entry was written by the peer itself, and entries further left
// are believed only while the hop that wrote them is trusted too. The
// first address that is not a trusted proxy is the client; anything left
// of it is the client's own claim and ignored. An entry that does not
// parse ends the walk at the last address a trusted hop vouched for.
//
// port is the peer's port, and 0 when the address is a forwarded one (the
// proxy does not tell the client's port).
func clientAddr(remoteAddr string, h http.Header, trusted []netip.Prefix) (addr string, port int) {
	addr, port = peer(remoteAddr)
	if len(trusted) == 0 {
		return addr, port
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil || !isTrusted(ip, trusted) {
		return addr, port
	}
	fwd, ok := forwardedClient(h.Values("X-Forwarded-For"), trusted)
	if !ok {
		return addr, port
	}
	return fwd.String(), 0
}

// forwardedClient walks the X-Forwarded-For values (all header lines, in
// order) from the right, as clientAddr describes. ok is false when no
// entry parses.
func forwardedClient(values []string, trusted []netip.Prefix) (client netip.Addr, ok bool) {
	hops := 0
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for v != "" {
			var entry string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				entry, v = v[j+1:], v[:j]
			} else {
				entry, v = v, ""
			}
			if hops++; hops > maxForwardedHops {
				return client, ok
			}
			a, good := parseForwarded(strings.TrimSpace(entry))
			if !good {
				return client, ok
			}
			client, ok = a, true
			if !isTrusted(a, trusted) {
				return client, true
			}
		}
	}
	return client, ok
}

// parseForwarded parses one X-Forwarded-For entry: an IP address, or an
// address with a port ("192.0.2.1:4711", "[2001:db8::1]:4711"), which some
// proxies write. Zones are refused: they name an interface of the proxy's
// host, not a client.
func parseForwarded(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	if a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
