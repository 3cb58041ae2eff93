package audit

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"

	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/record"
)

// captureKey is audit's slot on every record: the Capture stage leaves
// its capture there for Report.
var captureKey = record.NewKey[capture]()

// capture is what the Capture stage keeps of one request for Report.
type capture struct {
	req         *inspect.Request // the parsed body, when requests are captured
	resp        []byte           // the response body, up to respLimit
	over        bool             // the response was longer than respLimit
	contentType string
}

// respLimit bounds the response bytes held per request. The cap applies to
// the redacted result; the raw response must be held whole to be parsed
// and redacted, so responses longer than this are not captured at all.
func (r *Reporter) respLimit() int { return max(64*r.capture.MaxBytes, 256<<10) }

// Capture returns the stage that keeps each request's parsed body and its
// response (bounded) for the request's events. Place it right before the
// relay, after authn: requests rejected earlier are not captured. With
// capture off it adds nothing to the chain.
func (r *Reporter) Capture() func(http.Handler) http.Handler {
	if !r.capture.Requests && !r.capture.Responses {
		return func(next http.Handler) http.Handler { return next }
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			rec := record.FromContext(req.Context())
			if rec == nil {
				next.ServeHTTP(w, req)
				return
			}
			c := &capture{}
			if r.capture.Requests {
				c.req = inspect.FromContext(req.Context())
			}
			if r.capture.Responses && req.Method == http.MethodPost {
				w = &captureWriter{ResponseWriter: w, c: c, limit: r.respLimit()}
			}
			captureKey.Set(rec, c)
			next.ServeHTTP(w, req)
		})
	}
}

// captureInto fills e.Request and e.Response for message i of rec.
func (r *Reporter) captureInto(e *Event, c *capture, rec *record.Record, i int) {
	if c == nil {
		return
	}
	limit := r.capture.MaxBytes
	if c.req != nil && len(c.req.Body.Messages) == len(rec.Ops) {
		m := &c.req.Body.Messages[i]
		e.Request = json.RawMessage(r.red.RedactJSON(m.Object.Bytes(c.req.Raw), limit))
	}
	id := rec.Ops[i].ID
	if id == "" || !r.capture.Responses || (c.resp == nil && !c.over) {
		return
	}
	if c.over {
		e.Response = json.RawMessage(`"[not captured: response longer than ` + strconv.Itoa(r.respLimit()) + ` bytes]"`)
		return
	}
	if msg := findResponse(c.resp, isSSE(c.contentType), []byte(id)); msg != nil {
		e.Response = json.RawMessage(r.red.RedactJSON(msg, limit))
	}
}

func isSSE(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "text/event-stream"
}

// findResponse returns the JSON-RPC response with id in body: a JSON
// object or batch array, or an event stream whose events' data are.
func findResponse(body []byte, sse bool, id []byte) []byte {
	if !sse {
		return matchMessage(body, id)
	}
	var data []byte
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		switch {
		case len(line) == 0:
			if m := matchMessage(data, id); m != nil {
				return m
			}
			data = data[:0]
		case bytes.HasPrefix(line, []byte("data:")):
			v := bytes.TrimPrefix(line[5:], []byte{' '})
			if len(data) > 0 {
				data = append(data, '\n')
			}
			data = append(data, v...)
		}
	}
	return matchMessage(data, id)
}

// matchMessage returns the response with id in msg (an object, or an
// array of them), or nil.
func matchMessage(msg, id []byte) []byte {
	msg = bytes.TrimSpace(msg)
	if len(msg) == 0 {
		return nil
	}
	if msg[0] == '[' {
		var batch []json.RawMessage
		if json.Unmarshal(msg, &batch) != nil {
			return nil
		}
		for _, m := range batch {
			if got := matchMessage(m, id); got != nil {
				return got
			}
		}
		return nil
	}
	var head struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	if json.Unmarshal(msg, &head) != nil || head.Method != "" {
		return nil // not JSON, or a request/notification to the client
	}
	if bytes.Equal(bytes.TrimSpace(head.ID), id) {
		return msg
	}
	return nil
}

// captureWriter keeps the first limit bytes of the response. It keeps
// Flush reachable (directly and through Unwrap): the relay streams SSE.
type captureWriter struct {
	http.ResponseWriter
	c     *capture
	limit int
}

func (w *captureWriter) WriteHeader(code int) {
	if w.c.contentType == "" {
		w.c.contentType = w.Header().Get("Content-Type")
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *captureWriter) Write(b []byte) (int, error) {
	if w.c.contentType == "" {
		w.c.contentType = w.Header().Get("Content-Type")
	}
	if !w.c.over {
		if len(w.c.resp)+len(b) > w.limit {
			w.c.over, w.c.resp = true, nil
		} else {
			w.c.resp = append(w.c.resp, b...)
		}
	}
	return w.ResponseWriter.Write(b)
}

func (w *captureWriter) Flush() { _ = w.FlushError() }

// FlushError flushes through http.ResponseController (see observe).
func (w *captureWriter) FlushError() error {
	return http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *captureWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
