package aggregate

import (
	"net/http"
	"strings"

	sdkjsonrpc "github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// jsonErrors stands between the SDK's handler and the response: the SDK
// answers HTTP-level failures (an unknown session, a DELETE without one, a
// request it cannot take) with http.Error, a line of plain text that no MCP
// client can read as a JSON-RPC error and that drops the request's id. In
// aggregating mode the gateway is the server, so those are its own errors:
// jsonErrors holds such a response and writes it, at finish, as the JSON-RPC
// error the relays give in the same case — same status, the request's id,
// the SDK's text as the message. Everything else passes through untouched.
type jsonErrors struct {
	http.ResponseWriter
	rec    *record.Record
	id     []byte // the request's id; nil for a batch, a notification, no body
	status int    // a held plain-text error's status; 0 when none
	text   []byte
	passed bool // the response is going through as written
	// h is the request's holder: a session it made may have refused the
	// request (session.refused), whose answer jsonErrors then writes in
	// place of the SDK's.
	h *holder
	// refused is that error once held.
	refused *sdkjsonrpc.Error
}

func newJSONErrors(w http.ResponseWriter, rec *record.Record, h *holder) *jsonErrors {
	return &jsonErrors{ResponseWriter: w, rec: rec, h: h, id: rec.RequestID()}
}

func (w *jsonErrors) WriteHeader(code int) {
	if w.passed || w.status != 0 {
		return
	}
	if w.h != nil && w.h.s != nil {
		// The SDK writes a handler's error after the handler returned,
		// so the session's note is there by then. Its answer (the SDK's,
		// at 200, maybe as an event) is held and dropped.
		if e := w.h.s.refused.Load(); e != nil {
			w.status, w.refused = http.StatusBadRequest, e
			return
		}
	}
	if code >= 400 && strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		w.status = code
		return
	}
	w.passed = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *jsonErrors) Write(p []byte) (int, error) {
	if !w.passed && w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.refused != nil {
		return len(p), nil
	}
	if w.status != 0 {
		if room := 512 - len(w.text); room > 0 {
			w.text = append(w.text, p[:min(len(p), room)]...)
		}
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

func (w *jsonErrors) Flush() {
	if w.status != 0 {
		return
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *jsonErrors) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish writes the held error, if any.
func (w *jsonErrors) finish() {
	if w.status == 0 {
		return
	}
	if e := w.refused; e != nil {
		w.Header().Del("Content-Length")
		if w.rec.Reason == "" && e.Code == mcpwire.CodeHeaderMismatch {
			w.rec.Fail(record.ReasonHeaderMismatch, e.Message)
		}
		w.Header().Del("Cache-Control")
		w.Header().Del("Connection")
		mcpwire.WriteError(w.ResponseWriter, w.status, w.id, e.Code, e.Message)
		return
	}
	msg := strings.TrimSpace(strings.ToValidUTF8(string(w.text), "\ufffd"))
	if msg == "" {
		msg = http.StatusText(w.status)
	}
	if w.rec.Reason == "" {
		// As the relays record the same failures.
		switch {
		case w.status == http.StatusNotFound:
			w.rec.Fail(record.ReasonSessionNotFound, msg)
		case w.status < 500:
			w.rec.Fail(record.ReasonInvalidRequest, msg)
		}
	}
	w.Header().Del("Content-Length")
	mcpwire.WriteError(w.ResponseWriter, w.status, w.id, errorCode(w.status), msg)
}

// errorCode is the JSON-RPC code for an HTTP-level error status: what the
// official SDKs send with a 404 for an unknown session, invalid request for
// the client's other faults, internal error for the server's.
func errorCode(status int) int64 {
	switch {
	case status == http.StatusNotFound:
		return mcpwire.CodeSessionNotFound
	case status >= 500:
		return jsonrpc.CodeInternalError
	}
	return jsonrpc.CodeInvalidRequest
}
