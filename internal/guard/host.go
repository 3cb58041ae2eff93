package guard

import (
	"net"
	"net/http"
	"strconv"
	"strings"
)

// HostPolicy says which Host header values the gateway answers: the names
// clients use for it. A DNS-rebinding page makes a browser send the
// attacker's own name as Host (and a matching Origin) to an address of the
// victim's network or machine; only the Host tells that request apart.
type HostPolicy struct {
	// Hosts are allowed Host values, lower case, "name" or "name:port"
	// (an IPv6 address in brackets). A name without a port is allowed on
	// every port.
	Hosts []string
	// LocalNames are allowed at the port the connection arrived on, the
	// listener's own: the loopback names and the listener's host.
	LocalNames []string
}

// LoopbackNames are the names of this machine a local client may use.
var LoopbackNames = []string{"localhost", "127.0.0.1", "[::1]"}

// allowed reports whether r's Host is one the policy admits.
func (p *HostPolicy) allowed(r *http.Request) bool {
	host, port, ok := splitHost(r.Host)
	if !ok {
		return false
	}
	host = strings.TrimSuffix(host, ".") // "localhost." is the same DNS name
	if port == "" {
		port = "80"
		if r.TLS != nil {
			port = "443"
		}
	}
	for _, e := range p.Hosts {
		eh, ep, _ := splitHost(e)
		if eh == host && (ep == "" || ep == port) {
			return true
		}
	}
	local := localPort(r)
	for _, n := range p.LocalNames {
		if n == host && (local == "" || local == port) {
			return true
		}
	}
	return false
}

// localPort is the port the request's connection arrived on; "" when
// there is no listener (a handler called in process), in which case the
// local names match every port.
func localPort(r *http.Request) string {
	a, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if ta, ok := a.(*net.TCPAddr); ok {
		return strconv.Itoa(ta.Port)
	}
	if a != nil {
		if _, port, err := net.SplitHostPort(a.String()); err == nil {
			return port
		}
	}
	return ""
}

// splitHost splits a Host value (or an allowedHosts entry) into its lower
// case host, IPv6 in brackets, and port ("" if none). ok is false for a
// value no client sends: an empty host, a bare IPv6 address, a bracket not
// closed.
func splitHost(h string) (host, port string, ok bool) {
	h = strings.ToLower(h)
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", "", false
		}
		host, rest := h[:end+1], h[end+1:]
		switch {
		case rest == "":
			return host, "", true
		case rest[0] == ':' && len(rest) > 1:
			return host, rest[1:], true
		}
		return "", "", false
	}
	if strings.Count(h, ":") > 1 {
		return "", "", false
	}
	host, port, hasPort := strings.Cut(h, ":")
	if host == "" || (hasPort && port == "") {
		return "", "", false
	}
	return host, port, true
}

// sameOrigin reports whether the browser origin names the host the
// request was sent to: the page is the gateway's own (served from its
// name), so no CORS rule is needed. Only meaningful once the Host itself
// is allowed; otherwise a rebinding page's Host and Origin agree too.
//
// A plain-http listener takes both schemes: a TLS proxy in front of it
// hands on an https page's Host unchanged. A TLS listener takes https only.
func sameOrigin(origin string, r *http.Request) bool {
	scheme, rest, ok := strings.Cut(strings.ToLower(origin), "://")
	if !ok || strings.ContainsAny(rest, "/?#@") {
		return false
	}
	def := "443"
	switch {
	case scheme == "https":
	case scheme == "http" && r.TLS == nil:
		def = "80"
	default:
		return false
	}
	oh, op, ok := splitHost(rest)
	if !ok {
		return false
	}
	rh, rp, ok := splitHost(r.Host)
	if !ok {
		return false
	}
	if op == "" {
		op = def
	}
	if rp == "" {
		// The browser built Host and Origin from one URL, leaving out the
		// same default port.
		rp = def
	}
	return oh == rh && op == rp
}
