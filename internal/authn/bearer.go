package authn

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// maxCredentialBytes bounds a presented token or key. Real access tokens
// are a few KiB at most; the header limit of the guard stage bounds the
// rest, this just keeps hashing and parsing cheap.
const maxCredentialBytes = 16 << 10

// Errors of ParseAuthorization.
var (
	// ErrNotBearer: the value uses another scheme (Basic, DPoP, …).
	ErrNotBearer = errors.New("authorization scheme is not Bearer")
	// ErrMalformed: a Bearer value that is not exactly one token68.
	ErrMalformed = errors.New("malformed Bearer credentials")
)

// ParseAuthorization parses one Authorization field value and returns its
// Bearer token (RFC 6750 §2.1): the scheme, matched case-insensitively, one
// or more spaces, and exactly one token68 — no second token, no auth-params,
// no control characters. Surrounding spaces and tabs (optional whitespace
// of the field) are ignored.
func ParseAuthorization(v string) (string, error) {
	v = strings.Trim(v, " \t")
	scheme, rest, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		if hasControl(v) {
			return "", ErrMalformed
		}
		return "", ErrNotBearer
	}
	tok := strings.TrimLeft(rest, " ")
	if tok == "" || len(tok) > maxCredentialBytes || !isToken68(tok) {
		return "", ErrMalformed
	}
	return tok, nil
}

// isToken68 reports whether s is an RFC 9110 token68:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return true
		}
	}
	return false
}

// credential is what a request presents.
type credential struct {
	kind  credKind
	value string
}

type credKind uint8

const (
	credNone credKind = iota
	credJWT
	credAPIKey
)

// credential finds the request's one credential. Tokens in the query
// string (access_token, RFC 6750 §2.3) are refused: MCP forbids them, and
// URLs end up in logs. Two Authorization headers, two API-key headers, or
// both at once are ambiguous and refused.
func (a *Authenticator) credential(r *http.Request) (credential, *failure) {
	if r.URL != nil && r.URL.RawQuery != "" && queryHasToken(r.URL.RawQuery) {
		return credential{}, badRequest("access token in the query string (access_token parameter)")
	}
	authz := r.Header.Values("Authorization")
	var keyHdr []string
	if a.apiKeys != nil {
		keyHdr = r.Header.Values(a.apiKeyHeader)
	}
	switch {
	case len(authz) > 1:
		return credential{}, badRequest("%d Authorization headers", len(authz))
	case len(keyHdr) > 1:
		return credential{}, badRequest("%d %s headers", len(keyHdr), a.apiKeyHeader)
	case len(authz) == 1 && len(keyHdr) == 1:
		return credential{}, badRequest("both Authorization and %s presented", a.apiKeyHeader)
	case len(keyHdr) == 1:
		k := strings.Trim(keyHdr[0], " \t")
		if k == "" || len(k) > maxCredentialBytes || hasControl(k) {
			return credential{}, badRequest("malformed %s header", a.apiKeyHeader)
		}
		return credential{credAPIKey, k}, nil
	case len(authz) == 0:
		return credential{}, nil
	}
	tok, err := ParseAuthorization(authz[0])
	switch {
	case errors.Is(err, ErrNotBearer):
		scheme, _, _ := strings.Cut(strings.Trim(authz[0], " \t"), " ")
		return credential{}, noCredential("unsupported authorization scheme " + clip(scheme))
	case err != nil:
		return credential{}, badRequest("malformed Bearer credentials")
	case a.apiKeys != nil && strings.HasPrefix(tok, APIKeyPrefix):
		return credential{credAPIKey, tok}, nil
	}
	return credential{credJWT, tok}, nil
}

// queryHasToken reports whether a raw query has an access_token parameter.
func queryHasToken(raw string) bool {
	for part := range strings.SplitSeq(raw, "&") {
		k, _, _ := strings.Cut(part, "=")
		if k == "access_token" {
			return true
		}
		if strings.ContainsAny(k, "%+") {
			if uk, err := url.QueryUnescape(k); err == nil && uk == "access_token" {
				return true
			}
		}
	}
	return false
}
