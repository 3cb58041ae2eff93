package sessionseal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// KeyBytes is the length of a sealing key: AES-256.
const KeyBytes = 32

// MaxKeyIDLen bounds a key id, which every token carries in the clear.
const MaxKeyIDLen = 32

// MaxTokenLen is the longest token Seal issues and Open reads, in
// characters. A client echoes the session id on every request, and
// proxies bound header lines (nginx's default buffer is 8 KiB for the
// whole line); 2,048 leaves room for about 1,500 bytes of state — a
// relayed session with a typical client declaration makes a token of
// ~270 characters, three aggregated backends ~400.
const MaxTokenLen = 2048

// tokenVersion is the token's first field.
const tokenVersion = "1"

// overhead is the AEAD's: the nonce before the ciphertext, the tag after.
const (
	nonceLen = 12
	tagLen   = 16
	overhead = nonceLen + tagLen
)

// maxSealed bounds the decoded bytes of any token MaxTokenLen allows.
const maxSealed = MaxTokenLen * 3 / 4

// digestInfo is HKDF's info for the principal digest key: fixed, so the
// derivation happens once per key, at New.
const digestInfo = "mcpgate sessionseal v1 principal digest"

// b64 decodes strictly: no padding, no stray bits, so that no two
// strings decode to the same sealed bytes.
var b64 = base64.RawURLEncoding.Strict()

// ErrTooLarge is returned by Seal when the session would not fit in
// MaxTokenLen.
var ErrTooLarge = errors.New("session state too large for a session token")

// Key is one sealing key.
type Key struct {
	ID     string // in every token sealed under it: 1–32 of [A-Za-z0-9_-]
	Secret []byte // exactly KeyBytes, used as the AES-256 key as given
}

type ringKey struct {
	id     string
	header string // "1.<id>.": the token prefix
	aad    []byte // header as bytes: the AEAD's additional data
	aead   cipher.AEAD
	macs   sync.Pool // HMAC-SHA256 states under the digest key
}

// Ring seals under its first key and opens under any. It is safe for
// concurrent use.
type Ring struct {
	keys []*ringKey
	now  func() time.Time
	bufs sync.Pool // *[]byte scratch of 2*maxSealed bytes
}

// Options configures a Ring; a nil *Options means the zero value.
type Options struct {
	// Now is the clock expiry is checked against; nil means time.Now.
	Now func() time.Time
}

// New returns a Ring for keys, which must be non-empty, with unique valid
// ids and secrets of exactly KeyBytes. Errors never include key material.
func New(keys []Key, opts *Options) (*Ring, error) {
	if len(keys) == 0 {
		return nil, errors.New("no session key configured")
	}
	r := &Ring{now: time.Now}
	if opts != nil && opts.Now != nil {
		r.now = opts.Now
	}
	// Room for a plaintext and its sealed form side by side (Seal), or a
	// sealed form and its plaintext (Open).
	r.bufs.New = func() any { b := make([]byte, 0, 2*maxSealed); return &b }
	seen := map[string]bool{}
	for i, k := range keys {
		if err := checkKeyID(k.ID); err != nil {
			return nil, fmt.Errorf("session key %d: %w", i, err)
		}
		if seen[k.ID] {
			return nil, fmt.Errorf("session key id %q appears twice", k.ID)
		}
		seen[k.ID] = true
		if len(k.Secret) != KeyBytes {
			return nil, fmt.Errorf("session key %q is %d bytes; exactly %d are needed", k.ID, len(k.Secret), KeyBytes)
		}
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("session key %q: %w", k.ID, err)
		}
		aead, err := cipher.NewGCMWithRandomNonce(block)
		if err != nil {
			return nil, fmt.Errorf("session key %q: %w", k.ID, err)
		}
		macKey, err := hkdf.Key(sha256.New, k.Secret, nil, digestInfo, sha256.Size)
		if err != nil {
			return nil, fmt.Errorf("session key %q: %w", k.ID, err)
		}
		header := tokenVersion + "." + k.ID + "."
		rk := &ringKey{id: k.ID, header: header, aad: []byte(header), aead: aead}
		rk.macs.New = func() any { return hmac.New(sha256.New, macKey) }
		r.keys = append(r.keys, rk)
	}
	return r, nil
}

func checkKeyID(id string) error {
	if id == "" || len(id) > MaxKeyIDLen {
		return fmt.Errorf("key id must be 1 to %d characters", MaxKeyIDLen)
	}
	for i := 0; i < len(id); i++ {
		if !isIDChar(id[i]) {
			return fmt.Errorf("key id %q: only letters, digits, '-' and '_' are allowed", id)
		}
	}
	return nil
}

func isIDChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// KeyID returns the id of the key Seal uses.
func (r *Ring) KeyID() string { return r.keys[0].id }

// Seal appends to dst the token for s, owned by the principal (issuer,
// subject), under the first key. s.Expires must be after s.Created and
// after now; capabilities, if any, must be valid JSON; backend names must
// be unique. It returns ErrTooLarge, without appending, if the token would
// be longer than MaxTokenLen.
func (r *Ring) Seal(dst []byte, s *Session, issuer, subject string) ([]byte, error) {
	if !s.Expires.After(s.Created) || !s.Expires.After(r.now()) {
		return dst, errors.New("session expiry must be after its creation and in the future")
	}
	if s.Capabilities != "" && !json.Valid(bytesOf(s.Capabilities)) {
		return dst, errors.New("session capabilities are not valid JSON")
	}
	for i := range s.Backends {
		for j := range i {
			if s.Backends[i].Name == s.Backends[j].Name {
				return dst, fmt.Errorf("backend %q appears twice in the session", s.Backends[i].Name)
			}
		}
	}
	k := r.keys[0]
	if n := plainLen(s) + overhead; n > maxSealed || len(k.header)+base64.RawURLEncoding.EncodedLen(n) > MaxTokenLen {
		return dst, ErrTooLarge
	}
	bp := r.bufs.Get().(*[]byte)
	defer r.bufs.Put(bp)
	var digest [digestLen]byte
	k.digest(&digest, (*bp)[:0], issuer, subject)
	plain := appendPlaintext((*bp)[:0], s, &digest)
	// The sealed form goes into the scratch right after the plaintext
	// (the scratch holds both): the random-nonce AEAD writes its nonce
	// first, so it cannot seal in place.
	sealed := k.aead.Seal(plain[len(plain):len(plain):cap(plain)], nil, plain, k.aad)
	dst = append(dst, k.header...)
	dst = base64.RawURLEncoding.AppendEncode(dst, sealed)
	clear(plain)
	return dst, nil
}

// plainLen is the exact length of s's plaintext.
func plainLen(s *Session) int {
	n := fixedLen
	for _, f := range [...]string{s.Protocol, s.ClientName, s.ClientVersion, s.Capabilities, s.Replica, s.BackendID} {
		n += strLen(f)
	}
	n += uvarintLen(uint64(len(s.Backends)))
	for _, b := range s.Backends {
		n += strLen(b.Name) + strLen(b.ID)
	}
	return n
}

func strLen(s string) int { return uvarintLen(uint64(len(s))) + len(s) }

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// digest writes the principal digest under k's digest key, building
// its input in scratch (the HMAC is an interface: anything handed to it
// escapes, so the pooled scratch spares an allocation per call). Issuer
// and subject are length-prefixed so that no two pairs share an input.
func (k *ringKey) digest(out *[digestLen]byte, scratch []byte, issuer, subject string) {
	in := binary.AppendUvarint(scratch[:0], uint64(len(issuer)))
	in = append(in, issuer...)
	in = append(in, subject...)
	h := k.macs.Get().(hash.Hash)
	h.Write(in)
	sum := h.Sum(in[len(in):])
	copy(out[:], sum)
	clear(in) // the subject does not linger in pooled memory
	h.Reset()
	k.macs.Put(h)
}

// bytesOf views s as bytes without copying, for functions that only read
// their argument (the base64 decoder, json.Valid).
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// Open returns the session token carries if it was sealed under a key of
// the ring, has not expired, and belongs to the principal (issuer,
// subject). Every error satisfies errors.Is(err, ErrInvalid), and exactly
// one of the kinds (ErrMalformed, ...); answer the client the same way for
// all of them.
func (r *Ring) Open(token, issuer, subject string) (Session, error) {
	if len(token) > MaxTokenLen {
		return Session{}, errMalformed
	}
	ver, rest, ok := strings.Cut(token, ".")
	if !ok {
		return Session{}, errMalformed
	}
	if ver != tokenVersion {
		return Session{}, errVersion
	}
	id, payload, ok := strings.Cut(rest, ".")
	if !ok || checkKeyID(id) != nil {
		return Session{}, errMalformed
	}
	var k *ringKey
	for _, c := range r.keys {
		if c.id == id {
			k = c
			break
		}
	}
	if k == nil {
		return Session{}, errUnknownKey
	}
	if base64.RawURLEncoding.DecodedLen(len(payload)) < overhead {
		return Session{}, errMalformed
	}
	// The strict decoder refuses every byte outside the alphabet but skips
	// '\r' and '\n'; refusing those first keeps one token string per
	// sealed value. (IndexByte is vectorized: a per-byte alphabet check
	// here was a fifth of Open's time.)
	if strings.IndexByte(payload, '\r') >= 0 || strings.IndexByte(payload, '\n') >= 0 {
		return Session{}, errMalformed
	}
	bp := r.bufs.Get().(*[]byte)
	defer r.bufs.Put(bp)
	sealed, err := b64.AppendDecode((*bp)[:0], bytesOf(payload))
	if err != nil || len(sealed) < overhead {
		return Session{}, errMalformed
	}
	// Decrypt into the scratch after the sealed bytes: in place, the
	// random-nonce AEAD would first shift the ciphertext over its nonce.
	plain, err := k.aead.Open(sealed[len(sealed):len(sealed):cap(sealed)], nil, sealed, k.aad)
	if err != nil {
		return Session{}, errTampered
	}
	// Authenticated from here on: a layout error is this build refusing a
	// layout it did not write, not an attacker's input.
	s, sealedDigest, err := decodePlaintext(string(plain))
	clear(plain)
	switch {
	case errors.Is(err, errVersionPlain):
		return Session{}, errVersion
	case err != nil:
		return Session{}, errMalformed
	}
	if !r.now().Before(s.Expires) {
		return Session{}, errExpired
	}
	var digest [digestLen]byte
	k.digest(&digest, (*bp)[:0], issuer, subject)
	if subtle.ConstantTimeCompare(digest[:], sealedDigest[:]) != 1 {
		return Session{}, errPrincipal
	}
	s.KeyID = k.id
	return s, nil
}
