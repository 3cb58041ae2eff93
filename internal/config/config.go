package config

import (
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"
)

// Config is mcpgate's whole configuration. Field comments name the YAML key;
// docs/configuration.md describes each one.
type Config struct {
	Listen         string         // listen: public listener address, host:port
	Path           string         // path: HTTP path of the MCP endpoint
	TLS            ListenerTLS    // tls: serve HTTPS on the public listener
	Admin          Admin          // admin: metrics / health / pprof listener
	TrustedProxies []netip.Prefix // trustedProxies: peers whose X-Forwarded-For is believed
	Limits         Limits         // limits:
	Timeouts       Timeouts       // timeouts: public listener timeouts
	Sessions       Sessions       // sessions:
	CORS           CORS           // cors:
	Backends       []Backend      // backends: one is relayed; several are aggregated
	Aggregate      Aggregate      // aggregate: naming in aggregating mode (several backends)
	Auth           Auth           // auth:
	// Pseudonymization holds the keys shared by telemetry attribution, the
	// audit log and the rate limits' per-caller buckets.
	Pseudonymization Pseudonymization // pseudonymization:
	Log              Log              // log:
	Telemetry        Telemetry        // telemetry: (telemetry.go)
	Audit            Audit            // audit: (audit.go)
	Authz            Authz            // authz: (authz.go)
	RateLimits       RateLimits       // rateLimits: (ratelimits.go)
	// AllowedHosts are the Host header values admitted besides the
	// built-in ones (guard.HostPolicy); "*" turns the check off.
	AllowedHosts []string // allowedHosts:

	meta *meta // where values came from; nil for a Config built in code
}

// ListenerTLS enables HTTPS on the public listener. Both fields or neither.
type ListenerTLS struct {
	CertFile string // certFile: PEM certificate chain
	KeyFile  string // keyFile: PEM private key
}

// Enabled reports whether TLS is configured.
func (t ListenerTLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Admin configures the separate admin listener.
type Admin struct {
	Listen string // listen: host:port; "" disables the admin listener
	Pprof  bool   // pprof: serve /debug/pprof/ on the admin listener
}

// Limits bounds what a client may send.
type Limits struct {
	MaxBodyBytes   int64 // maxBodyBytes: request body size cap
	MaxHeaderBytes int64 // maxHeaderBytes: request header size cap
	MaxBatch       int   // maxBatch: JSON-RPC batch length cap (protocol 2025-03-26 only)
	MaxDepth       int   // maxDepth: JSON nesting depth cap
}

// Timeouts of the public listener.
type Timeouts struct {
	ReadHeader time.Duration // readHeader: time to read the request headers
	ReadBody   time.Duration // readBody: time to read the request body; 0 = no limit
	Idle       time.Duration // idle: keep-alive idle time between requests
	Shutdown   time.Duration // shutdown: drain bound on SIGTERM
	// drainDelay: on SIGTERM, /readyz answers 503 but the listener keeps
	// accepting for this long, within shutdown, so that a load balancer's
	// health check takes the replica out before its listener closes (a
	// connection queued in the kernel at the close would be reset). 0: none.
	DrainDelay time.Duration
}

// Sessions configures MCP session lifetime and, with keys, sealed session
// ids (internal/sealedsession): any replica holding the keys serves any
// session.
type Sessions struct {
	IdleTimeout time.Duration // idleTimeout: close sessions with no traffic for this long
	// keys: session sealing keys, 32 bytes each; the first seals, all
	// open. None: sessions are bound in memory (internal/sessionbind).
	Keys []SecretKey
	// maxLifetime: a sealed session's expiry after its creation; default 24h.
	MaxLifetime time.Duration
	// replica: this process's name, sealed into the ids of sessions that
	// cannot move (stdio children); default the host name.
	Replica string
}

// Sealed reports whether session ids are sealed.
func (s *Sessions) Sealed() bool { return len(s.Keys) > 0 }

// CORS configures cross-origin access for browser clients.
type CORS struct {
	AllowedOrigins   []string      // allowedOrigins: exact origins, lower-cased; "*" = any
	Wildcard         bool          // set when AllowedOrigins contains "*" (worth a warning)
	AllowCredentials bool          // allowCredentials:
	MaxAge           time.Duration // maxAge: preflight cache time; 0 = no header
}

// Isolation says how a command backend's processes map to MCP sessions.
type Isolation string

const (
	IsolationSession Isolation = "session" // one child process per MCP session
	IsolationShared  Isolation = "shared"  // one child process shared by all sessions
)

// Backend is one MCP server behind the gateway: remote (URL) or a local
// command speaking MCP over stdio (Command). Exactly one of the two is set.
type Backend struct {
	Name string // name: [a-z0-9][a-z0-9_-]{0,31}, unique

	// Remote (Streamable HTTP) backends.
	URL      string            // url: http or https
	Headers  map[string]string // headers: static headers added to upstream requests
	TLS      BackendTLS        // tls: https only
	Timeouts BackendTimeouts   // timeouts:
	// ForwardHeaders are client request headers passed on upstream besides
	// the built-in allow-list (relay mode only).
	ForwardHeaders []string // forwardHeaders:

	// Local (stdio) backends.
	Command     []string          // command: program and arguments (a string is a one-element list)
	Args        []string          // args: more arguments, appended to Command
	Env         map[string]string // env: added to the child's minimal environment
	InheritEnv  []string          // inheritEnv: more of mcpgate's variables passed to the child (names, or prefixes ending in "*")
	Dir         string            // dir: working directory of the child ("" = gateway's)
	Isolation   Isolation         // isolation: session | shared
	MaxSessions int               // maxSessions: cap on concurrent sessions (isolation session only)
	// maxSessionsPerPrincipal: cap on one principal's concurrent sessions
	// (isolation session only); default max(1, maxSessions/4).
	MaxSessionsPerPrincipal int
	Restart                 Restart // restart: child restart backoff

	// Aggregating mode (several backends) only: which of the backend's
	// tools and prompts are offered, by name or path.Match glob. Empty
	// Include means all; Exclude wins over Include.
	Include []string // include:
	Exclude []string // exclude:
}

// Aggregate configures how an aggregating gateway names what its backends
// offer. docs/aggregation.md describes the rules.
type Aggregate struct {
	// Separator goes between the backend name and the backend's own name
	// ("_": backend "search", tool "query" is "search_query").
	Separator string // separator: default "_"
	// Prefix, when false, offers names unprefixed; start-up (and a refresh)
	// then fails when two backends offer the same name.
	Prefix bool // prefix: default true

	// Each client session opens a session with every backend (a child per
	// stdio backend): they are capped in all and per principal.
	MaxSessions             int           // maxSessions: default 100
	MaxSessionsPerPrincipal int           // maxSessionsPerPrincipal: default 20
	InitializeTimeout       time.Duration // initializeTimeout: until notifications/initialized; default 10s
	// Stateless serves 2026-07-28 requests, each with backend sessions of
	// its own; off, they are refused with -32022 and clients fall back to
	// a session-based revision.
	Stateless bool // stateless: default false
}

// IsCommand reports whether b is a local stdio backend.
func (b *Backend) IsCommand() bool { return len(b.Command) > 0 }

// Argv returns the child's full argument vector: Command followed by Args.
func (b *Backend) Argv() []string {
	return append(slices.Clip(b.Command), b.Args...)
}

// BackendTLS configures the TLS client of an https backend.
type BackendTLS struct {
	CAFile     string // caFile: PEM roots to trust instead of the system pool
	CertFile   string // certFile: client certificate (mTLS); with keyFile
	KeyFile    string // keyFile: client key (mTLS); with certFile
	ServerName string // serverName: overrides the SNI / verification name
	MinVersion uint16 // minVersion: "1.2" or "1.3" as crypto/tls.VersionTLS1x
}

// BackendTimeouts of a remote backend.
type BackendTimeouts struct {
	Connect   time.Duration // connect: TCP + TLS handshake
	FirstByte time.Duration // firstByte: until response headers; 0 = no limit
	Idle      time.Duration // idle: max silence on a response stream; 0 = no limit
}

// Restart is the backoff for restarting a crashed stdio child.
type Restart struct {
	InitialBackoff time.Duration // initialBackoff:
	MaxBackoff     time.Duration // maxBackoff:
}

// AuthMode is one client authentication mode.
type AuthMode string

const (
	AuthAnonymous AuthMode = "anonymous" // requests without a credential pass, without an identity
	AuthAPIKey    AuthMode = "apiKey"    // static API keys, configured as SHA-256 digests
	AuthOIDC      AuthMode = "oidc"      // JWT access tokens of one or more OIDC issuers
)

// Auth configures client authentication. docs/authentication.md describes it.
type Auth struct {
	Mode                           []AuthMode // mode: a string or a list; required in a file
	AllowAnonymousOnPublicListener bool       // allowAnonymousOnPublicListener:
	APIKeyHeader                   string     // apiKeyHeader: never forwarded upstream

	// Resource is this gateway's resource identifier (RFC 8707/9728): the
	// absolute URL clients use for the MCP endpoint. Required with oidc or
	// apiKey; the 401 challenge and the protected-resource metadata are
	// built from it, never from the request's Host header.
	Resource             string   // resource:
	ResourceName         string   // resourceName: human-readable name in the metadata
	AuthorizationServers []string // authorizationServers: default: the OIDC issuers
	ScopesSupported      []string // scopesSupported: advertised in the metadata and 401 challenges

	OIDC    OIDC     // oidc:
	APIKeys []APIKey // apiKeys:
}

// Anonymous reports whether the anonymous mode is configured.
func (a Auth) Anonymous() bool { return slices.Contains(a.Mode, AuthAnonymous) }

// Has reports whether mode m is configured.
func (a Auth) Has(m AuthMode) bool { return slices.Contains(a.Mode, m) }

// OIDC configures the verification of JWT access tokens. In the file, one
// issuer may be written inline (auth.oidc.issuer, audience, …) or several
// under auth.oidc.issuers; either way they end up in Issuers.
type OIDC struct {
	Issuers []OIDCIssuer // issuers: (or the inline form's single issuer)

	Skew                   time.Duration // skew: clock skew allowed on exp, nbf and iat
	TokenCacheTTL          time.Duration // tokenCacheTTL: how long a verified token is trusted without re-verifying; 0 = no cache
	TokenCacheSize         int           // tokenCacheSize: verified-token cache entries; 0 = no cache
	JWKSRefreshInterval    time.Duration // jwksRefreshInterval: periodic key set refresh
	JWKSMinRefreshInterval time.Duration // jwksMinRefreshInterval: least time between refreshes triggered by unknown kids
	FetchTimeout           time.Duration // fetchTimeout: bound on each discovery / JWKS request
}

// OIDCIssuer is one trusted token issuer.
type OIDCIssuer struct {
	Issuer         string     // issuer: exactly the tokens' iss
	Audiences      []string   // audience: a string or a list; a token's aud must contain one
	JWKSURL        string     // jwksURL: skips discovery when set
	Claims         OIDCClaims // claims: claim names mapped onto the identity
	RequiredScopes []string   // requiredScopes: every one must be in the token's scope/scp
	// RequireTokenType: "" (any typ) or at+jwt (RFC 9068): the JOSE
	// header's typ every token must carry.
	RequireTokenType string
}

// OIDCClaims names the claims that fill an identity's Name, Email and Groups.
// An empty name means "do not map".
type OIDCClaims struct {
	Name   string // name: default "name"
	Email  string // email: default "email"
	Groups string // groups: default "groups"; a list of strings or one string
}

// APIKey is one accepted API key, stored as the SHA-256 digest of the key.
type APIKey struct {
	Subject string   // subject: the identity's subject
	SHA256  string   // sha256: 64 hex digits, lower-cased on load
	Groups  []string // groups:
}

// Log configures the gateway's own log.
type Log struct {
	Level  string // level: debug | info | warn | error
	Format string // format: json | text
	// Requests says which requests get a log line: all, errors (those
	// the gateway rejected or the backend failed), or none.
	Requests string // requests: all | errors | none
}

// meta records where a parsed Config's values came from.
type meta struct {
	file   string            // file name used in messages
	noFile bool              // built by ForUpstream or ForCommand
	lines  map[string]int    // key path -> line
	set    map[string]bool   // key paths present in the file
	refs   map[string]string // key path -> value as written, for values with references
	// secrets maps each resolved reference value to the reference as
	// written; redactor replaces the one by the other (redact.go).
	secrets  map[string]string
	redactor *strings.Replacer
}

// File returns the name of the file c was parsed from ("" if built in code).
func (c *Config) File() string {
	if c.meta == nil {
		return ""
	}
	return c.meta.file
}

// Ref reports whether the value at key path (e.g. "backends[0].headers.Authorization",
// "backends[0].command[2]") came from a ${env:…} or ${file:…} reference, and
// returns the value as written in the file, which is safe to log.
func (c *Config) Ref(path string) (written string, ok bool) {
	if c.meta == nil {
		return "", false
	}
	written, ok = c.meta.refs[path]
	return written, ok
}

// RefPaths returns the key paths of all values that came from references, sorted.
func (c *Config) RefPaths() []string {
	if c.meta == nil {
		return nil
	}
	paths := make([]string, 0, len(c.meta.refs))
	for p := range c.meta.refs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}

// isSet reports whether key path was present in the file.
func (c *Config) isSet(path string) bool { return c.meta != nil && c.meta.set[path] }
