// Package authn is the gateway's authentication stage: it turns the
// credential a client presents — an OIDC/JWT bearer token or an API key —
// into an [identity.Identity], or answers 401, 403 or 503 itself.
//
// The gateway is an OAuth 2.0 resource server in the sense of the MCP
// authorization specification: it validates access tokens (signature,
// issuer, audience, expiry) but never obtains or forwards them, and it
// publishes RFC 9728 protected-resource metadata so that clients can find
// the authorization server ([Authenticator.MetadataHandler]). Every 401
// carries `WWW-Authenticate: Bearer resource_metadata="…"` built from the
// configured resource, never from the request's Host header.
//
// Files by concept:
//
//   - authn.go: [Options], [New], the middleware and readiness;
//   - bearer.go: the Authorization header and where credentials may appear;
//   - oidc.go: token verification and claim mapping;
//   - claims.go: the strict, case-sensitive claims decoder;
//   - jwks.go: the per-issuer key set (discovery, fetch, refresh, throttle);
//   - cache.go: the bounded cache of verified tokens;
//   - apikey.go: API keys (stored as SHA-256 digests);
//   - metadata.go: the protected-resource metadata document;
//   - errors.go: failures and how each maps to an HTTP answer.
//
// Failures are answered with a generic message; the precise reason ("token
// expired 3m ago", "unknown kid k3 after refresh") goes only to the request
// record (record.Record.Fail), and from there to the log.
package authn
