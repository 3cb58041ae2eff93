package httprelay

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/mcpgate/mcpgate/internal/idleread"
	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
	"github.com/mcpgate/mcpgate/internal/sse"
	"github.com/mcpgate/mcpgate/internal/telemetry"
)

// noteResponses records every response in b on the request it answers
// (record.Record.AnswerMessage), shows cat the results of tools/list and
// prompts/list (the names a metric may carry), and versions those of
// server/discover (the revisions a -32022 of the gateway's may offer).
func noteResponses(rec *record.Record, b *jsonrpc.Body, raw []byte, backend string, cat *telemetry.Catalog, versions *mcpwire.Advertised) {
	for i := range b.Messages {
		m := &b.Messages[i]
		op := rec.AnswerMessage(m, raw)
		if op == nil || m.Kind != jsonrpc.KindResult {
			continue
		}
		switch op.Method {
		case "tools/list", "prompts/list":
			cat.Learn(backend, op.Method, m.Result.Bytes(raw))
		case "server/discover":
			versions.LearnDiscover(m.Result.Bytes(raw))
		}
	}
}

// sseWatcher passes an event stream through event by event, inspecting each
// complete event of bounded size for JSON-RPC responses. When the backend's
// stream breaks (rather than ends), it appends one JSON-RPC error event per
// unanswered request, so the client learns its call failed instead of
// waiting on a dead stream.
type sseWatcher struct {
	ctx     context.Context
	body    io.ReadCloser
	events  *sse.Reader
	rec     *record.Record
	backend string
	cat     *telemetry.Catalog
	ver     *mcpwire.Advertised
	msg     jsonrpc.Body
	pending []byte
	done    error // returned once pending is drained

	// tail holds an event the stream ended inside of, until Next says
	// whether it ended or broke; open is set while the client holds the
	// start of an event whose end it has not been sent (Partial chunks).
	tail []byte
	open bool
}

func newSSEWatcher(ctx context.Context, body io.ReadCloser, rec *record.Record, _ *inspect.Request, maxEvent int, idle time.Duration, backend string, cat *telemetry.Catalog, ver *mcpwire.Advertised) io.ReadCloser {
	src := body
	if idle > 0 {
		src = idleread.New(body, idle, nil)
	}
	return &sseWatcher{ctx: ctx, body: src, events: sse.NewReader(src, maxEvent), rec: rec, backend: backend, cat: cat, ver: ver}
}

func (w *sseWatcher) Read(p []byte) (int, error) {
	for len(w.pending) == 0 {
		if w.done != nil {
			return 0, w.done
		}
		ev, err := w.events.Next()
		switch {
		case ev.Incomplete:
			// The stream ended inside this event; Next reports how next.
			// Held back because if it broke, the error events written in
			// its place must not be read as more lines of this event.
			w.tail = append(w.tail[:0], ev.Raw...)
		case len(ev.Raw) > 0:
			w.pending = ev.Raw
			w.open = ev.Partial
			if !ev.Partial {
				w.rec.StreamEvents++
			}
			if ev.Dispatched() && !ev.Truncated && len(ev.Data) > 0 {
				if w.msg.Parse(ev.Data, jsonrpc.Limits{}) == nil {
					noteResponses(w.rec, &w.msg, ev.Data, w.backend, w.cat, w.ver)
				}
			}
		}
		if err != nil {
			w.finish(err)
		}
	}
	n := copy(p, w.pending)
	w.pending = w.pending[n:]
	return n, nil
}

func (w *sseWatcher) finish(err error) {
	w.done = io.EOF
	switch {
	case errors.Is(err, io.EOF):
		// A client discards an unterminated event at the end of the
		// stream, so the held-back bytes go out as the backend sent them.
		w.pending = w.tail
		if w.rec.Unanswered() {
			w.rec.Fail(record.ReasonStreamClosed, "backend closed the event stream before responding")
		}
	case w.ctx.Err() != nil:
		w.rec.Fail(record.ReasonClientCanceled, err.Error())
		w.done = err
	default:
		be := &record.BackendError{Backend: w.backend, Reason: record.ReasonUpstreamUnavailable, What: "failed mid-stream", Err: err}
		if isTimeout(err) {
			be.Reason, be.What = record.ReasonUpstreamTimeout, "went idle mid-stream"
		}
		w.rec.FailBackend(be, err.Error())
		// The held-back tail of an unterminated event is dropped (a client
		// would discard it too). If the client already has the start of an
		// event, a line end and a blank line close it, so that the errors
		// arrive as events of their own.
		var synth []byte
		if w.open {
			synth = append(synth, "\n\n"...)
		}
		var rpcErr record.RPCError
		for i := range w.rec.Ops {
			op := &w.rec.Ops[i]
			if op.Kind != record.OpRequest || op.Answered {
				continue
			}
			if !rpcErr.Valid {
				rpcErr = record.RPCError{Code: be.Code(), Message: be.Error(), Valid: true}
			}
			op.Answered, op.Error = true, rpcErr
			synth = append(synth, "event: message\ndata: "...)
			synth = be.AppendJSON(synth, []byte(op.ID))
			synth = append(synth, "\n\n"...)
		}
		w.pending = synth
	}
}

func (w *sseWatcher) Close() error { return w.body.Close() }

// jsonWatcher passes a JSON response through while keeping up to max bytes
// of it, then parses what it kept to learn the outcome.
type jsonWatcher struct {
	ctx     context.Context
	body    io.ReadCloser
	rec     *record.Record
	max     int
	buf     []byte
	bufp    *[]byte // buf's way back into inspectBufs
	over    bool
	backend string
	cat     *telemetry.Catalog
	ver     *mcpwire.Advertised
}

func newJSONWatcher(ctx context.Context, body io.ReadCloser, rec *record.Record, max int, idle time.Duration, backend string, cat *telemetry.Catalog, ver *mcpwire.Advertised) io.ReadCloser {
	if idle > 0 {
		body = idleread.New(body, idle, nil)
	}
	return &jsonWatcher{ctx: ctx, body: body, rec: rec, max: max, backend: backend, cat: cat, ver: ver}
}

func (w *jsonWatcher) Read(p []byte) (int, error) {
	n, err := w.body.Read(p)
	if !w.over {
		if len(w.buf)+n > w.max {
			w.over = true
			w.release()
		} else {
			if w.bufp == nil && n > 0 {
				w.bufp = getInspectBuf()
				w.buf = (*w.bufp)[:0]
			}
			w.buf = appendBounded(w.buf, p[:n], w.max)
		}
	}
	if err == io.EOF && !w.over && len(w.buf) > 0 {
		var b jsonrpc.Body
		if b.Parse(w.buf, jsonrpc.Limits{}) == nil {
			noteResponses(w.rec, &b, w.buf, w.backend, w.cat, w.ver)
		}
		w.release()
	}
	if err != nil && err != io.EOF {
		// The response was cut short (ReverseProxy aborts it); without this
		// the record would show a request that simply went unanswered.
		switch {
		case w.ctx.Err() != nil:
			w.rec.Fail(record.ReasonClientCanceled, err.Error())
		case isTimeout(err):
			w.rec.Fail(record.ReasonUpstreamTimeout, err.Error())
		default:
			w.rec.Fail(record.ReasonUpstreamUnavailable, err.Error())
		}
	}
	return n, err
}

func (w *jsonWatcher) Close() error {
	w.release()
	return w.body.Close()
}

// release gives the buffer back for reuse (see inspectBufs).
func (w *jsonWatcher) release() {
	putInspectBuf(w.bufp, w.buf)
	w.bufp, w.buf = nil, nil
}
