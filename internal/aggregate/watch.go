package aggregate

import (
	"net/http"
	"strings"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
	"github.com/mcpgate/mcpgate/internal/sse"
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
	events  *sse.Feeder // the event stream's parser, once there is one
	buf     []byte      // a JSON body, up to maxWatched
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
	if w.events == nil {
		w.events = sse.NewFeeder(maxWatched)
	}
	w.events.Feed(p, func(ev *sse.Event) {
		if ev.Dispatched() && !ev.Truncated && len(ev.Data) > 0 {
			w.note(ev.Data)
		}
	})
}

// note records every response in raw on the request it answers
// (record.Record.AnswerMessage). The gateway's own errors for a backend
// that failed are recorded where they are made (failures.go), not read
// back out of the response.
func (w *watchWriter) note(raw []byte) {
	var b jsonrpc.Body
	if b.Parse(raw, jsonrpc.Limits{}) != nil {
		return
	}
	for i := range b.Messages {
		w.rec.AnswerMessage(&b.Messages[i], raw)
	}
}
