package jsonrpc

import (
	"fmt"
	"unicode/utf8"
)

// JSON-RPC 2.0 error codes (https://www.jsonrpc.org/specification#error_object).
const (
	CodeParseError     int64 = -32700 // not well-formed (strict) JSON
	CodeInvalidRequest int64 = -32600 // JSON, but not a valid JSON-RPC/MCP message
	CodeMethodNotFound int64 = -32601
	CodeInvalidParams  int64 = -32602
	CodeInternalError  int64 = -32603
)

// Error is a JSON-RPC error object. Parse returns *Error so that a caller can
// answer the client with Code and Message as they are: messages are short,
// never quote more than a few dozen bytes of client input, and say where
// (byte offset) the problem was found.
type Error struct {
	Code    int64
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("jsonrpc: %s (code %d)", e.Message, e.Code)
}

// maxQuoted bounds how much client input an error message repeats.
const maxQuoted = 48

// quoteForError renders client bytes as a JSON string literal for an error
// message, cut at a rune boundary once the literal reaches maxQuoted bytes
// (escapes count: a name made of control characters must not grow sixfold).
func quoteForError(b []byte) string {
	q := make([]byte, 0, maxQuoted+8)
	q = append(q, '"')
	var one []byte
	for len(b) > 0 {
		if len(q) >= maxQuoted {
			q = append(q, "…"...)
			break
		}
		_, size := utf8.DecodeRune(b)
		one = AppendQuote(one[:0], string(b[:size]))
		q = append(q, one[1:len(one)-1]...)
		b = b[size:]
	}
	return string(append(q, '"'))
}

func parseError(format string, args ...any) *Error {
	return &Error{Code: CodeParseError, Message: fmt.Sprintf(format, args...)}
}

func invalidRequest(format string, args ...any) *Error {
	return &Error{Code: CodeInvalidRequest, Message: fmt.Sprintf(format, args...)}
}
