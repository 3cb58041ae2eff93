package authn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// Claims are decoded strictly, and read case-sensitively.
//
// RFC 7519 §4 makes claim names case-sensitive, but encoding/json matches
// an object's keys to struct fields case-insensitively, and when two keys
// match one field the last one wins. go-oidc decodes iss, sub, aud, exp,
// nbf and iat that way, so a signed token carrying {"sub":"alice",
// "Sub":"admin"} used to authenticate admin, and one with an expired exp
// beside a future "Exp" was accepted. Issuers do not sign such tokens on
// purpose, but they do sign what they are asked to put in a token (a
// user-editable profile attribute mapped to a custom claim, a client's
// requested claims): the gateway must not let a claim it reads be
// shadowed.
//
// So the payload is decoded once, by decodeClaims, into a map that keeps
// every key as written, and every claim the gateway reads is looked up in
// that map by its exact name. On top of that, a payload is refused when a
// key appears twice, or when several keys fold (case-insensitively, as
// encoding/json folds them) to one of the claims the gateway reads: any
// other consumer decoding it case-insensitively would disagree with us.

// registeredClaims are the claims of RFC 7519 §4.1, and those of RFC 8693
// and RFC 9068 the gateway reads or that identify the token's holder. A
// payload with two spellings of any of them is refused.
var registeredClaims = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope", "scp", "client_id", "azp"}

// decodeClaims decodes a JWT payload: a JSON object, in valid UTF-8, with
// no key appearing twice and nothing after the object. Values are decoded
// as encoding/json decodes into any (numbers are float64).
func decodeClaims(payload []byte) (map[string]any, error) {
	if !utf8.Valid(payload) {
		// encoding/json would replace invalid bytes with U+FFFD, so two
		// different keys could decode to one.
		return nil, errors.New("payload is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	if tok, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("payload is not a JSON object: %w", err)
	} else if tok != json.Delim('{') {
		return nil, errors.New("payload is not a JSON object")
	}
	claims := map[string]any{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("payload is not a JSON object: %w", err)
		}
		name, ok := tok.(string)
		if !ok { // the decoder never returns a non-string key; be explicit
			return nil, errors.New("payload is not a JSON object")
		}
		if _, dup := claims[name]; dup {
			return nil, fmt.Errorf("claim %s appears twice", clip(name))
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("payload is not a JSON object: claim %s: %w", clip(name), err)
		}
		claims[name] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, fmt.Errorf("payload is not a JSON object: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("payload has data after the JSON object")
	}
	return claims, nil
}

// claimNames returns the names the gateway reads from an issuer's tokens:
// the registered claims and the configured name, email and groups claims.
func claimNames(nameClaim, emailClaim, groupsClaim string) []string {
	names := slices.Clone(registeredClaims)
	for _, n := range []string{nameClaim, emailClaim, groupsClaim} {
		if n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

// ambiguousClaim returns a reason when several keys of claims fold to one
// of names (e.g. "sub" and "Sub", or "Exp" and "EXP"), "" otherwise. The
// folding is strings.EqualFold's, the one encoding/json matches field names
// with (it also folds U+017F ſ to s and U+212A K to k).
func ambiguousClaim(claims map[string]any, names []string) string {
	for _, n := range names {
		var spellings []string
		for k := range claims {
			if strings.EqualFold(k, n) {
				spellings = append(spellings, k)
			}
		}
		if len(spellings) > 1 {
			slices.Sort(spellings)
			return fmt.Sprintf("claim %s appears under %d spellings %s (claim names are case-sensitive)", n, len(spellings), clipList(spellings))
		}
	}
	return ""
}
