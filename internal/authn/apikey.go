package authn

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/mcpgate/mcpgate/internal/identity"
)

// APIKeyPrefix starts every key `mcpgate apikey new` makes. A Bearer token
// with this prefix is taken as an API key, anything else as a JWT (which
// always starts with "ey"), so oidc and apiKey can be on together without
// ambiguity.
const APIKeyPrefix = "mcpg_"

// NewAPIKey returns a fresh API key — APIKeyPrefix followed by 32 random
// bytes in unpadded base64url — and the hex SHA-256 digest to configure.
func NewAPIKey() (key, digest string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("reading randomness: %w", err)
	}
	key = APIKeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return key, Digest(key), nil
}

// Digest returns the lower-case hex SHA-256 digest of key, the form in
// which keys are configured (auth.apiKeys[].sha256).
func Digest(key string) string {
	d := sha256.Sum256([]byte(key))
	return hex.EncodeToString(d[:])
}

// apiKeySet holds the configured digests. Only digests are kept: a copy
// of the configuration or of memory does not reveal a usable key.
type apiKeySet struct {
	entries []apiKeyEntry
}

type apiKeyEntry struct {
	digest [sha256.Size]byte
	id     *identity.Identity
}

func newAPIKeySet(keys []APIKey) (*apiKeySet, error) {
	s := &apiKeySet{}
	for i, k := range keys {
		raw, err := hex.DecodeString(strings.ToLower(k.SHA256))
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("api key %d (%s): sha256 must be 64 hex digits", i, k.Subject)
		}
		if k.Subject == "" {
			return nil, fmt.Errorf("api key %d: subject is required", i)
		}
		e := apiKeyEntry{id: &identity.Identity{
			Subject: k.Subject,
			Issuer:  identity.APIKeyIssuer,
			Groups:  slices.Clone(k.Groups),
			Method:  identity.MethodAPIKey,
		}}
		copy(e.digest[:], raw)
		for _, o := range s.entries {
			if o.digest == e.digest {
				return nil, fmt.Errorf("api key %d (%s): duplicate digest", i, k.Subject)
			}
		}
		s.entries = append(s.entries, e)
	}
	return s, nil
}

// lookup returns the identity of key, or nil. The presented key's digest is
// compared with every configured digest in constant time, and the loop does
// not stop at a match, so timing reveals neither the key nor its position.
func (s *apiKeySet) lookup(key string) *identity.Identity {
	d := sha256.Sum256([]byte(key))
	var found *identity.Identity
	for i := range s.entries {
		if subtle.ConstantTimeCompare(d[:], s.entries[i].digest[:]) == 1 {
			found = s.entries[i].id
		}
	}
	return found
}
