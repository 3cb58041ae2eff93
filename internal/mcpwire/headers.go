package mcpwire

import (
	"net/http"
	"slices"
	"strings"
)

// Header hygiene: which request headers the gateway manages, and how a
// header name is compared with them.
//
// A managed header is one whose meaning the gateway decides on or vouches
// for: the MCP transport headers it reads and checks, the credentials it
// consumes, the trace context it replaces, the forwarding headers it writes,
// and the identity headers a backend behind an authenticating proxy would
// believe. A client may send the MCP ones, spelled exactly; the others it
// never gets past the gateway.

// ManagedHeaders are the managed headers matched by whole name, canonical.
var ManagedHeaders = []string{
	// The MCP transport headers the gateway reads and checks.
	HeaderSessionID, HeaderProtocolVersion, HeaderMethod, HeaderName, HeaderLastEventID,
	// Credentials: consumed by the gateway, never passed on.
	"Authorization", "Proxy-Authorization", "Cookie",
	// Trace context: replaced by the gateway's own (or passed through
	// unchanged with telemetry off); baggage is never forwarded.
	"Traceparent", "Tracestate", "Baggage",
	// Forwarding claims: written by the gateway, believed only from
	// trustedProxies.
	"Forwarded", "X-Real-Ip", "X-Client-Ip", "True-Client-Ip", "X-Cluster-Client-Ip",
	"Cf-Connecting-Ip", "Fastly-Client-Ip", "X-Original-Url", "X-Rewrite-Url", "X-Original-Uri",
	"X-Http-Method-Override", "X-Http-Method", "X-Method-Override",
	// Identity asserted by an authenticating proxy in front of a backend.
	"Remote-User", "X-User", "X-Email", "X-Authenticated-User", "X-Webauth-User",
	"X-Goog-Iap-Jwt-Assertion", "X-Client-Cert",
}

// ManagedPrefixes are the managed header families, matched by prefix of
// the canonical name.
var ManagedPrefixes = []string{
	HeaderParamPrefix,
	"X-Forwarded-", "X-Auth-Request-", "X-Remote-", "X-Amzn-Oidc-",
	"X-Goog-Authenticated-User-", "X-Ms-Client-Principal", "Cf-Access-",
	"Tailscale-User-", "X-Webauth-", "X-Ssl-Client-",
}

// FoldHeader is the name a header becomes in a server that maps
// underscores to hyphens and ignores case — CGI and WSGI servers (and so
// many Python and PHP backends) turn both Mcp-Session-Id and Mcp_Session_Id
// into HTTP_MCP_SESSION_ID. It is the canonical form of that name.
func FoldHeader(name string) string {
	return http.CanonicalHeaderKey(strings.ReplaceAll(name, "_", "-"))
}

// Managed reports whether the header named name (any case; underscores
// count as hyphens) is a managed header. apiKeyHeader is the configured
// API-key header, managed too; "" for none.
func Managed(name, apiKeyHeader string) bool {
	f := FoldHeader(name)
	if slices.Contains(ManagedHeaders, f) || (apiKeyHeader != "" && f == FoldHeader(apiKeyHeader)) {
		return true
	}
	for _, p := range ManagedPrefixes {
		if strings.HasPrefix(f, p) {
			return true
		}
	}
	return false
}

// ManagedAlias reports whether name is a spelling of a managed header
// other than the one the gateway reads: the name folds (FoldHeader) to a
// managed header but is not that header's own spelling, compared
// case-insensitively as HTTP does. Within Mcp-Param-* only the prefix
// counts: the rest is a tool's own name, in which an underscore is a
// character like any other (RFC 9110 tokens).
func ManagedAlias(name, apiKeyHeader string) bool {
	if !strings.Contains(name, "_") {
		return false
	}
	if f := FoldHeader(name); strings.HasPrefix(f, HeaderParamPrefix) {
		return !strings.EqualFold(name[:len(HeaderParamPrefix)], HeaderParamPrefix)
	}
	if apiKeyHeader != "" && strings.EqualFold(name, apiKeyHeader) {
		return false // the configured spelling itself, underscores and all
	}
	return Managed(name, apiKeyHeader)
}

// HeaderTokens splits the comma-separated values of a list header such
// as Connection into their tokens, trimmed of white space; empty elements
// are dropped (RFC 9110 §5.6.1).
func HeaderTokens(values []string) []string {
	var out []string
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}
