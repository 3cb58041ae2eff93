package guard

import (
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// Recover turns a panic in an inner handler into a 500 with a JSON-RPC
// internal error (when nothing was written yet) and a logged stack, so one
// bad request cannot take the gateway down. http.ErrAbortHandler is passed
// on: it is net/http's way to abort a response deliberately. A panic after
// the response was started aborts it the same way, since finishing it
// normally would present a truncated body to the client as complete.
func Recover(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tw := &trackingWriter{ResponseWriter: w}
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				if rec := record.FromContext(r.Context()); rec != nil {
					rec.Fail(record.ReasonPanic, "panic in handler")
				}
				log.ErrorContext(r.Context(), "panic serving request", "panic", v, "stack", string(debug.Stack()))
				if tw.wrote {
					panic(http.ErrAbortHandler)
				}
				// Headers the handler set for the body it meant to send
				// would misdescribe this one.
				h := w.Header()
				h.Del("Content-Length")
				h.Del("Content-Encoding")
				mcpwire.WriteError(w, http.StatusInternalServerError, nil, jsonrpc.CodeInternalError, "internal error")
			}()
			next.ServeHTTP(tw, r)
		})
	}
}

// trackingWriter remembers whether a response was started, so Recover does
// not write a second status line.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *trackingWriter) WriteHeader(code int) {
	if code >= 200 {
		w.wrote = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *trackingWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (w *trackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *trackingWriter) Flush() { _ = w.FlushError() }

// FlushError flushes through http.ResponseController, so that a writer
// below that flushes only via its own Unwrap is still reached, and its
// error comes back to a caller using http.ResponseController.
func (w *trackingWriter) FlushError() error {
	w.wrote = true
	return http.NewResponseController(w.ResponseWriter).Flush()
}
