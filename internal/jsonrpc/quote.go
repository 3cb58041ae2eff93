package jsonrpc

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// UnquoteString decodes tok, which must be exactly one strict JSON string
// token (quotes included, valid UTF-8, no unpaired surrogate escapes). It
// reports false for anything else.
func UnquoteString(tok []byte) (string, bool) {
	if len(tok) < 2 || tok[0] != '"' {
		return "", false
	}
	end, flags, fail := scanString(tok, 0)
	if fail != failNone || end != len(tok) {
		return "", false
	}
	raw := tok[1 : len(tok)-1]
	if flags&strEscaped == 0 {
		return string(raw), true
	}
	return string(appendUnquoted(make([]byte, 0, len(raw)), raw)), true
}

// appendUnquoted appends the decoded content of a string token to dst. raw is
// the content between the quotes and must already have passed scanString.
func appendUnquoted(dst, raw []byte) []byte {
	for len(raw) > 0 {
		i := bytes.IndexByte(raw, '\\')
		if i < 0 {
			return append(dst, raw...)
		}
		dst = append(dst, raw[:i]...)
		raw = raw[i:]
		switch raw[1] {
		case 'u':
			r := rune(hex4(raw[2:6]))
			n := 6
			if utf16.IsSurrogate(r) {
				// scanString guarantees a following low surrogate escape.
				r = utf16.DecodeRune(r, rune(hex4(raw[8:12])))
				n = 12
			}
			dst = utf8.AppendRune(dst, r)
			raw = raw[n:]
			continue
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		default: // '"', '\\', '/'
			dst = append(dst, raw[1])
		}
		raw = raw[2:]
	}
	return dst
}

// hex4 decodes four hex digits, or returns -1.
func hex4(b []byte) int {
	if len(b) < 4 {
		return -1
	}
	v := 0
	for _, c := range b[:4] {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return -1
		}
		v = v<<4 | int(d)
	}
	return v
}

const hexDigits = "0123456789abcdef"

// AppendQuote appends s to dst as a JSON string literal. It escapes '"', '\\'
// and control characters, keeps valid UTF-8 as it is, and writes \ufffd for
// each invalid byte, so the result is always strict JSON that Parse accepts.
func AppendQuote(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
