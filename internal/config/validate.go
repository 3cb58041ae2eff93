package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Validate runs every semantic check on c and returns all problems found,
// each naming the key path (and, for a parsed Config, the file and line).
// It is pure: it touches neither the file system nor the network (see
// CheckFiles for that). Parse calls it; call it again after changing a Config.
func (c *Config) Validate() error {
	v := &validator{m: c.meta, several: len(c.Backends) > 1}

	if err := checkListen(c.Listen); err != nil {
		v.errorf("listen", "%s %v", v.m.quote("listen", c.Listen), err)
	}
	if msg := checkPath(c.Path); msg != "" {
		v.errorf("path", "%s %s", v.m.quote("path", c.Path), msg)
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		v.errorf("tls", "certFile and keyFile must be set together")
	}

	if c.Admin.Listen != "" {
		if err := checkListen(c.Admin.Listen); err != nil {
			v.errorf("admin.listen", "%s %v (use \"\" to disable the admin listener)", v.m.quote("admin.listen", c.Admin.Listen), err)
		} else if c.Admin.Listen == c.Listen && !strings.HasSuffix(c.Listen, ":0") {
			// Two ":0" listeners get different ephemeral ports.
			at := "admin.listen"
			if !c.isSet(at) {
				at = "listen" // the default admin address collides with the listen the file set
			}
			v.errorAtLineOf("admin.listen", at, "must differ from listen (%s)", v.m.quote("listen", c.Listen))
		}
	}

	for i, p := range c.TrustedProxies {
		if !p.IsValid() || p != p.Masked() {
			v.errorf(joinIndex("trustedProxies", i), "invalid prefix %s", p)
		}
	}

	v.positive("limits.maxBodyBytes", c.Limits.MaxBodyBytes, formatSize(c.Limits.MaxBodyBytes))
	v.positive("limits.maxHeaderBytes", c.Limits.MaxHeaderBytes, formatSize(c.Limits.MaxHeaderBytes))
	v.positive("limits.maxBatch", int64(c.Limits.MaxBatch), strconv.Itoa(c.Limits.MaxBatch))
	v.positive("limits.maxDepth", int64(c.Limits.MaxDepth), strconv.Itoa(c.Limits.MaxDepth))

	v.positiveDuration("timeouts.readHeader", c.Timeouts.ReadHeader)
	v.nonNegative("timeouts.readBody", c.Timeouts.ReadBody)
	v.positiveDuration("timeouts.idle", c.Timeouts.Idle)
	v.positiveDuration("timeouts.shutdown", c.Timeouts.Shutdown)
	v.nonNegative("timeouts.drainDelay", c.Timeouts.DrainDelay)
	if c.Timeouts.DrainDelay > 0 && c.Timeouts.DrainDelay >= c.Timeouts.Shutdown/2 {
		v.errorf("timeouts.drainDelay", "must be less than half of timeouts.shutdown (%s): the requests in flight need the rest to finish", c.Timeouts.Shutdown)
	}
	v.positiveDuration("sessions.idleTimeout", c.Sessions.IdleTimeout)
	v.sessions(&c.Sessions)

	v.cors(&c.CORS)
	v.backends(c.Backends)
	v.forwardHeaders(c)
	v.allowedHosts(c)
	v.aggregate(c)
	v.auth(c)
	v.pseudonymization(&c.Pseudonymization)
	v.telemetry(&c.Telemetry)
	if c.Telemetry.UserAttribution == "hashed" && len(c.Pseudonymization.Keys) == 0 {
		v.errorf("telemetry.userAttribution", "hashed needs a pseudonymization key: add pseudonymization.keys (mcpgate keygen makes a key)")
	}
	v.audit(c)
	v.authz(&c.Authz)
	v.rateLimits(c)

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.errorf("log.level", "unknown level %s (valid: debug, info, warn, error)", v.m.quote("log.level", c.Log.Level))
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		v.errorf("log.format", "unknown format %s (valid: json, text)", v.m.quote("log.format", c.Log.Format))
	}
	switch c.Log.Requests {
	case "all", "errors", "none":
	default:
		v.errorf("log.requests", "unknown value %s (valid: all, errors, none)", v.m.quote("log.requests", c.Log.Requests))
	}
	return v.errs.err()
}

type validator struct {
	m    *meta
	errs errorList
	// several is aggregating mode: more than one backend.
	several bool
}

func (v *validator) errorf(path, format string, args ...any) {
	v.errs.add(v.m.errorAt(path, format, args...))
}

// errorAtLineOf reports a problem for key path but at the line of linePath.
func (v *validator) errorAtLineOf(path, linePath, format string, args ...any) {
	e := v.m.errorAt(linePath, format, args...)
	e.Path = path
	v.errs.add(e)
}

func (v *validator) positive(path string, n int64, shown string) {
	if n <= 0 {
		v.errorf(path, "must be greater than 0, got %s", shown)
	}
}

func (v *validator) positiveDuration(path string, d time.Duration) {
	if d <= 0 {
		v.errorf(path, "must be greater than 0, got %s", d)
	}
}

func (v *validator) nonNegative(path string, d time.Duration) {
	if d < 0 {
		v.errorf(path, "must not be negative, got %s", d)
	}
}

// checkListen checks a listen address: host:port with a numeric port, the
// host empty (all interfaces), an IP literal, "localhost" or a DNS name.
func checkListen(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("is not a host:port address (e.g. 127.0.0.1:8080 or [::1]:8080)")
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || port[0] == '+' || n > 65535 {
		return fmt.Errorf("has an invalid port (a number from 0 to 65535)")
	}
	if host == "" || strings.EqualFold(host, "localhost") {
		return nil
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if !validHostname(host) {
		return errors.New("has an invalid host (an IP address, localhost or a DNS name)")
	}
	return nil
}

func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	// A name of digits and dots only would be a malformed IPv4 address.
	return strings.Trim(h, "0123456789.") != ""
}

// IsLoopback reports whether the listen address (host:port, or a bare host)
// only accepts connections from this machine: 127.0.0.0/8, ::1 or localhost.
// An empty host (":8080", all interfaces) is not loopback.
func IsLoopback(listen string) bool {
	host := listen
	if h, _, err := net.SplitHostPort(listen); err == nil {
		host = h
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return err == nil && a.Zone() == "" && a.Unmap().IsLoopback()
}

func checkPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		return `must start with "/"`
	}
	if strings.ContainsAny(p, "?#") {
		return "must not contain a query (?) or fragment (#)"
	}
	for _, r := range p {
		if r <= ' ' || r == 0x7f {
			return "must not contain spaces or control characters"
		}
	}
	return ""
}

func (v *validator) cors(c *CORS) {
	for i, o := range c.AllowedOrigins {
		p := joinIndex("cors.allowedOrigins", i)
		if o == "*" {
			if len(c.AllowedOrigins) > 1 {
				v.errorf(p, `"*" allows every origin and cannot be combined with specific origins`)
			}
			if c.AllowCredentials {
				v.errorf("cors.allowCredentials", `cannot be true when allowedOrigins contains "*" (browsers refuse credentials with a wildcard origin)`)
			}
			continue
		}
		if msg := checkOrigin(o); msg != "" {
			v.errorf(p, "%s %s", v.m.quote(p, o), msg)
		}
	}
	v.nonNegative("cors.maxAge", c.MaxAge)
}

var schemeRE = regexp.MustCompile(`^[a-z][a-z0-9+.-]*$`)

// checkOrigin checks a browser origin: scheme://host[:port], lower case, no
// path, no default port.
func checkOrigin(o string) string {
	const shape = "is not an origin (scheme://host[:port], e.g. https://app.example.com)"
	if o == "null" {
		return `is not allowed ("null" is the origin of sandboxed and file: documents; any page can send it)`
	}
	if o != strings.ToLower(o) {
		return "must be lower case"
	}
	u, err := url.Parse(o)
	if err != nil || !schemeRE.MatchString(u.Scheme) || u.Host == "" || u.Opaque != "" {
		return shape
	}
	switch {
	case u.User != nil:
		return "must not contain user information"
	case u.Path == "/":
		return `must not have a path (remove the trailing "/")`
	case u.Path != "" || u.RawPath != "":
		return "must not have a path"
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(o, "?#"):
		return "must not have a query or fragment"
	case u.Port() == "80" && u.Scheme == "http", u.Port() == "443" && u.Scheme == "https":
		return "must not include the default port (browsers send the origin without it)"
	case strings.HasSuffix(u.Host, ":"):
		return shape
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return "has an invalid port"
		}
	}
	return ""
}

var backendNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

func (v *validator) backends(bs []Backend) {
	if len(bs) == 0 {
		v.errorf("backends", "at least one backend is required")
		return
	}
	seen := map[string]int{}
	for i := range bs {
		b := &bs[i]
		p := joinIndex("backends", i)
		switch {
		case b.Name == "":
			v.errorf(p+".name", "required")
		case !backendNameRE.MatchString(b.Name):
			v.errorf(p+".name", "invalid name %s (1 to 32 of a-z, 0-9, _ and -, starting with a letter or digit)", v.m.quote(p+".name", b.Name))
		default:
			if first, dup := seen[b.Name]; dup {
				v.errorf(p+".name", "duplicate name %q (also backends[%d])", b.Name, first)
			} else {
				seen[b.Name] = i
			}
		}
		v.backend(b, p)
	}
}

// aggregate checks the aggregate section and the per-backend filters,
// which only mean something with several backends.
func (v *validator) aggregate(c *Config) {
	several := len(c.Backends) > 1
	if !several && c.isSet("aggregate") {
		v.errorf("aggregate", "only applies with several backends (one backend is relayed unchanged)")
	}
	sep := c.Aggregate.Separator
	switch {
	case sep == "" && c.Aggregate.Prefix:
		v.errorf("aggregate.separator", "must not be empty while aggregate.prefix is true")
	case len(sep) > 4:
		v.errorf("aggregate.separator", "too long %s (at most 4 characters)", v.m.quote("aggregate.separator", sep))
	case strings.Trim(sep, "_-.:/") != "":
		v.errorf("aggregate.separator", "invalid separator %s (use characters from _ - . : /)", v.m.quote("aggregate.separator", sep))
	}
	v.positive("aggregate.maxSessions", int64(c.Aggregate.MaxSessions), strconv.Itoa(c.Aggregate.MaxSessions))
	v.positive("aggregate.maxSessionsPerPrincipal", int64(c.Aggregate.MaxSessionsPerPrincipal), strconv.Itoa(c.Aggregate.MaxSessionsPerPrincipal))
	v.positiveDuration("aggregate.initializeTimeout", c.Aggregate.InitializeTimeout)
	for i := range c.Backends {
		b := &c.Backends[i]
		p := joinIndex("backends", i)
		for _, f := range []struct {
			key  string
			pats []string
		}{{"include", b.Include}, {"exclude", b.Exclude}} {
			if len(f.pats) > 0 && !several {
				v.errorf(p+"."+f.key, "only applies with several backends (aggregating mode)")
				continue
			}
			for j, pat := range f.pats {
				if _, err := path.Match(pat, ""); err != nil || pat == "" {
					v.errorf(joinIndex(p+"."+f.key, j), "invalid pattern %s (a name or a glob: * ? [a-z])", v.m.quote(joinIndex(p+"."+f.key, j), pat))
				}
			}
		}
	}
}

func (v *validator) backend(b *Backend, p string) {
	hasURL := b.URL != ""
	hasCmd := len(b.Command) > 0 || v.m != nil && v.m.set[p+".command"]
	switch {
	case hasURL && hasCmd:
		v.errorf(p, "both url and command are set; a backend is either remote (url) or a local stdio server (command)")
		return
	case !hasURL && !hasCmd:
		v.errorf(p, "one of url (a remote MCP server) or command (a local stdio MCP server) is required")
		return
	case hasURL:
		v.remote(b, p)
	default:
		v.local(b, p)
	}
}

func (v *validator) remote(b *Backend, p string) {
	only := func(key string, isSet bool) {
		if isSet {
			v.errorf(p+"."+key, "only applies to command backends")
		}
	}
	only("args", len(b.Args) > 0)
	only("env", len(b.Env) > 0)
	only("inheritEnv", len(b.InheritEnv) > 0)
	only("dir", b.Dir != "")
	only("isolation", b.Isolation != "")
	only("maxSessions", b.MaxSessions != 0)
	only("maxSessionsPerPrincipal", b.MaxSessionsPerPrincipal != 0)
	only("restart", b.Restart != Restart{})

	up := p + ".url"
	u, err := url.Parse(b.URL)
	if err != nil {
		detail := ""
		var ue *url.Error
		if _, isRef := v.m.ref(up); !isRef && errors.As(err, &ue) {
			detail = ": " + ue.Err.Error()
		}
		v.errorf(up, "invalid URL %s%s", v.m.quote(up, b.URL), detail)
		return
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme != "http" && scheme != "https":
		v.errorf(up, "%s: scheme must be http or https", v.m.quote(up, b.URL))
	case u.User != nil:
		v.errorf(up, "must not contain credentials (user:password@); send them with headers, e.g. Authorization: \"Bearer ${env:TOKEN}\"")
	case u.Host == "" || u.Hostname() == "":
		v.errorf(up, "%s has no host", v.m.quote(up, b.URL))
	case u.Fragment != "" || strings.Contains(b.URL, "#"):
		v.errorf(up, "must not have a fragment (#…)")
	}

	v.headers(b.Headers, p+".headers")

	tp := p + ".tls"
	t := b.TLS
	if t != (BackendTLS{}) && scheme == "http" {
		v.errorf(tp, "only applies to https backends (url is http)")
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		v.errorf(tp, "certFile and keyFile must be set together")
	}
	switch t.MinVersion {
	case 0, tls.VersionTLS12, tls.VersionTLS13:
	default:
		v.errorf(tp+".minVersion", `unsupported TLS version 0x%04x (use "1.2" or "1.3")`, t.MinVersion)
	}
	if strings.ContainsAny(t.ServerName, "\x00/ ") {
		v.errorf(tp+".serverName", "invalid server name %s", v.m.quote(tp+".serverName", t.ServerName))
	}

	v.positiveDuration(p+".timeouts.connect", b.Timeouts.Connect)
	v.nonNegative(p+".timeouts.firstByte", b.Timeouts.FirstByte)
	v.nonNegative(p+".timeouts.idle", b.Timeouts.Idle)
}

func (v *validator) local(b *Backend, p string) {
	only := func(key string, isSet bool) {
		if isSet {
			v.errorf(p+"."+key, "only applies to url backends")
		}
	}
	only("headers", len(b.Headers) > 0)
	only("forwardHeaders", len(b.ForwardHeaders) > 0)
	only("tls", b.TLS != BackendTLS{})
	only("timeouts", b.Timeouts != BackendTimeouts{})

	switch {
	case len(b.Command) == 0:
		v.errorf(p+".command", "must not be empty (the program to run, then its arguments)")
	case b.Command[0] == "":
		v.errorf(joinIndex(p+".command", 0), "the program must not be empty")
	}
	for i, a := range b.Command {
		if strings.ContainsRune(a, 0) {
			v.errorf(joinIndex(p+".command", i), "must not contain a NUL byte")
		}
	}
	for i, a := range b.Args {
		if strings.ContainsRune(a, 0) {
			v.errorf(joinIndex(p+".args", i), "must not contain a NUL byte")
		}
	}
	for _, k := range sortedKeys(b.Env) {
		kp := joinKey(p+".env", k)
		if k == "" || strings.ContainsAny(k, "=\x00") {
			v.errorf(kp, "invalid environment variable name %s", shorten(k))
		}
		if strings.ContainsRune(b.Env[k], 0) {
			v.errorf(kp, "value must not contain a NUL byte")
		}
	}
	for i, name := range b.InheritEnv {
		if !validInheritName(name) {
			v.errorf(joinIndex(p+".inheritEnv", i), "invalid environment variable name %s (letters, digits and _, not starting with a digit; a trailing * makes it a prefix)", shorten(name))
		}
	}
	if strings.ContainsRune(b.Dir, 0) {
		v.errorf(p+".dir", "must not contain a NUL byte")
	}

	switch {
	case v.several:
		v.aggregatedLocal(b, p)
	case b.Isolation == IsolationSession:
		if b.MaxSessions <= 0 {
			v.errorf(p+".maxSessions", "must be greater than 0, got %d", b.MaxSessions)
		}
		switch {
		case b.MaxSessionsPerPrincipal <= 0:
			v.errorf(p+".maxSessionsPerPrincipal", "must be greater than 0, got %d", b.MaxSessionsPerPrincipal)
		case b.MaxSessions > 0 && b.MaxSessionsPerPrincipal > b.MaxSessions:
			v.errorf(p+".maxSessionsPerPrincipal", "must be at most maxSessions (%d), got %d", b.MaxSessions, b.MaxSessionsPerPrincipal)
		}
	case b.Isolation == IsolationShared:
		if b.MaxSessions != 0 {
			v.errorf(p+".maxSessions", "only applies with isolation: session")
		}
		if b.MaxSessionsPerPrincipal != 0 {
			v.errorf(p+".maxSessionsPerPrincipal", "only applies with isolation: session")
		}
	default:
		v.errorf(p+".isolation", "unknown isolation %s (valid: session, shared)", v.m.quote(p+".isolation", string(b.Isolation)))
	}

	// restart holds in both modes: relayed, it spaces out the starts of a
	// failing child; aggregated, the reconnections that start a new one.
	v.positiveDuration(p+".restart.initialBackoff", b.Restart.InitialBackoff)
	if b.Restart.MaxBackoff < b.Restart.InitialBackoff {
		v.errorf(p+".restart.maxBackoff", "must be at least initialBackoff (%s), got %s", b.Restart.InitialBackoff, b.Restart.MaxBackoff)
	}
}

// aggregatedLocal checks a command backend's lifecycle keys in
// aggregating mode, where every client session opens its own session with
// each backend: a command backend runs one child per client session, and
// the client sessions are capped by aggregate.maxSessions and
// aggregate.maxSessionsPerPrincipal. Keys that cannot hold there are
// refused rather than dropped.
func (v *validator) aggregatedLocal(b *Backend, p string) {
	switch b.Isolation {
	case IsolationSession:
	case IsolationShared:
		v.errorf(p+".isolation", "shared only applies with one backend: aggregating, every client session holds a session of its own with each backend, "+
			"so a command backend runs one child per client session (isolation: session); to share one child, relay this server with an mcpgate of its own "+
			"(isolation: shared) and aggregate that one by url")
	default:
		v.errorf(p+".isolation", "unknown isolation %s (valid with several backends: session)", v.m.quote(p+".isolation", string(b.Isolation)))
	}
	for _, k := range []struct {
		key string
		set bool
	}{{"maxSessions", b.MaxSessions != 0}, {"maxSessionsPerPrincipal", b.MaxSessionsPerPrincipal != 0}} {
		if k.set || v.m != nil && v.m.set[p+"."+k.key] {
			v.errorf(p+"."+k.key, "only applies with one backend: aggregating, every client session holds one child of each command backend, "+
				"so aggregate.%s caps them; set that instead", k.key)
		}
	}
}

// forbiddenHeaders may not be set as static backend headers: hop-by-hop
// headers, Host, framing, and headers the gateway manages for the MCP protocol.
var forbiddenHeaders = map[string]string{
	"connection":           "hop-by-hop",
	"keep-alive":           "hop-by-hop",
	"proxy-connection":     "hop-by-hop",
	"proxy-authenticate":   "hop-by-hop",
	"proxy-authorization":  "hop-by-hop",
	"te":                   "hop-by-hop",
	"trailer":              "hop-by-hop",
	"transfer-encoding":    "hop-by-hop",
	"upgrade":              "hop-by-hop",
	"host":                 "derived from url",
	"content-length":       "set by the gateway",
	"mcp-session-id":       "managed by the gateway",
	"mcp-protocol-version": "managed by the gateway",
	"last-event-id":        "managed by the gateway",
}

func (v *validator) headers(h map[string]string, p string) {
	seen := map[string]string{}
	for _, name := range sortedKeys(h) {
		hp := joinKey(p, name)
		lower := strings.ToLower(name)
		switch {
		case !validToken(name):
			v.errorf(hp, "invalid header name %s", shorten(name))
			continue
		case forbiddenHeaders[lower] != "":
			v.errorf(hp, "header %s may not be set here (%s)", name, forbiddenHeaders[lower])
		}
		if other, dup := seen[lower]; dup {
			v.errorf(hp, "duplicate header %s (also %s; header names are case-insensitive)", name, other)
		}
		seen[lower] = name
		if !validHeaderValue(h[name]) {
			v.errorf(hp, "value contains a control character such as a newline (if it comes from ${file:…}, only one trailing newline is removed)")
		}
	}
}

// validToken reports whether s is an HTTP token (RFC 9110 field name).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validHeaderValue rejects control characters other than horizontal tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ref reports whether key path p came from a reference.
func (m *meta) ref(p string) (string, bool) {
	if m == nil {
		return "", false
	}
	w, ok := m.refs[p]
	return w, ok
}

// validInheritName reports whether s is an inheritEnv entry: a portable
// environment variable name ([A-Za-z_][A-Za-z0-9_]*), or a prefix of one
// followed by "*" (a lone "*" would pass the whole environment on, which is
// what inheritEnv exists to prevent).
func validInheritName(s string) bool {
	name := strings.TrimSuffix(s, "*")
	if name == "" {
		return false
	}
	for i, c := range name {
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
