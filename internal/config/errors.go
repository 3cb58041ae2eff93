package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Error is one configuration problem. Parse, Validate and CheckFiles return
// either a single *Error or several joined with errors.Join; errors.As finds
// the first.
type Error struct {
	File string // file name as given to Parse or Load; "" for a Config built in code
	Line int    // 1-based line; 0 if unknown
	Path string // key path such as "backends[1].timeouts.connect"; "" for the whole file
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// maxErrors bounds how many problems one Parse reports.
const maxErrors = 20

// errorList collects problems in the order they are found.
type errorList struct {
	errs    []error
	dropped int
}

func (l *errorList) add(e *Error) {
	if len(l.errs) >= maxErrors {
		l.dropped++
		return
	}
	l.errs = append(l.errs, e)
}

func (l *errorList) err() error {
	switch {
	case len(l.errs) == 0:
		return nil
	case len(l.errs) == 1 && l.dropped == 0:
		return l.errs[0]
	}
	errs := l.errs
	if l.dropped > 0 {
		errs = append(errs[:len(errs):len(errs)], fmt.Errorf("… and %d more problems", l.dropped))
	}
	return errors.Join(errs...)
}

// joinKey appends a mapping key to a key path. Keys that are not plain
// identifiers (free-form keys of env and headers) are quoted: env["A B"].
func joinKey(path, key string) string {
	if !plainKey(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func plainKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// joinIndex appends a list index to a key path.
func joinIndex(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// parentPath strips the last element of a key path: "a.b[2]" → "a.b" → "a" → "".
func parentPath(p string) string {
	if strings.HasSuffix(p, "\"]") {
		if i := strings.LastIndex(p, "[\""); i >= 0 {
			return p[:i]
		}
	}
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

// errorAt builds an *Error for key path p, locating it at the line of p or,
// if p was not in the file, of its nearest ancestor that was.
func (m *meta) errorAt(p, format string, args ...any) *Error {
	e := &Error{Path: p, Msg: fmt.Sprintf(format, args...)}
	if m == nil {
		return e
	}
	e.File = m.file
	for q := p; q != ""; q = parentPath(q) {
		if l, ok := m.lines[q]; ok {
			e.Line = l
			break
		}
	}
	return e
}

// quote renders the value at key path p for an error message: the value as
// written in the file if it came from a reference (never the secret), else
// the value itself, shortened if long.
func (m *meta) quote(p, value string) string {
	if m != nil {
		if w, ok := m.refs[p]; ok {
			return shorten(w)
		}
	}
	return shorten(value)
}

func shorten(s string) string {
	const max = 64
	if len(s) > max {
		r := []rune(s)
		if len(r) > max {
			return strconv.Quote(string(r[:max])) + "…"
		}
	}
	return strconv.Quote(s)
}
