package guard

import (
	"fmt"
	"net/http"
	"time"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// Limits rejects requests whose headers exceed maxHeaderBytes (431) or whose
// declared body exceeds maxBodyBytes (413), and caps the body reader at
// maxBodyBytes so an undeclared (chunked) body cannot exceed it either: the
// reader then fails with *http.MaxBytesError, which the inspect stage maps
// to 413.
//
// net/http enforces its own, larger, header cap (http.Server.MaxHeaderBytes)
// before any handler runs; the gateway sets that above maxHeaderBytes so
// that ordinary oversize requests are answered and observed here.
func Limits(maxHeaderBytes, maxBodyBytes int64, bodyTimeout time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := record.FromContext(r.Context())
			if len(r.TransferEncoding) > 0 || !r.ProtoAtLeast(1, 1) {
				// A chunked request may have come with a Content-Length
				// too, which net/http drops; a front proxy that framed it
				// by that Content-Length sees a different next request
				// than we do (smuggling). HTTP/1.0 framing is as unsure.
				// RFC 9112 §6.1: close the connection after answering.
				w.Header().Set("Connection", "close")
			}
			if r.ContentLength != 0 && bodyTimeout > 0 {
				// Bound the body's arrival from here, not only where
				// inspect reads it: a request refused before that (415,
				// 406, 403, 405) leaves its body unread, and net/http
				// reads up to 256 KiB of it after the handler without a
				// deadline of its own, so a client that sends headers
				// and no body would hold the connection for ever.
				// inspect clears the deadline once a POST body is read,
				// and refuses GET and DELETE with a body, so no response
				// stream runs under it.
				_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyTimeout))
			}
			if n := HeaderBytes(r.Header); n > maxHeaderBytes {
				rec.Fail(record.ReasonHeadersTooLarge, fmt.Sprintf("%d header bytes exceed the limit of %d", n, maxHeaderBytes))
				mcpwire.WriteError(w, http.StatusRequestHeaderFieldsTooLarge, nil, jsonrpc.CodeInvalidRequest,
					fmt.Sprintf("request headers exceed the limit of %d bytes", maxHeaderBytes))
				return
			}
			if r.ContentLength > maxBodyBytes {
				rec.Fail(record.ReasonBodyTooLarge, fmt.Sprintf("Content-Length %d exceeds the limit of %d", r.ContentLength, maxBodyBytes))
				w.Header().Set("Connection", "close")
				mcpwire.WriteError(w, http.StatusRequestEntityTooLarge, nil, jsonrpc.CodeInvalidRequest,
					fmt.Sprintf("request body exceeds the limit of %d bytes", maxBodyBytes))
				return
			}
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// HeaderBytes approximates a request's header size as net/http counts it:
// each field as "Name: value\r\n".
func HeaderBytes(h http.Header) int64 {
	var n int64
	for k, vs := range h {
		for _, v := range vs {
			n += int64(len(k) + len(v) + 4)
		}
	}
	return n
}
