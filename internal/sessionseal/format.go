package sessionseal

import (
	"encoding/binary"
	"errors"
	"time"
)

// formatV1 is the first byte of a plaintext: its layout, so a later
// layout can be told apart from corruption.
const formatV1 = 1

// digestLen is the length of the principal digest: 128 bits of
// HMAC-SHA256, beyond guessing within any expiry.
const digestLen = 16

// fixedLen is the part of a plaintext before the variable fields.
const fixedLen = 1 + 8 + 8 + digestLen

// Backend is one backend's session in an aggregated session.
type Backend struct {
	Name string // the backend's name in the configuration
	ID   string // the Mcp-Session-Id that backend issued
}

// Session is what a token carries. Strings returned by Open share one
// allocation; Capabilities is the client's capabilities object as raw
// JSON, held as a string so an opened Session is immutable.
type Session struct {
	BackendID     string    // relay mode: the backend's session id ("" if it issued none)
	Backends      []Backend // aggregating mode: each backend's session id, names unique
	Protocol      string    // the negotiated protocol revision
	ClientName    string    // clientInfo.name from initialize
	ClientVersion string    // clientInfo.version from initialize
	Capabilities  string    // the client's capabilities, raw JSON ("" if none)
	Replica       string    // for sessions that cannot move (stdio): the replica that owns them; "" otherwise
	Created       time.Time // kept to the second
	Expires       time.Time // kept to the second; Open refuses the token from this instant
	KeyID         string    // set by Open: the key the token was sealed under; ignored by Seal
}

var errLayout = errors.New("plaintext layout")

// appendPlaintext appends s's encoding, with the principal digest, to dst.
func appendPlaintext(dst []byte, s *Session, digest *[digestLen]byte) []byte {
	dst = append(dst, formatV1)
	dst = binary.BigEndian.AppendUint64(dst, uint64(s.Created.Unix()))
	dst = binary.BigEndian.AppendUint64(dst, uint64(s.Expires.Unix()))
	dst = append(dst, digest[:]...)
	for _, f := range [...]string{s.Protocol, s.ClientName, s.ClientVersion, s.Capabilities, s.Replica, s.BackendID} {
		dst = appendString(dst, f)
	}
	dst = binary.AppendUvarint(dst, uint64(len(s.Backends)))
	for _, b := range s.Backends {
		dst = appendString(dst, b.Name)
		dst = appendString(dst, b.ID)
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decodePlaintext parses p, the whole plaintext held as a string so that
// every field is a substring of it: one allocation for all of them. It
// returns the session and the sealed principal digest, or an error that
// is errVersion or errLayout.
func decodePlaintext(p string) (Session, [digestLen]byte, error) {
	var s Session
	var digest [digestLen]byte
	if len(p) == 0 {
		return s, digest, errLayout
	}
	if p[0] != formatV1 {
		return s, digest, errVersionPlain
	}
	if len(p) < fixedLen {
		return s, digest, errLayout
	}
	s.Created = time.Unix(be64(p[1:9]), 0)
	s.Expires = time.Unix(be64(p[9:17]), 0)
	copy(digest[:], p[17:fixedLen])
	rest := p[fixedLen:]
	var ok bool
	for _, f := range [...]*string{&s.Protocol, &s.ClientName, &s.ClientVersion, &s.Capabilities, &s.Replica, &s.BackendID} {
		if *f, rest, ok = cutString(rest); !ok {
			return Session{}, digest, errLayout
		}
	}
	n, rest, ok := cutUvarint(rest)
	// Each backend takes at least two bytes (two empty lengths): a count
	// beyond that cannot be honest and must not size an allocation.
	if !ok || n > uint64(len(rest))/2 {
		return Session{}, digest, errLayout
	}
	if n > 0 {
		s.Backends = make([]Backend, n)
		for i := range s.Backends {
			b := &s.Backends[i]
			if b.Name, rest, ok = cutString(rest); !ok {
				return Session{}, digest, errLayout
			}
			if b.ID, rest, ok = cutString(rest); !ok {
				return Session{}, digest, errLayout
			}
		}
	}
	if rest != "" {
		return Session{}, digest, errLayout
	}
	return s, digest, nil
}

// errVersionPlain is a plaintext format this build does not know.
var errVersionPlain = errors.New("plaintext format version")

func cutUvarint(p string) (uint64, string, bool) {
	var x uint64
	var shift uint
	for i := 0; i < len(p) && i < binary.MaxVarintLen64; i++ {
		c := p[i]
		if c < 0x80 {
			// A zero last byte after the first is a longer spelling of
			// a shorter number: refused, so each plaintext has one
			// encoding.
			if i == binary.MaxVarintLen64-1 && c > 1 || i > 0 && c == 0 {
				return 0, "", false
			}
			return x | uint64(c)<<shift, p[i+1:], true
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	return 0, "", false
}

func cutString(p string) (string, string, bool) {
	n, rest, ok := cutUvarint(p)
	if !ok || n > uint64(len(rest)) {
		return "", "", false
	}
	return rest[:n], rest[n:], true
}

// be64 reads a big-endian int64 from the first 8 bytes of p without
// converting p to a slice.
func be64(p string) int64 {
	var x uint64
	for i := range 8 {
		x = x<<8 | uint64(p[i])
	}
	return int64(x)
}
