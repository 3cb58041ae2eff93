package authn

import (
	"context"
	"crypto/sha256"
	"encoding/json"
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
	var pre struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &pre); err != nil {
		return nil, badToken("token payload is not a JSON object: %v", err)
	}
	iss := a.issuers[pre.Iss]
	if iss == nil {
		return nil, badToken("unknown issuer %s", clip(pre.Iss))
	}

	st := &verifyState{raw: token, jws: jws}
	tok, err := iss.verifier.Verify(context.WithValue(ctx, verifyStateKey{}, st), token)
	if err != nil {
		switch {
		case errors.Is(st.err, errNoKeys):
			return nil, unavailable(iss.keys.retryAfter(), "issuer %s: %v", iss.name, st.err)
		case st.err != nil:
			return nil, badToken("issuer %s: %v", iss.name, st.err)
		}
		return nil, badToken("issuer %s: %v", iss.name, err)
	}

	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, badToken("issuer %s: claims: %v", iss.name, err)
	}
	if f := a.checkClaims(iss, tok, claims, now); f != nil {
		return nil, f
	}
	if missing := missingScopes(iss.required, claims); len(missing) > 0 {
		// The detail goes to the log: it names the issuer and the scope,
		// never the subject, which is personal data (the audit log is where
		// principals are named).
		return nil, insufficientScope(iss.required, "issuer %s: token lacks scope %s", iss.name, strings.Join(missing, " "))
	}

	id := &identity.Identity{
		Subject: tok.Subject,
		Issuer:  tok.Issuer,
		Name:    stringClaim(claims, iss.nameClaim),
		Email:   stringClaim(claims, iss.emailClaim),
		Groups:  listClaim(claims, iss.groupsClaim),
		Claims:  claims,
		Method:  identity.MethodOIDC,
	}
	if a.cache != nil {
		until := now.Add(a.cache.ttl)
		if exp := tok.Expiry.Add(a.skew); exp.Before(until) {
			until = exp
		}
		e := &cacheEntry{id: id, until: until, issuer: iss, keyID: st.keyID}
		a.cache.put(&key, e, func() bool { return iss.keys.snap.Load() == st.snap })
	}
	return id, nil
}

// checkClaims applies the checks go-oidc leaves to us (its audience check
// takes one value, its expiry check has no configurable skew and accepts a
// token without exp).
func (a *Authenticator) checkClaims(iss *issuer, tok *oidc.IDToken, claims map[string]any, now time.Time) *failure {
	if tok.Issuer != iss.name {
		return badToken("issuer mismatch: %s", clip(tok.Issuer))
	}
	if !slices.ContainsFunc(tok.Audience, func(aud string) bool { return slices.Contains(iss.audiences, aud) }) {
		return badToken("issuer %s: audience mismatch: token aud %s, accepted %s", iss.name, clipList(tok.Audience), strings.Join(iss.audiences, ", "))
	}
	if _, ok := claims["exp"]; !ok || tok.Expiry.IsZero() {
		return badToken("issuer %s: token has no exp claim", iss.name)
	}
	if late := now.Sub(tok.Expiry); late > a.skew {
		return badToken("issuer %s: token expired %s ago", iss.name, ago(late))
	}
	if v, ok := claims["nbf"]; ok {
		nbf, ok := numericDate(v)
		if !ok {
			return badToken("issuer %s: nbf is not a number", iss.name)
		}
		if early := nbf.Sub(now); early > a.skew {
			return badToken("issuer %s: token not valid for another %s (nbf)", iss.name, ago(early))
		}
	}
	if !tok.IssuedAt.IsZero() {
		if early := tok.IssuedAt.Sub(now); early > a.skew {
			return badToken("issuer %s: token issued %s in the future (iat)", iss.name, ago(early))
		}
	}
	if tok.Subject == "" {
		return badToken("issuer %s: token has no sub claim", iss.name)
	}
	return nil
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
