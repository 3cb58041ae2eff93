package testidp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// Key is one signing key: its kid, its algorithm and its private half.
type Key struct {
	KID    string // "" leaves the kid out of the tokens' header
	Alg    jose.SignatureAlgorithm
	Signer crypto.Signer // *rsa.PrivateKey or *ecdsa.PrivateKey
}

// NewKey makes a key for alg: a 2048-bit RSA key for RS256 and PS256, a
// P-256 key otherwise.
func NewKey(t testing.TB, kid string, alg jose.SignatureAlgorithm) *Key {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case jose.RS256, jose.PS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	return &Key{KID: kid, Alg: alg, Signer: priv}
}

// Public is the key's public half.
func (k *Key) Public() crypto.PublicKey { return k.Signer.Public() }

// JWK is the key's public half as its JWKS entry.
func (k *Key) JWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.Public(), KeyID: k.KID, Algorithm: string(k.Alg), Use: "sig"}
}

// Sign makes a compact JWS (typ "JWT") of claims with k.
func Sign(t testing.TB, k *Key, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return SignRaw(t, k, "JWT", payload)
}

// SignRaw makes a compact JWS of payload byte for byte (for payloads
// json.Marshal cannot make: a member twice, case variants in a chosen
// order), with k's kid and, unless it is "", typ in the protected header.
func SignRaw(t testing.TB, k *Key, typ string, payload []byte) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	if k.KID != "" {
		opts = opts.WithHeader("kid", k.KID)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.Alg, Key: k.Signer}, opts)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// RawJWT assembles header.payload.signature from JSON values by hand, for
// tokens a JOSE library refuses to make (alg "none", HMAC keyed with a
// public key); sign (nil: an empty signature) signs the signing input.
func RawJWT(t testing.TB, header, claims map[string]any, sign func(signingInput []byte) []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// RandomString returns n random bytes, base64url-encoded: unique jti values,
// service names and the like.
func RandomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
