package jsonrpc

import (
	"bytes"
	"unicode"
	"unicode/utf8"
)

// This file is the lexical half of the parser: one forward pass over the body
// that validates strict JSON (RFC 8259 grammar, UTF-8, paired surrogate
// escapes, bounded nesting, no two member names of one object equal ignoring
// case). parse.go drives it and picks out the members MCP cares about.

// scanString failure reasons.
type strFail uint8

const (
	failNone strFail = iota
	failEOF
	failControl
	failUTF8
	failEscape
	failSurrogate
)

// scanString flags.
const (
	strEscaped  = 1 << iota // contains a backslash escape
	strNonASCII             // contains bytes >= 0x80
)

// strPlain marks the bytes a string can hold without a closer look: printable
// ASCII other than '"' and '\\'. Everything else leaves the fast loop.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanString scans the string token whose opening quote is buf[i]. On success
// it returns the offset just past the closing quote; on failure it returns the
// offset of the offending byte and why.
func scanString(buf []byte, i int) (end int, flags uint8, fail strFail) {
	j := i + 1
	for {
		for j < len(buf) && strPlain[buf[j]] {
			j++
		}
		if j >= len(buf) {
			return j, flags, failEOF
		}
		c := buf[j]
		switch {
		case c == '"':
			return j + 1, flags, failNone
		case c == '\\':
			flags |= strEscaped
			if j+1 >= len(buf) {
				return j + 1, flags, failEOF
			}
			switch buf[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				r := hex4(buf[j+2:])
				switch {
				case r < 0:
					return j, flags, failEscape
				case r >= 0xD800 && r < 0xDC00:
					// A high surrogate must be followed at once by an
					// escaped low one, or the string has no UTF-8 form.
					if j+8 > len(buf) || buf[j+6] != '\\' || buf[j+7] != 'u' {
						return j, flags, failSurrogate
					}
					lo := hex4(buf[j+8:])
					if lo < 0xDC00 || lo > 0xDFFF {
						return j, flags, failSurrogate
					}
					j += 12
				case r >= 0xDC00 && r < 0xE000:
					return j, flags, failSurrogate
				default:
					j += 6
				}
			default:
				return j, flags, failEscape
			}
		case c < 0x20:
			return j, flags, failControl
		default:
			flags |= strNonASCII
			r, size := utf8.DecodeRune(buf[j:])
			if r == utf8.RuneError && size == 1 {
				return j, flags, failUTF8
			}
			j += size
		}
	}
}

// scanNumber scans the number token starting at buf[i] ('-' or a digit). It
// returns the end offset and whether the number is an integer (no fraction,
// no exponent); ok is false (end at the bad byte) when the grammar is broken.
func scanNumber(buf []byte, i int) (end int, isInt, ok bool) {
	j := i
	if buf[j] == '-' {
		j++
	}
	switch {
	case j >= len(buf):
		return j, false, false
	case buf[j] == '0':
		j++
	case '1' <= buf[j] && buf[j] <= '9':
		j++
		for j < len(buf) && isDigit(buf[j]) {
			j++
		}
	default:
		return j, false, false
	}
	isInt = true
	if j < len(buf) && buf[j] == '.' {
		isInt = false
		j++
		if j >= len(buf) || !isDigit(buf[j]) {
			return j, false, false
		}
		for j < len(buf) && isDigit(buf[j]) {
			j++
		}
	}
	if j < len(buf) && (buf[j] == 'e' || buf[j] == 'E') {
		isInt = false
		j++
		if j < len(buf) && (buf[j] == '+' || buf[j] == '-') {
			j++
		}
		if j >= len(buf) || !isDigit(buf[j]) {
			return j, false, false
		}
		for j < len(buf) && isDigit(buf[j]) {
			j++
		}
	}
	return j, isInt, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// valKind is what value() found.
type valKind uint8

const (
	vErr valKind = iota
	vString
	vInt
	vFloat
	vObject
	vArray
	vTrue
	vFalse
	vNull
)

// nameRef locates one member name of an open object for the duplicate check:
// in the body when the name has no escapes, else in scanner.nameBuf, decoded.
type nameRef struct {
	start, end int
	// quick is the length and first byte (lower-cased) of an ASCII name, 0
	// for others: two ASCII names whose quick differ cannot be equal, which
	// settles most comparisons without touching the names.
	quick   uint32
	decoded bool
}

func quickKey(name []byte, ascii bool) uint32 {
	if !ascii || len(name) == 0 {
		return 0
	}
	return uint32(len(name))<<8 | uint32(lowerASCII(name[0]))
}

// frame is one open object. Its names are names[names:]; past smallObject
// members the check switches to a set of folded names.
type frame struct {
	names   int
	nameBuf int
	n       int
	set     map[string]struct{}
}

// smallObject is the member count up to which duplicates are found by
// comparing with every earlier name; that is cheaper than hashing for the
// handful of members JSON-RPC messages have.
const smallObject = 16

// scanner holds the state of one parse. It is pooled, so its slices are
// reused and a parse of a typical message allocates none of them.
type scanner struct {
	buf      []byte
	pos      int
	depth    int
	maxDepth int

	err     *Error // first syntax error: scanning stops
	invalid *Error // first shape error: scanning goes on, so that a syntax error later still wins

	names    []nameRef
	frames   []frame
	nameBuf  []byte // decoded names that had escapes
	tmp      []byte // scratch: fold keys, decoded values to compare
	nameAt   int    // offset of the opening quote of the last member name
	strs     []byte // decoded strings of the message being parsed
	pend     []pending
	maxBatch int
}

func (s *scanner) init(buf []byte, maxDepth int) {
	s.buf, s.pos, s.depth, s.maxDepth = buf, 0, 0, maxDepth
	s.err, s.invalid = nil, nil
	s.names, s.frames, s.nameBuf = s.names[:0], s.frames[:0], s.nameBuf[:0]
	s.strs, s.pend = s.strs[:0], s.pend[:0]
}

// release drops references into the caller's body and big buffers before the
// scanner goes back to the pool.
func (s *scanner) release() {
	s.buf = nil
	// Closed frames dropped their sets and flushStrings cleared what it
	// used; only a parse that stopped early leaves references behind.
	clear(s.frames)
	clear(s.pend)
	if cap(s.strs) > 64<<10 {
		s.strs = nil
	}
	if cap(s.nameBuf) > 64<<10 {
		s.nameBuf = nil
	}
	if cap(s.tmp) > 64<<10 {
		s.tmp = nil
	}
}

func (s *scanner) skipWS() {
	for s.pos < len(s.buf) {
		switch s.buf[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// failAt records a syntax error about the byte at offset i (or the end).
func (s *scanner) failAt(i int) {
	if s.err != nil {
		return
	}
	if i >= len(s.buf) {
		s.err = parseError("unexpected end of input at offset %d", i)
		return
	}
	c := s.buf[i]
	if c >= 0x20 && c < 0x7f {
		s.err = parseError("invalid character %q at offset %d", c, i)
	} else {
		s.err = parseError("invalid byte 0x%02x at offset %d", c, i)
	}
}

func (s *scanner) failString(at int, why strFail) {
	if s.err != nil {
		return
	}
	switch why {
	case failEOF:
		s.err = parseError("unterminated string at offset %d", at)
	case failControl:
		s.err = parseError("unescaped control character in string at offset %d", at)
	case failUTF8:
		s.err = parseError("invalid UTF-8 at offset %d", at)
	case failEscape:
		s.err = parseError("invalid escape in string at offset %d", at)
	case failSurrogate:
		s.err = parseError("unpaired UTF-16 surrogate escape at offset %d", at)
	}
}

// setInvalid records a shape error unless one is already recorded.
func (s *scanner) setInvalid(e *Error) {
	if s.invalid == nil {
		s.invalid = e
	}
}

// str scans the string token at s.pos and returns its content (between the
// quotes, escapes not resolved) and flags.
func (s *scanner) str() (raw []byte, flags uint8, ok bool) {
	start := s.pos
	end, flags, fail := scanString(s.buf, start)
	if fail != failNone {
		s.failString(end, fail)
		return nil, 0, false
	}
	s.pos = end
	return s.buf[start+1 : end-1], flags, true
}

// value scans one JSON value at s.pos (no leading whitespace) and says what
// it was. Nested containers are fully validated.
func (s *scanner) value() valKind {
	if s.pos >= len(s.buf) {
		s.failAt(s.pos)
		return vErr
	}
	switch c := s.buf[s.pos]; c {
	case '"':
		if _, _, ok := s.str(); !ok {
			return vErr
		}
		return vString
	case '{':
		if !s.openObject() {
			return vErr
		}
		for {
			if _, ok := s.member(); !ok {
				break
			}
			if s.value() == vErr {
				return vErr
			}
		}
		if s.err != nil {
			return vErr
		}
		return vObject
	case '[':
		if !s.openArray() {
			return vErr
		}
		for s.nextElement() {
			if s.value() == vErr {
				return vErr
			}
		}
		if s.err != nil {
			return vErr
		}
		return vArray
	case 't':
		return s.literal("true", vTrue)
	case 'f':
		return s.literal("false", vFalse)
	case 'n':
		return s.literal("null", vNull)
	default:
		if c == '-' || isDigit(c) {
			end, isInt, ok := scanNumber(s.buf, s.pos)
			if !ok {
				s.failAt(end)
				return vErr
			}
			s.pos = end
			if isInt {
				return vInt
			}
			return vFloat
		}
		s.failAt(s.pos)
		return vErr
	}
}

func (s *scanner) literal(lit string, k valKind) valKind {
	for i := 0; i < len(lit); i++ {
		if s.pos+i >= len(s.buf) || s.buf[s.pos+i] != lit[i] {
			s.failAt(s.pos + i)
			return vErr
		}
	}
	s.pos += len(lit)
	return k
}

func (s *scanner) enter() bool {
	s.depth++
	if s.depth > s.maxDepth {
		if s.err == nil {
			s.err = parseError("nesting deeper than %d at offset %d", s.maxDepth, s.pos)
		}
		return false
	}
	return true
}

// openArray consumes the '[' at s.pos. Elements follow with nextElement.
func (s *scanner) openArray() bool {
	if !s.enter() {
		return false
	}
	s.pos++
	s.frames = append(s.frames, frame{n: 0, names: -1})
	return true
}

// nextElement moves to the next element of the innermost open array and
// reports true with s.pos at it, or consumes the ']' (or fails) and reports
// false.
func (s *scanner) nextElement() bool {
	s.skipWS()
	f := &s.frames[len(s.frames)-1]
	if s.pos >= len(s.buf) {
		s.failAt(s.pos)
		return false
	}
	c := s.buf[s.pos]
	if c == ']' {
		s.pos++
		s.frames = s.frames[:len(s.frames)-1]
		s.depth--
		return false
	}
	if f.n > 0 {
		if c != ',' {
			s.failAt(s.pos)
			return false
		}
		s.pos++
		s.skipWS()
		if s.pos >= len(s.buf) || s.buf[s.pos] == ']' {
			s.failAt(s.pos)
			return false
		}
	}
	f.n++
	return true
}

// openObject consumes the '{' at s.pos. Members follow with member.
func (s *scanner) openObject() bool {
	if !s.enter() {
		return false
	}
	s.pos++
	s.frames = append(s.frames, frame{names: len(s.names), nameBuf: len(s.nameBuf)})
	return true
}

// member moves to the next member of the innermost open object. It returns
// the member's decoded name and true, with s.pos at the value; or false once
// the '}' is consumed or an error is recorded. The name is valid until the
// next call into the scanner.
func (s *scanner) member() ([]byte, bool) {
	s.skipWS()
	if s.pos >= len(s.buf) {
		s.failAt(s.pos)
		return nil, false
	}
	f := &s.frames[len(s.frames)-1]
	c := s.buf[s.pos]
	if c == '}' {
		s.pos++
		s.names = s.names[:f.names]
		s.nameBuf = s.nameBuf[:f.nameBuf]
		f.set = nil
		s.frames = s.frames[:len(s.frames)-1]
		s.depth--
		return nil, false
	}
	if f.n > 0 {
		if c != ',' {
			s.failAt(s.pos)
			return nil, false
		}
		s.pos++
		s.skipWS()
		if s.pos >= len(s.buf) {
			s.failAt(s.pos)
			return nil, false
		}
		c = s.buf[s.pos]
	}
	if c != '"' {
		s.failAt(s.pos)
		return nil, false
	}
	at := s.pos
	raw, flags, ok := s.str()
	if !ok {
		return nil, false
	}
	ref := nameRef{start: at + 1, end: s.pos - 1, quick: quickKey(raw, flags&strNonASCII == 0)}
	name := raw
	if flags&strEscaped != 0 {
		start := len(s.nameBuf)
		s.nameBuf = appendUnquoted(s.nameBuf, raw)
		name = s.nameBuf[start:]
		ref = nameRef{start: start, end: len(s.nameBuf), decoded: true, quick: quickKey(name, isASCII(name))}
	}
	if !s.unique(f, ref, name, at) {
		return nil, false
	}
	s.nameAt = at
	s.skipWS()
	if s.pos >= len(s.buf) || s.buf[s.pos] != ':' {
		s.failAt(s.pos)
		return nil, false
	}
	s.pos++
	s.skipWS()
	if s.pos >= len(s.buf) {
		s.failAt(s.pos)
		return nil, false
	}
	return name, true
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// unique checks name against the earlier members of the object f and
// records it. Names are compared with bytes.EqualFold, which is exactly how
// encoding/json matches member names to struct fields: any two names it could
// confuse are rejected, so the gateway and a Go backend cannot read different
// members.
func (s *scanner) unique(f *frame, ref nameRef, name []byte, at int) bool {
	f.n++
	if f.set == nil && f.n > smallObject {
		f.set = make(map[string]struct{}, 2*smallObject)
		for _, r := range s.names[f.names:] {
			f.set[string(s.foldKey(s.nameOf(r)))] = struct{}{}
		}
	}
	if f.set != nil {
		key := s.foldKey(name)
		if _, dup := f.set[string(key)]; dup {
			s.duplicate(name, at)
			return false
		}
		f.set[string(key)] = struct{}{}
		return true
	}
	for _, r := range s.names[f.names:] {
		if r.quick != ref.quick && r.quick != 0 && ref.quick != 0 {
			continue
		}
		if bytes.EqualFold(s.nameOf(r), name) {
			s.duplicate(name, at)
			return false
		}
	}
	s.names = append(s.names, ref)
	return true
}

func (s *scanner) nameOf(r nameRef) []byte {
	if r.decoded {
		return s.nameBuf[r.start:r.end]
	}
	return s.buf[r.start:r.end]
}

// foldKey maps name to a canonical form such that foldKey(a) == foldKey(b)
// exactly when bytes.EqualFold(a, b): each rune becomes the smallest rune of
// its simple case-folding orbit. The result lives in s.tmp.
func (s *scanner) foldKey(name []byte) []byte {
	k := s.tmp[:0]
	for _, r := range string(name) {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		k = utf8.AppendRune(k, m)
	}
	s.tmp = k
	return k
}

func (s *scanner) duplicate(name []byte, at int) {
	if s.err == nil {
		s.err = parseError("duplicate member %s (case-insensitive) at offset %d", quoteForError(name), at)
	}
}
