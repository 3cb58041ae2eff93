package authz

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// A small forward scanner over JSON bytes. List filtering needs the byte
// spans of a result's members and array elements (so that what it keeps is
// copied as the backend sent it, never re-encoded), and the argument
// converter needs to walk a value without materializing what lies beyond
// its bounds. encoding/json offers neither cheaply.

var errSyntax = errors.New("authz: malformed JSON")

// maxScanDepth bounds the nesting the scanner follows (a backend's result
// or a client's arguments); past it the input is rejected rather than
// recursed into.
const maxScanDepth = 128

type scan struct {
	b     []byte
	pos   int
	depth int
}

func (s *scan) ws() {
	for s.pos < len(s.b) {
		switch s.b[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (s *scan) peek() byte {
	s.ws()
	if s.pos >= len(s.b) {
		return 0
	}
	return s.b[s.pos]
}

// str scans a string token at pos and returns its raw bytes (quotes
// included) and whether it holds an escape.
func (s *scan) str() (raw []byte, escaped bool, err error) {
	if s.peek() != '"' {
		return nil, false, errSyntax
	}
	start := s.pos
	i := s.pos + 1
	for i < len(s.b) {
		c := s.b[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return s.b[start:s.pos], escaped, nil
		case c == '\\':
			// Validated here, not only when unquoted: a skipped string with a
			// bad escape would make the filtered result invalid JSON that
			// readers could split differently than the scanner did.
			escaped = true
			if i+1 >= len(s.b) {
				return nil, false, errSyntax
			}
			switch s.b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s.b) || !isHex4(s.b[i+2:i+6]) {
					return nil, false, errSyntax
				}
				i += 6
			default:
				return nil, false, errSyntax
			}
		case c < 0x20:
			return nil, false, errSyntax
		default:
			i++
		}
	}
	return nil, false, errSyntax
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// unquote decodes a string token str returned.
func unquote(raw []byte, escaped bool) (string, bool) {
	if !escaped {
		inner := raw[1 : len(raw)-1]
		if !utf8.Valid(inner) {
			return "", false
		}
		return string(inner), true
	}
	var v string
	if json.Unmarshal(raw, &v) != nil {
		return "", false
	}
	return v, true
}

// skip scans over one value of any kind.
func (s *scan) skip() error {
	switch s.peek() {
	case '"':
		_, _, err := s.str()
		return err
	case '{':
		return s.object(func([]byte, bool) error { return s.skip() })
	case '[':
		return s.array(func() error { return s.skip() })
	case 't':
		return s.lit("true")
	case 'f':
		return s.lit("false")
	case 'n':
		return s.lit("null")
	default:
		_, err := s.number()
		return err
	}
}

func (s *scan) lit(l string) error {
	if len(s.b)-s.pos < len(l) || string(s.b[s.pos:s.pos+len(l)]) != l {
		return errSyntax
	}
	s.pos += len(l)
	return nil
}

// number scans a JSON number and returns its text.
func (s *scan) number() ([]byte, error) {
	start := s.pos
	i := s.pos
	if i < len(s.b) && s.b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s.b) && s.b[i] >= '0' && s.b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s.b) && s.b[i] == '0' {
		i++
	} else if digits() == 0 {
		return nil, errSyntax
	}
	if i < len(s.b) && s.b[i] == '.' {
		i++
		if digits() == 0 {
			return nil, errSyntax
		}
	}
	if i < len(s.b) && (s.b[i] == 'e' || s.b[i] == 'E') {
		i++
		if i < len(s.b) && (s.b[i] == '+' || s.b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return nil, errSyntax
		}
	}
	s.pos = i
	return s.b[start:i], nil
}

// object scans an object, calling member for each member with the name's
// raw token once pos is at the member's value; member must consume it.
func (s *scan) object(member func(name []byte, escaped bool) error) error {
	if s.peek() != '{' {
		return errSyntax
	}
	if s.depth++; s.depth > maxScanDepth {
		return errSyntax
	}
	s.pos++
	if s.peek() == '}' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		name, esc, err := s.str()
		if err != nil {
			return err
		}
		if s.peek() != ':' {
			return errSyntax
		}
		s.pos++
		s.ws()
		if err := member(name, esc); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			s.depth--
			return nil
		default:
			return errSyntax
		}
	}
}

// array scans an array, calling elem with pos at each element; elem must
// consume it.
func (s *scan) array(elem func() error) error {
	if s.peek() != '[' {
		return errSyntax
	}
	if s.depth++; s.depth > maxScanDepth {
		return errSyntax
	}
	s.pos++
	if s.peek() == ']' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		s.ws()
		if err := elem(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			s.depth--
			return nil
		default:
			return errSyntax
		}
	}
}

// end reports whether only white space is left.
func (s *scan) end() bool { return s.peek() == 0 && s.pos == len(s.b) }

// nameIs reports whether the raw name token equals want, ignoring ASCII
// case: a reader such as Go's encoding/json matches member names that way,
// so a check that matched only the exact spelling could be sidestepped.
func nameIs(raw []byte, escaped bool, want string) bool {
	if escaped {
		v, ok := unquote(raw, true)
		return ok && equalFold([]byte(v), want)
	}
	return equalFold(raw[1:len(raw)-1], want)
}

func equalFold(a []byte, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
