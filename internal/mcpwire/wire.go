package mcpwire

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

// Header names of the Streamable HTTP transport.
const (
	HeaderSessionID       = "Mcp-Session-Id"
	HeaderProtocolVersion = "Mcp-Protocol-Version"
	HeaderMethod          = "Mcp-Method"
	HeaderName            = "Mcp-Name"
	HeaderParamPrefix     = "Mcp-Param-"
	HeaderLastEventID     = "Last-Event-Id"
)

// Protocol revisions the gateway knows how to inspect.
const (
	Version20241105 = "2024-11-05"
	Version20250326 = "2025-03-26"
	Version20250618 = "2025-06-18"
	Version20251125 = "2025-11-25"
	Version20260728 = "2026-07-28"
)

// Versions lists the known revisions, oldest first.
var Versions = []string{Version20241105, Version20250326, Version20250618, Version20251125, Version20260728}

// KnownVersion reports whether v is a revision the gateway knows.
func KnownVersion(v string) bool { return slices.Contains(Versions, v) }

// Stateless reports whether revision v has no sessions (2026-07-28 and later).
func Stateless(v string) bool { return v >= Version20260728 }

// MCP error codes beyond JSON-RPC's own.
const (
	CodeHeaderMismatch             = -32020
	CodeUnsupportedProtocolVersion = -32022
	// CodeGateway is the code of errors the gateway itself reports about a
	// backend (unreachable, timed out, exited); JSON-RPC reserves
	// -32000..-32099 for implementation-defined server errors.
	CodeGateway = -32000
	// CodeSessionNotFound matches what the official SDKs send with 404.
	CodeSessionNotFound = -32001
)

// WriteError writes a JSON-RPC error response with the given HTTP status.
// id is the raw JSON id of the request it answers, or nil for null.
func WriteError(w http.ResponseWriter, status int, id []byte, code int64, message string) {
	WriteErrorData(w, status, id, code, message, nil)
}

// WriteErrorData is WriteError with the error's "data" member: data is a
// complete JSON value, or nil for none.
func WriteErrorData(w http.ResponseWriter, status int, id []byte, code int64, message string, data []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(AppendErrorData(nil, id, code, message, data))
}

// AppendError appends a JSON-RPC error response message to dst.
func AppendError(dst, id []byte, code int64, message string) []byte {
	return AppendErrorData(dst, id, code, message, nil)
}

// AppendErrorData is AppendError with the error's "data" member: data is a
// complete JSON value, or nil for none.
func AppendErrorData(dst, id []byte, code int64, message string, data []byte) []byte {
	dst = append(dst, `{"jsonrpc":"2.0","id":`...)
	if len(id) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, id...)
	}
	dst = append(dst, `,"error":{"code":`...)
	dst = strconv.AppendInt(dst, code, 10)
	dst = append(dst, `,"message":`...)
	dst = jsonrpc.AppendQuote(dst, message)
	if len(data) > 0 {
		dst = append(dst, `,"data":`...)
		dst = append(dst, data...)
	}
	return append(dst, "}}"...)
}

// UnsupportedVersionData is the "data" of an UnsupportedProtocolVersion
// error (-32022) in the layout of SEP-2575 and the 2026-07-28 schema's
// UnsupportedProtocolVersionError: {"supported":[…],"requested":"…"}.
// supported is listed as given: newest first, as the specification's
// example lists them, so that a client retrying with the first one it also
// speaks gets the newest both share (Advertised.Supported is in that order).
func UnsupportedVersionData(supported []string, requested string) []byte {
	b := []byte(`{"supported":[`)
	for i, v := range supported {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonrpc.AppendQuote(b, v)
	}
	b = append(b, `],"requested":`...)
	b = jsonrpc.AppendQuote(b, requested)
	return append(b, '}')
}

// Accepts reports whether an Accept header value admits the media type mt
// (exactly, via type/*, or */*). An empty header admits everything.
//
// The most specific range that matches decides (RFC 9110 §12.5.1), so
// "text/event-stream;q=0, */*" refuses text/event-stream although */*
// alone would admit it.
func Accepts(accept, mt string) bool {
	if accept == "" {
		return true
	}
	typ, _, _ := strings.Cut(mt, "/")
	best, ok := -1, false // specificity of the best match so far, and its verdict
	for part := range strings.SplitSeq(accept, ",") {
		r, params, _ := strings.Cut(part, ";")
		r = strings.TrimSpace(r)
		spec := -1
		switch {
		case strings.EqualFold(r, mt):
			spec = 2
		case strings.EqualFold(r, typ+"/*"):
			spec = 1
		case r == "*/*":
			spec = 0
		default:
			continue
		}
		admits := !zeroQuality(params)
		switch {
		case spec > best:
			best, ok = spec, admits
		case spec == best:
			ok = ok || admits // listed twice: either admitting is enough
		}
	}
	return ok
}

// zeroQuality reports whether media-range parameters carry q=0, which
// means "not acceptable".
func zeroQuality(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return err == nil && q == 0
		}
	}
	return false
}
