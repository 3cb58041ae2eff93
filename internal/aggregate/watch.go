package aggregate

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
	"github.com/mcpgate/mcpgate/internal/telemetry"
)

// maxWatched bounds how much of one response message (a JSON body or an
// SSE event) is buffered to find its outcome; a larger one passes
// unread.
const maxWatched = 1 << 20

// watchWriter passes the SDK's response through and reads the JSON-RPC
// responses in it into the request record — what each message's SERVER
// span and metrics report — as the relays' watchers do for a backend's
// response. It runs on the request's goroutine (the SDK writes there).
type watchWriter struct {
	http.ResponseWriter
	rec     *record.Record
	cat     *telemetry.Catalog
	wrote   bool
	sse     bool
	json    bool
	buf     []byte
	overrun bool
}

func newWatchWriter(w http.ResponseWriter, rec *record.Record, cat *telemetry.Catalog) *watchWriter {
	return &watchWriter{ResponseWriter: w, rec: rec, cat: cat}
}

func (w *watchWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		h := w.Header()
		if w.rec.SessionID == "" {
			// The session initialize just created, for its span.
			w.rec.SessionID = h.Get(mcpwire.HeaderSessionID)
		}
		ct := h.Get("Content-Type")
		w.sse = strings.HasPrefix(ct, "text/event-stream")
		w.json = strings.HasPrefix(ct, "application/json")
		w.rec.SSE = w.rec.SSE || w.sse
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *watchWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	switch {
	case w.sse:
		w.feedSSE(p)
	case w.json && !w.overrun:
		if len(w.buf)+len(p) > maxWatched {
			w.overrun, w.buf = true, nil
		} else {
			w.buf = append(w.buf, p...)
		}
	}
	return w.ResponseWriter.Write(p)
}

func (w *watchWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *watchWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish reads a JSON body once the SDK is done writing it.
func (w *watchWriter) finish() {
	if w.json && !w.overrun && len(w.buf) > 0 {
		w.note(w.buf)
	}
	w.buf = nil
}

// feedSSE reads complete events out of the stream's bytes.
func (w *watchWriter) feedSSE(p []byte) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.Index(w.buf, []byte("\n\n"))
		if i < 0 {
			break
		}
		if !w.overrun {
			w.event(w.buf[:i])
		}
		w.overrun = false
		w.buf = w.buf[i+2:]
	}
	if len(w.buf) > maxWatched {
		w.overrun, w.buf = true, w.buf[:0]
	}
	if len(w.buf) == 0 {
		w.buf = nil // nothing pending: let the array go
	}
}

func (w *watchWriter) event(ev []byte) {
	var data []byte
	for line := range bytes.SplitSeq(ev, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if v, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			if len(data) > 0 {
				data = append(data, '\n')
			}
			data = append(data, bytes.TrimPrefix(v, []byte(" "))...)
		}
	}
	if len(data) > 0 {
		w.note(data)
	}
}

// note records the outcome of every response in raw that answers one of
// the request's operations. The gateway's own error for a backend it could
// not reach (mcpwire.CodeGateway naming the backend) becomes the record's
// upstream reason, which the metrics count against that backend.
func (w *watchWriter) note(raw []byte) {
	var b jsonrpc.Body
	if b.Parse(raw, jsonrpc.Limits{}) != nil {
		return
	}
	rec := w.rec
	for i := range b.Messages {
		m := &b.Messages[i]
		if (m.Kind != jsonrpc.KindResult && m.Kind != jsonrpc.KindError) || !m.ID.Present() {
			continue
		}
		op := requestOp(rec, m.ID.Bytes(raw))
		if op == nil {
			continue
		}
		op.Answered = true
		if m.Kind == jsonrpc.KindError {
			op.HasRPCError, op.RPCErrorCode, op.RPCError = true, m.ErrorCode, m.ErrorMessage
			if m.ErrorCode == mcpwire.CodeGateway {
				if backend, what, ok := gatewayMessage(m.ErrorMessage); ok {
					reason := record.ReasonUpstreamUnavailable
					if what == "timed out" {
						reason = record.ReasonUpstreamTimeout
					}
					rec.Fail(reason, m.ErrorMessage)
					if rec.Backend == "" {
						rec.Backend = backend
					}
				}
			}
		}
		op.ToolError = m.IsError
	}
}

// gatewayMessage parses a gatewayError message: `backend "name" what`.
func gatewayMessage(msg string) (backend, what string, ok bool) {
	rest, ok := strings.CutPrefix(msg, "backend ")
	if !ok {
		return "", "", false
	}
	q, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return "", "", false
	}
	backend, _ = strconv.Unquote(q)
	return backend, strings.TrimSpace(rest[len(q):]), true
}

func requestOp(rec *record.Record, id []byte) *record.Op {
	for i := range rec.Ops {
		if op := &rec.Ops[i]; op.Kind == "request" && op.ID == string(id) {
			return op
		}
	}
	return nil
}
