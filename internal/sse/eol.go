package sse

import (
	"bytes"
	"strings"
)

// indexEOL returns the index of the first CR or LF in b, or -1.
// Two IndexByte scans (vectorised) beat one byte-by-byte IndexAny scan on the
// long data lines that carry JSON-RPC messages.
func indexEOL(b []byte) int {
	lf := bytes.IndexByte(b, '\n')
	end := lf
	if end < 0 {
		end = len(b)
	}
	if cr := bytes.IndexByte(b[:end], '\r'); cr >= 0 {
		return cr
	}
	return lf
}

func indexNUL(b []byte) int { return bytes.IndexByte(b, 0) }

// indexEOLString is indexEOL for a string, so comments need no conversion.
func indexEOLString(s string) int {
	lf := strings.IndexByte(s, '\n')
	end := lf
	if end < 0 {
		end = len(s)
	}
	if cr := strings.IndexByte(s[:end], '\r'); cr >= 0 {
		return cr
	}
	return lf
}
