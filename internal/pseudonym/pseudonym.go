package pseudonym

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// MinKeyBytes is the least key length accepted: HMAC-SHA256's block of
// security needs at least its output size in key material.
const MinKeyBytes = 32

// HashLen is the length of a pseudonym: 16 bytes as hex.
const HashLen = 32

// Key is one pseudonymization key.
type Key struct {
	ID     string // labels the epoch in the attribute mcpgate.user.hash.key_id
	Secret []byte // at least MinKeyBytes
}

// ParseKey decodes a key as written in a secret file or variable: base64
// in the standard or URL alphabet, padded or not, surrounding whitespace
// ignored, decoding to at least MinKeyBytes bytes. Errors never include the
// key material.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("key is empty")
	}
	var b []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return nil, errors.New("key is not base64 (standard or URL alphabet); make one with `mcpgate keygen`")
	}
	if len(b) < MinKeyBytes {
		return nil, fmt.Errorf("key decodes to %d bytes; at least %d are needed (make one with `mcpgate keygen`)", len(b), MinKeyBytes)
	}
	return b, nil
}

// NewKey returns a fresh random key, base64-encoded (standard alphabet).
func NewKey() string {
	var b [MinKeyBytes]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// Pseudonymizer computes pseudonyms under a list of keys; the first is
// active. It is safe for concurrent use.
type Pseudonymizer struct {
	keys  []Key
	macs  []sync.Pool // one pool of HMAC states per key
	cache sync.Map    // principal → active pseudonym
	size  atomic.Int64
}

type principal struct{ issuer, subject string }

// maxCached bounds the memo of active pseudonyms; past it the memo starts
// over. The memo is what makes attributing a request allocation-free.
const maxCached = 10000

// New returns a Pseudonymizer for keys, which must be non-empty with unique
// ids and keys of at least MinKeyBytes.
func New(keys []Key) (*Pseudonymizer, error) {
	if len(keys) == 0 {
		return nil, errors.New("no pseudonymization key configured")
	}
	seen := map[string]bool{}
	p := &Pseudonymizer{keys: make([]Key, len(keys)), macs: make([]sync.Pool, len(keys))}
	for i, k := range keys {
		if k.ID == "" {
			return nil, fmt.Errorf("key %d has no id", i)
		}
		if seen[k.ID] {
			return nil, fmt.Errorf("key id %q appears twice", k.ID)
		}
		seen[k.ID] = true
		if len(k.Secret) < MinKeyBytes {
			return nil, fmt.Errorf("key %q is %d bytes; at least %d are needed", k.ID, len(k.Secret), MinKeyBytes)
		}
		secret := append([]byte(nil), k.Secret...)
		p.keys[i] = Key{ID: k.ID, Secret: secret}
		p.macs[i].New = func() any { return hmac.New(sha256.New, secret) }
	}
	return p, nil
}

// KeyID returns the id of the active key.
func (p *Pseudonymizer) KeyID() string { return p.keys[0].ID }

// Hash returns the principal's pseudonym under the active key and that
// key's id. After the first call for a principal it does not allocate.
func (p *Pseudonymizer) Hash(issuer, subject string) (hash, keyID string) {
	k := principal{issuer, subject}
	if v, ok := p.cache.Load(k); ok {
		return v.(string), p.keys[0].ID
	}
	h := p.compute(0, issuer, subject)
	if p.size.Add(1) > maxCached {
		p.cache.Clear()
		p.size.Store(1)
	}
	p.cache.Store(k, h)
	return h, p.keys[0].ID
}

// Pseudonym is a principal's pseudonym under one key.
type Pseudonym struct {
	KeyID string
	Hash  string
}

// All returns the principal's pseudonym under every key, active first: what
// an investigator needs to find a person's spans across a rotation.
func (p *Pseudonymizer) All(issuer, subject string) []Pseudonym {
	out := make([]Pseudonym, len(p.keys))
	for i, k := range p.keys {
		out[i] = Pseudonym{KeyID: k.ID, Hash: p.compute(i, issuer, subject)}
	}
	return out
}

func (p *Pseudonymizer) compute(i int, issuer, subject string) string {
	mac := p.macs[i].Get().(hash.Hash)
	defer p.macs[i].Put(mac)
	mac.Reset()
	// The strings are only read: viewing them as bytes avoids two copies.
	mac.Write(unsafe.Slice(unsafe.StringData(issuer), len(issuer)))
	mac.Write(separator)
	mac.Write(unsafe.Slice(unsafe.StringData(subject), len(subject)))
	var sum [sha256.Size]byte
	return hex.EncodeToString(mac.Sum(sum[:0])[:HashLen/2])
}

var separator = []byte{'\n'}
