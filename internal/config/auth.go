package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The auth section: decoding, defaults, validation and warnings. It lives in
// one file because its keys depend on each other (which modes are on decides
// which of the other keys are required or allowed).

// Defaults of the auth section. docs/configuration.md lists the same values.
const (
	DefaultSkew                   = 60 * time.Second
	DefaultTokenCacheTTL          = 2 * time.Minute
	DefaultTokenCacheSize         = 10000
	DefaultJWKSRefreshInterval    = 5 * time.Minute
	DefaultJWKSMinRefreshInterval = 10 * time.Second
	DefaultFetchTimeout           = 10 * time.Second
)

// inlineIssuerKeys are the keys of the inline (single issuer) form of auth.oidc.
var inlineIssuerKeys = []string{"issuer", "audience", "jwksURL", "claims", "requiredScopes", "requireTokenType"}

func (d *decoder) auth(a *Auth) func(*yaml.Node, string) {
	return func(n *yaml.Node, p string) {
		d.mapping(n, p, []field{
			{"mode", d.authModes(&a.Mode)},
			{"allowAnonymousOnPublicListener", d.boolean(&a.AllowAnonymousOnPublicListener)},
			{"apiKeyHeader", d.str(&a.APIKeyHeader)},
			{"resource", d.str(&a.Resource)},
			{"resourceName", d.str(&a.ResourceName)},
			{"authorizationServers", d.strList(&a.AuthorizationServers)},
			{"scopesSupported", d.strList(&a.ScopesSupported)},
			{"oidc", d.oidc(&a.OIDC)},
			{"apiKeys", func(n *yaml.Node, p string) {
				a.APIKeys = []APIKey{}
				d.list(n, p, "a list of API keys", func(it *yaml.Node, ip string) {
					a.APIKeys = append(a.APIKeys, APIKey{})
					k := &a.APIKeys[len(a.APIKeys)-1]
					if isNull(it) {
						d.errorf(it.Line, ip, "expected an API key mapping (subject, sha256), got null")
						return
					}
					d.mapping(it, ip, []field{
						{"subject", d.str(&k.Subject)},
						{"sha256", d.str(&k.SHA256)},
						{"groups", d.strList(&k.Groups)},
					})
				})
			}},
		})
	}
}

// authModes accepts a single mode or a list of modes.
func (d *decoder) authModes(dst *[]AuthMode) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		var s []string
		d.strOrList(&s)(n, path)
		out := make([]AuthMode, len(s))
		for i, m := range s {
			out[i] = AuthMode(m)
		}
		*dst = out
	}
}

// strOrList accepts one string or a list of strings.
func (d *decoder) strOrList(dst *[]string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if n.Kind == yaml.ScalarNode && !isNull(n) {
			if s, _, ok := d.scalar(n, path, "a string or a list of strings"); ok {
				*dst = []string{s}
			}
			return
		}
		out := []string{}
		d.list(n, path, "a string or a list of strings", func(it *yaml.Node, ip string) {
			if s, _, ok := d.scalar(it, ip, "a string"); ok {
				out = append(out, s)
			}
		})
		*dst = out
	}
}

func (d *decoder) issuerFields(is *OIDCIssuer) []field {
	return []field{
		{"issuer", d.str(&is.Issuer)},
		{"audience", d.strOrList(&is.Audiences)},
		{"jwksURL", d.str(&is.JWKSURL)},
		{"claims", func(n *yaml.Node, p string) {
			d.mapping(n, p, []field{
				{"name", d.str(&is.Claims.Name)},
				{"email", d.str(&is.Claims.Email)},
				{"groups", d.str(&is.Claims.Groups)},
			})
		}},
		{"requiredScopes", d.strList(&is.RequiredScopes)},
		{"requireTokenType", d.str(&is.RequireTokenType)},
	}
}

// oidc decodes auth.oidc in either form: one issuer inline, or issuers: [...].
func (d *decoder) oidc(o *OIDC) func(*yaml.Node, string) {
	return func(n *yaml.Node, p string) {
		var inline OIDCIssuer
		fields := append(d.issuerFields(&inline),
			field{"issuers", func(n *yaml.Node, p string) {
				o.Issuers = []OIDCIssuer{}
				d.list(n, p, "a list of issuers", func(it *yaml.Node, ip string) {
					o.Issuers = append(o.Issuers, OIDCIssuer{})
					if isNull(it) {
						d.errorf(it.Line, ip, "expected an issuer mapping (issuer, audience, …), got null")
						return
					}
					d.mapping(it, ip, d.issuerFields(&o.Issuers[len(o.Issuers)-1]))
				})
			}},
			field{"skew", d.duration(&o.Skew)},
			field{"tokenCacheTTL", d.duration(&o.TokenCacheTTL)},
			field{"tokenCacheSize", d.integer(&o.TokenCacheSize)},
			field{"jwksRefreshInterval", d.duration(&o.JWKSRefreshInterval)},
			field{"jwksMinRefreshInterval", d.duration(&o.JWKSMinRefreshInterval)},
			field{"fetchTimeout", d.duration(&o.FetchTimeout)},
		)
		d.mapping(n, p, fields)
		if !d.meta.inlineIssuer(p) {
			return
		}
		if d.meta.set[p+".issuers"] {
			for _, k := range inlineIssuerKeys {
				if kp := p + "." + k; d.meta.set[kp] {
					d.errorf(d.meta.lines[kp], kp, "cannot be combined with issuers: put every issuer, with its %s, in the issuers list", k)
				}
			}
			return
		}
		o.Issuers = []OIDCIssuer{inline}
	}
}

// inlineIssuer reports whether the oidc section at p uses the inline form.
func (m *meta) inlineIssuer(p string) bool {
	if m == nil {
		return false
	}
	for _, k := range inlineIssuerKeys {
		if m.set[p+"."+k] {
			return true
		}
	}
	return false
}

// issuerPath is the key path of issuer i, in the form the file used.
func (c *Config) issuerPath(i int) string {
	if i == 0 && len(c.Auth.OIDC.Issuers) == 1 && !c.isSet("auth.oidc.issuers") && c.meta.inlineIssuer("auth.oidc") {
		return "auth.oidc"
	}
	return joinIndex("auth.oidc.issuers", i)
}

func applyAuthDefaults(c *Config) {
	o := &c.Auth.OIDC
	set := func(path string, dst *time.Duration, v time.Duration) {
		if !c.isSet(path) {
			*dst = v
		}
	}
	set("auth.oidc.skew", &o.Skew, DefaultSkew)
	set("auth.oidc.tokenCacheTTL", &o.TokenCacheTTL, DefaultTokenCacheTTL)
	set("auth.oidc.jwksRefreshInterval", &o.JWKSRefreshInterval, DefaultJWKSRefreshInterval)
	set("auth.oidc.jwksMinRefreshInterval", &o.JWKSMinRefreshInterval, DefaultJWKSMinRefreshInterval)
	set("auth.oidc.fetchTimeout", &o.FetchTimeout, DefaultFetchTimeout)
	if !c.isSet("auth.oidc.tokenCacheSize") {
		o.TokenCacheSize = DefaultTokenCacheSize
	}
	for i := range o.Issuers {
		is := &o.Issuers[i]
		p := c.issuerPath(i) + ".claims."
		claim := func(key string, dst *string) {
			if !c.isSet(p+key) && *dst == "" {
				*dst = key
			}
		}
		claim("name", &is.Claims.Name)
		claim("email", &is.Claims.Email)
		claim("groups", &is.Claims.Groups)
	}
}

var (
	sha256HexRE = regexp.MustCompile(`^[0-9a-f]{64}$`)
	// scopeTokenRE is RFC 6749 §3.3's scope-token.
	scopeTokenRE = regexp.MustCompile(`^[\x21\x23-\x5b\x5d-\x7e]+$`)
)

func (v *validator) auth(c *Config) {
	a := &c.Auth
	v.authModes(c)
	oidc, apiKey := a.Has(AuthOIDC), a.Has(AuthAPIKey)

	if !validToken(a.APIKeyHeader) {
		v.errorf("auth.apiKeyHeader", "invalid header name %s", v.m.quote("auth.apiKeyHeader", a.APIKeyHeader))
	} else if why := forbiddenHeaders[strings.ToLower(a.APIKeyHeader)]; why != "" {
		v.errorf("auth.apiKeyHeader", "header %s cannot be used (%s)", a.APIKeyHeader, why)
	} else if strings.EqualFold(a.APIKeyHeader, "Authorization") {
		v.errorf("auth.apiKeyHeader", "cannot be Authorization: API keys are accepted there already, as Authorization: Bearer mcpg_…")
	} else if alwaysForwarded(a.APIKeyHeader) {
		v.errorf("auth.apiKeyHeader", "cannot be %s: that header is forwarded to the backend, and the key with it", a.APIKeyHeader)
	}

	switch {
	case a.Resource != "":
		if msg := checkAuthURL(a.Resource, false); msg != "" {
			v.errorf("auth.resource", "%s %s", v.m.quote("auth.resource", a.Resource), msg)
		}
	case oidc || apiKey:
		v.errorf("auth.resource", "required with mode oidc or apiKey: the absolute URL clients use for this endpoint, e.g. https://gw.example.com%s (tokens are issued for it, and 401 challenges point to its metadata)", c.Path)
	}
	if strings.ContainsAny(a.ResourceName, "\x00\r\n") {
		v.errorf("auth.resourceName", "must not contain control characters")
	}
	for i, s := range a.AuthorizationServers {
		p := joinIndex("auth.authorizationServers", i)
		if msg := checkAuthURL(s, false); msg != "" {
			v.errorf(p, "%s %s", v.m.quote(p, s), msg)
		}
	}
	v.scopes("auth.scopesSupported", a.ScopesSupported)

	v.oidc(c, oidc)

	switch {
	case !apiKey && len(a.APIKeys) > 0:
		v.errorf("auth.apiKeys", "is set but auth.mode does not include apiKey")
	case apiKey && len(a.APIKeys) == 0:
		v.errorf("auth.apiKeys", "required with mode apiKey: at least one key (create one with: mcpgate apikey new --subject NAME)")
	}
	digests := map[string]int{}
	for i, k := range a.APIKeys {
		p := joinIndex("auth.apiKeys", i)
		switch {
		case k.Subject == "":
			v.errorf(p+".subject", "required")
		case !validHeaderValue(k.Subject) || strings.ContainsRune(k.Subject, '\t'):
			v.errorf(p+".subject", "must not contain control characters")
		}
		switch {
		case k.SHA256 == "":
			v.errorf(p+".sha256", "required: the hex SHA-256 digest of the key (mcpgate apikey new prints it)")
		case !sha256HexRE.MatchString(k.SHA256):
			v.errorf(p+".sha256", "must be 64 hexadecimal digits (the SHA-256 digest of the key, not the key itself)")
		default:
			if first, dup := digests[k.SHA256]; dup {
				v.errorf(p+".sha256", "duplicate digest (also auth.apiKeys[%d]): each key must map to one subject", first)
			} else {
				digests[k.SHA256] = i
			}
		}
		for j, g := range k.Groups {
			if g == "" {
				v.errorf(joinIndex(p+".groups", j), "must not be empty")
			}
		}
	}
}

func (v *validator) authModes(c *Config) {
	modes := c.Auth.Mode
	if len(modes) == 0 {
		v.errorf("auth.mode", "required: set auth.mode to oidc, apiKey or anonymous, or a list of them (anonymous serves clients without authentication)")
	}
	lineOf := func(i int) string {
		if ip := joinIndex("auth.mode", i); v.m != nil && v.m.lines[ip] != 0 {
			return ip
		}
		return "auth.mode"
	}
	seen := map[AuthMode]bool{}
	for i, m := range modes {
		switch m {
		case AuthAnonymous, AuthOIDC, AuthAPIKey:
		default:
			v.errorAtLineOf("auth.mode", lineOf(i), "unknown mode %s (valid: anonymous, apiKey, oidc)", shorten(string(m)))
		}
		if seen[m] {
			v.errorAtLineOf("auth.mode", lineOf(i), "%q is listed twice", m)
		}
		seen[m] = true
	}
	if seen[AuthAnonymous] && !c.Auth.AllowAnonymousOnPublicListener && checkListen(c.Listen) == nil && !IsLoopback(c.Listen) {
		v.errorf("auth.mode", "anonymous access on the non-loopback listen address %s: anyone who can reach it can use the backends; set auth.allowAnonymousOnPublicListener: true if that is intended",
			v.m.quote("listen", c.Listen))
	}
}

func (v *validator) oidc(c *Config, on bool) {
	o := &c.Auth.OIDC
	present := len(o.Issuers) > 0 || c.isSet("auth.oidc")
	switch {
	case !on && present:
		v.errorf("auth.oidc", "is set but auth.mode does not include oidc")
		return
	case !on:
		return
	case len(o.Issuers) == 0:
		v.errorf("auth.oidc", "required with mode oidc: one issuer (auth.oidc.issuer and auth.oidc.audience) or a list under auth.oidc.issuers")
	}
	seen := map[string]int{}
	for i := range o.Issuers {
		is := &o.Issuers[i]
		p := c.issuerPath(i)
		switch {
		case is.Issuer == "":
			v.errorf(p+".issuer", "required: the issuer URL, exactly as in the tokens' iss claim")
		default:
			if msg := checkAuthURL(is.Issuer, false); msg != "" {
				v.errorf(p+".issuer", "%s %s", v.m.quote(p+".issuer", is.Issuer), msg)
			}
			if first, dup := seen[is.Issuer]; dup {
				v.errorf(p+".issuer", "duplicate issuer %s (also %s)", shorten(is.Issuer), c.issuerPath(first))
			} else {
				seen[is.Issuer] = i
			}
		}
		if len(is.Audiences) == 0 {
			v.errorf(p+".audience", "required: the audience value(s) tokens for this gateway carry in aud (often auth.resource or a client id)")
		}
		for j, aud := range is.Audiences {
			if aud == "" {
				ap := p + ".audience"
				if len(is.Audiences) > 1 || v.m != nil && v.m.set[joinIndex(ap, j)] {
					ap = joinIndex(ap, j)
				}
				v.errorf(ap, "must not be empty")
			}
		}
		if is.JWKSURL != "" {
			if msg := checkAuthURL(is.JWKSURL, true); msg != "" {
				v.errorf(p+".jwksURL", "%s %s", v.m.quote(p+".jwksURL", is.JWKSURL), msg)
			}
		}
		v.scopes(p+".requiredScopes", is.RequiredScopes)
		// RFC 9068 access tokens are the one type worth requiring: an
		// ID token the same issuer signed for an accepted audience must
		// not pass for an access token.
		if t := is.RequireTokenType; t != "" && t != "at+jwt" {
			v.errorf(p+".requireTokenType", "unsupported token type %s (valid: at+jwt, the RFC 9068 JWT access token type; omit the key to accept any typ)", v.m.quote(p+".requireTokenType", t))
		}
	}
	v.nonNegative("auth.oidc.skew", o.Skew)
	if o.Skew > 10*time.Minute {
		v.errorf("auth.oidc.skew", "must be at most 10m, got %s (a large skew accepts tokens long after they expire)", o.Skew)
	}
	v.nonNegative("auth.oidc.tokenCacheTTL", o.TokenCacheTTL)
	if o.TokenCacheSize < 0 {
		v.errorf("auth.oidc.tokenCacheSize", "must not be negative, got %d", o.TokenCacheSize)
	}
	v.positiveDuration("auth.oidc.jwksRefreshInterval", o.JWKSRefreshInterval)
	v.positiveDuration("auth.oidc.jwksMinRefreshInterval", o.JWKSMinRefreshInterval)
	if o.JWKSMinRefreshInterval > o.JWKSRefreshInterval {
		v.errorf("auth.oidc.jwksMinRefreshInterval", "must be at most jwksRefreshInterval (%s), got %s", o.JWKSRefreshInterval, o.JWKSMinRefreshInterval)
	}
	v.positiveDuration("auth.oidc.fetchTimeout", o.FetchTimeout)
}

func (v *validator) scopes(p string, scopes []string) {
	for i, s := range scopes {
		sp := joinIndex(p, i)
		if !scopeTokenRE.MatchString(s) {
			v.errorf(sp, "invalid scope %s (printable ASCII without spaces, quotes or backslashes)", v.m.quote(sp, s))
		}
	}
}

// checkAuthURL checks an absolute URL the auth section relies on: https,
// or http to a loopback host (for local testing); no credentials, no
// fragment, and — unless allowQuery — no query.
func checkAuthURL(s string, allowQuery bool) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		return "is not an absolute URL (e.g. https://idp.example.com)"
	}
	switch {
	case u.Host == "" || u.Hostname() == "":
		return "has no host"
	case u.User != nil:
		return "must not contain user information"
	case u.Fragment != "" || strings.Contains(s, "#"):
		return "must not have a fragment (#…)"
	case !allowQuery && (u.RawQuery != "" || u.ForceQuery):
		return "must not have a query (?…)"
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !IsLoopback(u.Hostname()) {
			return "must use https (http is only allowed for a loopback host)"
		}
	default:
		return "must use https"
	}
	return ""
}

// authWarnings lists valid but risky auth settings.
func (c *Config) authWarnings() []string {
	var w []string
	a := &c.Auth
	if a.Anonymous() && len(a.Mode) > 1 {
		w = append(w, fmt.Sprintf("auth.mode %v includes anonymous: requests without a credential are served without an identity (a credential that is presented is still verified)", a.Mode))
	}
	if a.Resource != "" {
		if u, err := url.Parse(a.Resource); err == nil && strings.TrimSuffix(u.Path, "/") != strings.TrimSuffix(c.Path, "/") {
			w = append(w, fmt.Sprintf("auth.resource %s has path %q but the MCP endpoint is at path %q: clients that derive the resource from the URL they use will ask for tokens with the wrong audience", a.Resource, u.Path, c.Path))
		}
	}
	if a.Has(AuthOIDC) && a.OIDC.TokenCacheTTL > 10*time.Minute {
		w = append(w, fmt.Sprintf("auth.oidc.tokenCacheTTL %s: a key removed from an issuer's JWKS keeps verifying cached tokens that long", a.OIDC.TokenCacheTTL))
	}
	return w
}
