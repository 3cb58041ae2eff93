package guard

import (
	"fmt"
	"net/http"

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
func Limits(maxHeaderBytes, maxBodyBytes int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := record.FromContext(r.Context())
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
