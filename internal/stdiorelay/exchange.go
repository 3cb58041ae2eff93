package stdiorelay

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
	"github.com/mcpgate/mcpgate/internal/telemetry"
)

// exchange sends a POST body to the backend and answers with what comes
// back: 202 when the body holds no request, else an SSE stream (when the
// client accepts one and forceJSON is off) or one JSON response. It reports
// whether every request got a successful result.
func (r *Relay) exchange(w http.ResponseWriter, req *http.Request, in *inspect.Request, s *session, c conn, forceJSON bool) bool {
	rec := record.FromContext(req.Context())
	requests := 0
	for i := range in.Body.Messages {
		if in.Body.Messages[i].Kind == jsonrpc.KindRequest {
			requests++
		}
	}
	useSSE := requests > 0 && !forceJSON && mcpwire.Accepts(req.Header.Get("Accept"), "text/event-stream")
	l := newListener(useSSE)
	if s != nil {
		s.acquire()
		defer s.release()
	}
	var meta [][]jsonrpc.MetaKV
	if tel := r.opts.Telemetry; tel != nil {
		// One CLIENT span per message, ended once the exchange is over and
		// the record holds each one's outcome.
		spans := make([]telemetry.ClientSpan, len(in.Body.Messages))
		meta = make([][]jsonrpc.MetaKV, len(spans))
		for i := range spans {
			var op *record.Op
			if i < len(rec.Ops) {
				op = &rec.Ops[i]
			}
			_, spans[i] = tel.StartClient(req.Context(), &r.backend, op)
			// The child sees only the body, so _meta is the one carrier; a
			// session's messages follow the legacy initialize that opened
			// it, which pins their era (mcpwire.TraceMeta).
			m := &in.Body.Messages[i]
			if mcpwire.TraceMeta(m.Method, m.Meta.Present(), s != nil) {
				meta[i] = spans[i].MetaKVs()
			}
		}
		defer func() {
			for _, cs := range spans {
				cs.End()
			}
		}()
	}
	err := c.send(l, in, s, meta)
	defer c.forget(l)
	if err != nil {
		r.sendFailed(w, rec, in, err)
		return false
	}
	if requests == 0 {
		w.WriteHeader(http.StatusAccepted)
		return true
	}
	if useSSE {
		return r.writeSSE(w, req, l, requests, s)
	}
	return r.writeJSON(w, req, l, requests, in.Body.Batch)
}

func (r *Relay) sendFailed(w http.ResponseWriter, rec *record.Record, in *inspect.Request, err error) {
	if errors.Is(err, errDuplicateID) {
		rec.Fail(record.ReasonInvalidRequest, err.Error())
		mcpwire.WriteError(w, http.StatusBadRequest, rec.RequestID(), jsonrpc.CodeInvalidRequest, err.Error())
		return
	}
	r.backendFailed(w, rec, in, err, "unavailable")
}

// backendFailed answers a request the backend cannot take: 503 with
// Retry-After while starts are backing off, else 502 saying what failed.
func (r *Relay) backendFailed(w http.ResponseWriter, rec *record.Record, in *inspect.Request, err error, what string) {
	be := &record.BackendError{Backend: r.opts.Name, Reason: record.ReasonUpstreamUnavailable, What: what, Err: err}
	rec.FailBackend(be, err.Error())
	var unavail *unavailableError
	if errors.As(err, &unavail) {
		w.Header().Set("Retry-After", strconv.Itoa(int(unavail.retryAfter/time.Second)+1))
		be.What = "is restarting; retry later"
		be.Write(w, http.StatusServiceUnavailable, rec.RequestID())
		return
	}
	r.log.Warn("backend "+what, "error", err)
	be.Write(w, http.StatusBadGateway, rec.RequestID())
}

// note records a response's outcome on its operation and reports whether
// it was a success. A tools/list or prompts/list result shows the catalog
// the names a metric may carry; a server/discover result shows Versions
// the revisions a -32022 of the gateway's may offer.
func (r *Relay) note(rec *record.Record, it *item) bool {
	a := record.Answer{ToolError: it.isError}
	if it.hasError {
		a.Error = record.RPCError{Code: it.errCode, Message: it.errMsg, Valid: true}
	}
	if op := rec.Answer([]byte(it.id), false, a); op != nil && !it.hasError {
		r.learn(op.Method, it.data)
	}
	return !it.hasError
}

// learn shows a result of method (the response line data) to what learns
// from that method's results: the catalog, Versions.
func (r *Relay) learn(method string, data []byte) {
	catalog := r.opts.Telemetry != nil && (method == "tools/list" || method == "prompts/list")
	versions := r.opts.Versions != nil && method == "server/discover"
	if !catalog && !versions {
		return
	}
	// Rare enough to parse the line again for its result.
	b, err := jsonrpc.Parse(data, jsonrpc.Limits{})
	if err != nil || b.Batch {
		return
	}
	result := b.Messages[0].Result.Bytes(data)
	if catalog {
		r.opts.Telemetry.Catalog().Learn(r.opts.Name, method, result)
	} else {
		r.opts.Versions.LearnDiscover(result)
	}
}

func (r *Relay) writeSSE(w http.ResponseWriter, req *http.Request, l *listener, requests int, s *session) bool {
	rec := record.FromContext(req.Context())
	rc, keepAlive := r.openStream(w, rec)
	defer keepAlive.Stop()
	var batch []item
	var buf []byte
	ok := true
	for requests > 0 {
		select {
		case <-l.notify:
			batch = l.take(batch)
			buf = buf[:0]
			for i := range batch {
				it := &batch[i]
				buf = appendEvent(buf, it.data)
				rec.StreamEvents++
				if it.response {
					requests--
					ok = r.note(rec, it) && ok
				}
			}
			if _, err := w.Write(buf); err != nil {
				rec.Fail(record.ReasonClientCanceled, err.Error())
				return false
			}
			_ = rc.Flush()
		case <-keepAlive.C:
			_, _ = w.Write([]byte(": keep-alive\n\n"))
			_ = rc.Flush()
		case <-req.Context().Done():
			rec.Fail(record.ReasonClientCanceled, "client closed the stream")
			return false
		}
	}
	return ok
}

func (r *Relay) writeJSON(w http.ResponseWriter, req *http.Request, l *listener, requests int, batch bool) bool {
	rec := record.FromContext(req.Context())
	var got []item
	var buf []item
	for len(got) < requests {
		select {
		case <-l.notify:
			buf = l.take(buf)
			for _, it := range buf {
				if it.response {
					got = append(got, it)
				}
			}
		case <-req.Context().Done():
			rec.Fail(record.ReasonClientCanceled, "client went away")
			return false
		}
	}
	ok := true
	var body []byte
	if batch {
		body = append(body, '[')
	}
	for i := range got {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, got[i].data...)
		ok = r.note(rec, &got[i]) && ok
	}
	if batch {
		body = append(body, ']')
	}
	if sid := rec.SessionID; sid != "" && ok && isInitializeResult(req) {
		w.Header().Set(mcpwire.HeaderSessionID, sid)
	}
	status := http.StatusOK
	if !batch && got[0].gateway {
		// The backend never answered (its process exited): the HTTP status
		// says so too, as it does for an unreachable HTTP backend, and does
		// not depend on whether the exit beat the write to its stdin.
		status = http.StatusBadGateway
		rec.Fail(record.ReasonUpstreamUnavailable, got[0].errMsg)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return ok
}

func isInitializeResult(req *http.Request) bool {
	return isInitialize(inspect.FromContext(req.Context())) && req.Header.Get(mcpwire.HeaderSessionID) == ""
}

// openStream starts an event-stream response and its keep-alive ticker.
func (r *Relay) openStream(w http.ResponseWriter, rec *record.Record) (*http.ResponseController, *time.Ticker) {
	rec.SSE = true
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	return rc, time.NewTicker(r.opts.KeepAlive)
}

// appendEvent frames one JSON-RPC message as an SSE event. Messages from
// the child are single lines, so one data field holds each.
func appendEvent(dst, msg []byte) []byte {
	dst = append(dst, "event: message\ndata: "...)
	dst = append(dst, msg...)
	return append(dst, "\n\n"...)
}

// stream serves a GET: the session's stream for messages not tied to a
// request, open until the client leaves or the session ends. There is no
// replay, so these streams carry no event ids.
func (r *Relay) stream(w http.ResponseWriter, req *http.Request, s *session) {
	rec := record.FromContext(req.Context())
	l := newListener(true)
	s.acquire()
	defer s.release()
	s.addStream(l)
	defer s.removeStream(l)
	rc, keepAlive := r.openStream(w, rec)
	defer keepAlive.Stop()
	var batch []item
	var buf []byte
	for {
		select {
		case <-l.notify:
			batch = l.take(batch)
			buf = buf[:0]
			for i := range batch {
				buf = appendEvent(buf, batch[i].data)
				rec.StreamEvents++
			}
			if _, err := w.Write(buf); err != nil {
				return
			}
			_ = rc.Flush()
		case <-keepAlive.C:
			_, _ = w.Write([]byte(": keep-alive\n\n"))
			_ = rc.Flush()
		case <-s.done:
			return
		case <-req.Context().Done():
			return
		}
	}
}
