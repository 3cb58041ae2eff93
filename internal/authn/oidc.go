package authn

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/mcpgate/mcpgate/internal/identity"
)

// issuer is one trusted token issuer.
type issuer struct {
	name                               string // exactly the tokens' iss
	audiences                          []string
	nameClaim, emailClaim, groupsClaim string
	required                           []string // scopes every token must carry
	claimNames                         []string // claims read from its tokens (ambiguousClaim)
	tokenType                          string   // required typ ("" = any)
	keys                               *keySet
	verifier                           *oidc.IDTokenVerifier
}

// verifyJWT turns a bearer token into an identity. The order is cheap
// checks first: the cache, then the shape and the unverified iss (which
// selects the issuer), then the signature, then the claims.
func (a *Authenticator) verifyJWT(ctx context.Context, token string) (*identity.Identity, *failure) {
	now := a.now()
	var key [sha256.Size]byte
	if a.cache != nil {
		// Hash the token's bytes in place: no copy of a credential.
		key = sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
		if id := a.cache.get(&key, now); id != nil {
			return id, nil
		}
	}
	jws, err := jose.ParseSignedCompact(token, supportedAlgs)
	if err != nil {
		return nil, badToken("malformed token: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, badToken("token has %d signatures", len(jws.Signatures))
	}
	// The payload is decoded strictly here, before the signature is
	// checked, so that the issuer is chosen from the same exact-name iss the
	// claims checks read. It is the payload whose signature is verified
	// below: go-oidc verifies st.jws, parsed from the same token, and
	// checks that the verified bytes are the token's payload.
	claims, err := decodeClaims(jws.UnsafePayloadWithoutVerification())
	if err != nil {
		return nil, badToken("token %v", err)
	}
	issName, ok := claims["iss"].(string)
	if _, present := claims["iss"]; present && !ok {
		return nil, badToken("token iss is not a string")
	}
	iss := a.issuers[issName]
	if iss == nil {
		return nil, badToken("unknown issuer %s", clip(issName))
	}
	if why := ambiguousClaim(claims, iss.claimNames); why != "" {
		return nil, badToken("issuer %s: %s", iss.name, why)
	}
	if iss.tokenType != "" {
		if f := checkTokenType(iss, jws); f != nil {
			return nil, f
		}
	}

	st := &verifyState{raw: token, jws: jws}
	if _, err := iss.verifier.Verify(context.WithValue(ctx, verifyStateKey{}, st), token); err != nil {
		switch {
		case errors.Is(st.err, errNoKeys):
			return nil, unavailable(iss.keys.retryAfter(), "issuer %s: %v", iss.name, st.err)
		case st.err != nil:
			return nil, badToken("issuer %s: %v", iss.name, st.err)
		}
		return nil, badToken("issuer %s: %v", iss.name, err)
	}

	tc, f := a.checkClaims(iss, claims, now)
	if f != nil {
		return nil, f
	}
	if missing := missingScopes(iss.required, claims); len(missing) > 0 {
		// The detail goes to the log: it names the issuer and the scope,
		// never the subject, which is personal data (the audit log is where
		// principals are named).
		return nil, insufficientScope(iss.required, "issuer %s: token lacks scope %s", iss.name, strings.Join(missing, " "))
	}

	id := &identity.Identity{
		Subject: tc.sub,
		Issuer:  iss.name,
		Name:    stringClaim(claims, iss.nameClaim),
		Email:   stringClaim(claims, iss.emailClaim),
		Groups:  listClaim(claims, iss.groupsClaim),
		Claims:  claims,
		Method:  identity.MethodOIDC,
	}
	if a.cache != nil {
		until := now.Add(a.cache.ttl)
		if exp := tc.exp.Add(a.skew); exp.Before(until) {
			until = exp
		}
		e := &cacheEntry{id: id, until: until, issuer: iss, keyID: st.keyID}
		a.cache.put(&key, e, func() bool { return iss.keys.snap.Load() == st.snap })
	}
	return id, nil
}

// tokenClaims are the checked claims the identity and the cache use.
type tokenClaims struct {
	sub string
	exp time.Time
}

// checkClaims checks the registered claims, read by their exact names (go-oidc
// has checked the signature and, with its own case-insensitive decoding, the
// issuer; ambiguousClaim has made sure both decodings agree). Its audience
// check takes one value and its expiry check has no configurable skew and
// accepts a token without exp, so these are ours.
func (a *Authenticator) checkClaims(iss *issuer, claims map[string]any, now time.Time) (tokenClaims, *failure) {
	var tc tokenClaims
	if s, _ := claims["iss"].(string); s != iss.name {
		return tc, badToken("issuer mismatch: %s", clip(s))
	}
	aud, ok := audience(claims["aud"])
	if !ok {
		return tc, badToken("issuer %s: aud is not a string or a list of strings", iss.name)
	}
	if !slices.ContainsFunc(aud, func(aud string) bool { return slices.Contains(iss.audiences, aud) }) {
		return tc, badToken("issuer %s: audience mismatch: token aud %s, accepted %s", iss.name, clipList(aud), strings.Join(iss.audiences, ", "))
	}
	v, ok := claims["exp"]
	if !ok {
		return tc, badToken("issuer %s: token has no exp claim", iss.name)
	}
	if tc.exp, ok = numericDate(v); !ok {
		return tc, badToken("issuer %s: exp is not a number (a NumericDate)", iss.name)
	}
	if late := now.Sub(tc.exp); late > a.skew {
		return tc, badToken("issuer %s: token expired %s ago", iss.name, ago(late))
	}
	if v, ok := claims["nbf"]; ok {
		nbf, ok := numericDate(v)
		if !ok {
			return tc, badToken("issuer %s: nbf is not a number (a NumericDate)", iss.name)
		}
		if early := nbf.Sub(now); early > a.skew {
			return tc, badToken("issuer %s: token not valid for another %s (nbf)", iss.name, ago(early))
		}
	}
	if v, ok := claims["iat"]; ok {
		iat, ok := numericDate(v)
		if !ok {
			return tc, badToken("issuer %s: iat is not a number (a NumericDate)", iss.name)
		}
		if early := iat.Sub(now); early > a.skew {
			return tc, badToken("issuer %s: token issued %s in the future (iat)", iss.name, ago(early))
		}
	}
	switch sub, ok := claims["sub"].(string); {
	case claims["sub"] != nil && !ok:
		return tc, badToken("issuer %s: sub is not a string", iss.name)
	case sub == "":
		return tc, badToken("issuer %s: token has no sub claim", iss.name)
	default:
		tc.sub = sub
	}
	return tc, nil
}

// audience reads aud: one string or a list of strings (RFC 7519 §4.1.3);
// absent is an empty list.
func audience(v any) ([]string, bool) {
	switch v := v.(type) {
	case nil:
		return nil, true
	case string:
		return []string{v}, true
	case []any:
		out := make([]string, len(v))
		for i, s := range v {
			s, ok := s.(string)
			if !ok {
				return nil, false
			}
			out[i] = s
		}
		return out, true
	}
	return nil, false
}

// TokenTypeAccessToken is the only token type that can be required: RFC
// 9068's JWT access tokens, typ at+jwt.
const TokenTypeAccessToken = "at+jwt"

// checkTokenType applies an issuer's requireTokenType to the JOSE header's
// typ. RFC 9068 §4 accepts at+jwt and application/at+jwt; media types
// compare case-insensitively (RFC 7515 §4.1.9). It tells an access token
// from an ID token or any other JWT the same issuer signs for the same
// audience (an ID token's aud is the client id, often configured as an
// accepted audience).
func checkTokenType(iss *issuer, jws *jose.JSONWebSignature) *failure {
	typ, _ := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType].(string)
	if strings.EqualFold(typ, iss.tokenType) || strings.EqualFold(typ, "application/"+iss.tokenType) {
		return nil
	}
	if typ == "" {
		return badToken("issuer %s: token has no typ header, %s required", iss.name, iss.tokenType)
	}
	return badToken("issuer %s: token typ %s, %s required", iss.name, clip(typ), iss.tokenType)
}

func numericDate(v any) (time.Time, bool) {
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1<<40 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// missingScopes returns the required scopes the token's scope (a
// space-separated string, RFC 8693/9068) or scp (a string or a list, as
// some issuers send) lacks.
func missingScopes(required []string, claims map[string]any) []string {
	if len(required) == 0 {
		return nil
	}
	var have []string
	for _, name := range []string{"scope", "scp"} {
		switch v := claims[name].(type) {
		case string:
			have = append(have, strings.Fields(v)...)
		case []any:
			for _, s := range v {
				if s, ok := s.(string); ok {
					have = append(have, s)
				}
			}
		}
	}
	var missing []string
	for _, r := range required {
		if !slices.Contains(have, r) {
			missing = append(missing, r)
		}
	}
	return missing
}

func stringClaim(claims map[string]any, name string) string {
	if name == "" {
		return ""
	}
	s, _ := claims[name].(string)
	return s
}

// listClaim reads a claim that is a list of strings, or one string.
func listClaim(claims map[string]any, name string) []string {
	if name == "" {
		return nil
	}
	switch v := claims[name].(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, s := range v {
			if s, ok := s.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func clipList(l []string) string {
	q := make([]string, 0, min(len(l), 4))
	for i, s := range l {
		if i == 4 {
			q = append(q, fmt.Sprintf("… (%d more)", len(l)-i))
			break
		}
		q = append(q, clip(s))
	}
	return "[" + strings.Join(q, ", ") + "]"
}
