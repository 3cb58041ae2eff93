package guard

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// OriginPolicy says which browser origins may call the gateway.
type OriginPolicy struct {
	// AllowedOrigins are exact origins ("https://app.example.com"), compared
	// case-insensitively. Empty: no browser origin is allowed.
	AllowedOrigins []string
	// AllowAny admits every origin ("*" in the configuration).
	AllowAny bool
	// AllowCredentials sends Access-Control-Allow-Credentials: true.
	AllowCredentials bool
	// MaxAge is how long browsers may cache a preflight answer; zero omits it.
	MaxAge time.Duration
	// Hosts, when set, refuses requests whose Host it does not allow (403)
	// and admits same-origin requests of allowed hosts without a CORS rule.
	// Nil: Host is not checked, and every Origin must be allowed above.
	Hosts *HostPolicy
}

func (p *OriginPolicy) allowed(origin string) bool {
	if p.AllowAny {
		return true
	}
	for _, o := range p.AllowedOrigins {
		if strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// requestHeaders are the headers a browser MCP client sends. Mcp-Param-*
// headers are named per tool, so preflights echo what the browser asks for
// once the origin itself is allowed.
const allowedMethods = "GET, POST, DELETE, OPTIONS"

// exposedHeaders are response headers browser clients must be able to read.
const exposedHeaders = "Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate"

// Origin validates the Host and Origin headers, as the MCP transport
// requires of servers to stop DNS-rebinding attacks: a request whose Host
// the policy does not allow gets 403, and so does one with an Origin that
// is neither the request's own (same-origin) nor allowed by the policy.
// Requests without Origin (non-browser clients) pass the Origin check. For
// allowed cross-origin requests it answers CORS preflights and adds the
// CORS response headers.
//
// 403 for a Host, as for an Origin: the spec's answer to the same attack,
// and a final one. 421 Misdirected Request would invite the client to
// retry on another connection (RFC 9110 §15.5.20), which reaches the same
// gateway under the same name.
func Origin(p OriginPolicy) func(http.Handler) http.Handler {
	maxAge := ""
	if p.MaxAge > 0 {
		maxAge = strconv.Itoa(int(p.MaxAge / time.Second))
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if p.Hosts != nil && !p.Hosts.allowed(r) {
				record.FromContext(r.Context()).Fail(record.ReasonOriginRejected, "Host not allowed (allowedHosts): "+truncate(r.Host, 100))
				mcpwire.WriteError(w, http.StatusForbidden, nil, jsonrpc.CodeInvalidRequest, "host not allowed")
				return
			}
			origin := r.Header.Get("Origin")
			if origin == "" || (p.Hosts != nil && sameOrigin(origin, r)) {
				next.ServeHTTP(w, r)
				return
			}
			if !p.allowed(origin) {
				record.FromContext(r.Context()).Fail(record.ReasonOriginRejected, "origin not allowed: "+truncate(origin, 100))
				mcpwire.WriteError(w, http.StatusForbidden, nil, jsonrpc.CodeInvalidRequest, "origin not allowed")
				return
			}
			h := w.Header()
			h.Add("Vary", "Origin")
			if p.AllowAny && !p.AllowCredentials {
				h.Set("Access-Control-Allow-Origin", "*")
			} else {
				h.Set("Access-Control-Allow-Origin", origin)
			}
			if p.AllowCredentials {
				h.Set("Access-Control-Allow-Credentials", "true")
			}
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", allowedMethods)
				if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
					h.Set("Access-Control-Allow-Headers", req)
				}
				if maxAge != "" {
					h.Set("Access-Control-Max-Age", maxAge)
				}
				w.WriteHeader(http.StatusNoContent)
				return
			}
			h.Set("Access-Control-Expose-Headers", exposedHeaders)
			next.ServeHTTP(w, r)
		})
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n-- // cut between runes, not inside one
	}
	return s[:n] + "…"
}
