package sealedsession

import (
	"net/http"

	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// sealingWriter replaces the session id in the response headers, the
// moment they go out: a new one by its token, the request's own by the
// token the client sent. The backend's id never reaches the client.
type sealingWriter struct {
	http.ResponseWriter
	st              *Stage
	r               *http.Request
	rec             *record.Record
	issuer, subject string
	token, local    string // the request's token and the local id it stands for; "" without one
	status          int
	failed          bool // the session could not be sealed: a 502 went out instead, the body is dropped
}

func (w *sealingWriter) WriteHeader(code int) {
	if w.status != 0 || code < 200 {
		if !w.failed {
			w.ResponseWriter.WriteHeader(code)
		}
		return
	}
	w.status = code
	h := w.Header()
	switch sid := h.Get(mcpwire.HeaderSessionID); {
	case sid == "":
	case sid == w.local:
		setOne(h, w.token)
	case code >= 200 && code < 300:
		tok, err := w.st.seal(w.r, sid, w.issuer, w.subject)
		if err != nil {
			// The session exists on the backend, but no client can
			// address it: say so rather than hand out the backend's id.
			w.failed = true
			w.st.opts.Log.Error("cannot seal a new session id", "error", err)
			w.rec.Fail(record.ReasonUpstreamError, "backend session cannot be sealed: "+err.Error())
			h.Del(mcpwire.HeaderSessionID)
			mcpwire.WriteError(w.ResponseWriter, http.StatusBadGateway, w.rec.RequestID(), mcpwire.CodeGateway, "backend session cannot be sealed")
			return
		}
		h.Set(mcpwire.HeaderSessionID, tok)
		// The session's name in spans and the audit log (its ref) is the
		// id the client holds, as on its later requests, whose record
		// inspect fills from their header.
		w.rec.SessionID = tok
	default:
		// An error naming some other session: the client has no use for
		// the backend's id.
		h.Del(mcpwire.HeaderSessionID)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *sealingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.failed {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

func (w *sealingWriter) Flush() { _ = w.FlushError() }

func (w *sealingWriter) FlushError() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.failed {
		return nil
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *sealingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
