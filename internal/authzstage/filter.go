package authzstage

import (
	"mime"
	"net/http"
	"strconv"

	"github.com/mcpgate/mcpgate/internal/authz"
	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
	"github.com/mcpgate/mcpgate/internal/sse"
)

// pending is a list request of the body whose result the filter rewrites.
type pending struct {
	id, method string
	op         int // its index in the record's ops
	// done: its result was rewritten, or replaced by an error (failed);
	// a later message with the id is dropped when failed.
	done, failed bool
}

type filterMode uint8

const (
	modeUndecided filterMode = iota
	modePass                 // not JSON or SSE: passed through untouched
	modeJSON                 // held whole, rewritten at the end
	modeSSE                  // rewritten event by event
)

// filter is the response writer the stage installs for a request holding
// list requests. A JSON body is held (bounded) and rewritten when the
// handler returns; an event stream is rewritten event by event, so that
// everything but a list result streams as it came; anything else passes.
type filter struct {
	w      http.ResponseWriter
	s      *Stage
	rec    *record.Record
	p      authz.Principal
	client authz.Client
	lists  []pending
	mode   filterMode
	status int
	buf    []byte
	over   bool // the JSON body cannot be filtered: refused with why
	why    func(method string) string
	feeder *sse.Feeder
	out    []byte
}

func (s *Stage) newFilter(w http.ResponseWriter, rec *record.Record, p authz.Principal, c authz.Client, lists []pending) *filter {
	return &filter{w: w, s: s, rec: rec, p: p, client: c, lists: lists}
}

func (f *filter) Header() http.Header { return f.w.Header() }

// Unwrap lets http.ResponseController reach the connection.
func (f *filter) Unwrap() http.ResponseWriter { return f.w }

func (f *filter) WriteHeader(code int) {
	if f.mode != modeUndecided {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		// Informational (103 Early Hints, relayed by a reverse proxy): the
		// final response, which may hold the list, is still to come.
		f.w.WriteHeader(code)
		return
	}
	f.status = code
	mt, _, _ := mime.ParseMediaType(f.w.Header().Get("Content-Type"))
	enc := f.w.Header().Get("Content-Encoding")
	switch {
	case code == http.StatusNoContent || code == http.StatusNotModified || code == http.StatusSwitchingProtocols:
		// No body: nothing to filter. Every other status is read, an
		// error status too: a list result must not pass unfiltered
		// whatever status carries it.
		f.mode = modePass
	case enc != "" && enc != "identity" && f.enforce():
		// A compressed list cannot be read, so it may not pass (the HTTP
		// relay asks its backend for identity; this is the fence).
		f.mode, f.over, f.why = modeJSON, true, unreadable
		f.w.Header().Del("Content-Length")
		f.w.Header().Del("Content-Encoding")
		return
	case mt == "application/json" || (mt != "text/event-stream" && f.enforce()):
		// In enforce mode a body of any other type is held and read too:
		// a lenient client might take a list result however it is labelled.
		f.mode = modeJSON
		// The body changes size: the length is set again at the end.
		f.w.Header().Del("Content-Length")
		return // written at the end
	case mt == "text/event-stream":
		f.mode = modeSSE
		f.w.Header().Del("Content-Length")
		f.feeder = sse.NewFeeder(f.s.o.MaxListBytes)
	default:
		f.mode = modePass
	}
	f.w.WriteHeader(code)
}

func (f *filter) Write(p []byte) (int, error) {
	if f.mode == modeUndecided {
		f.WriteHeader(http.StatusOK)
	}
	switch f.mode {
	case modeJSON:
		if f.over {
			return len(p), nil
		}
		if len(f.buf)+len(p) > f.s.o.MaxListBytes {
			if f.s.o.Engine.Mode() != authz.ModeEnforce {
				// Shadow mode removes nothing: the body passes as it is,
				// streaming from here on.
				f.mode = modePass
				f.w.WriteHeader(f.status)
				if _, err := f.w.Write(f.buf); err != nil {
					return 0, err
				}
				f.buf = nil
				return f.w.Write(p)
			}
			f.over, f.why = true, tooLarge
			f.buf = nil
			return len(p), nil
		}
		f.buf = append(f.buf, p...)
		return len(p), nil
	case modeSSE:
		f.out = f.out[:0]
		f.feeder.Feed(p, f.event)
		if len(f.out) > 0 {
			if _, err := f.w.Write(f.out); err != nil {
				return 0, err
			}
		}
		return len(p), nil
	}
	return f.w.Write(p)
}

// Flush passes through except while a JSON body is held.
func (f *filter) Flush() {
	if f.mode == modeJSON {
		return
	}
	// Through the writer's Unwrap chain, like http.ResponseController.
	_ = http.NewResponseController(f.w).Flush()
}

// event rewrites one SSE event (or chunk) into f.out.
func (f *filter) enforce() bool { return f.s.o.Engine.Mode() == authz.ModeEnforce }

func (f *filter) event(ev *sse.Event) {
	enforce := f.enforce()
	if ev.Partial || ev.Truncated {
		// Larger than the bound: it cannot be read, so it may be a list
		// result. In enforce mode, while a list is unanswered, it is
		// dropped and the unanswered lists get a gateway error.
		if !enforce || !f.unanswered() {
			f.out = append(f.out, ev.Raw...)
			return
		}
		if !ev.Partial { // its last chunk
			f.out = f.failAll(f.out, ev.ID)
		}
		return
	}
	if !ev.Dispatched() {
		f.out = append(f.out, ev.Raw...)
		return
	}
	data, drop, changed := f.rewrite(ev.Data)
	switch {
	case drop:
	case !changed:
		f.out = append(f.out, ev.Raw...)
	default:
		f.out = sse.AppendEvent(f.out, string(ev.ID), string(ev.Name), data)
	}
}

func (f *filter) unanswered() bool {
	for i := range f.lists {
		if !f.lists[i].done {
			return true
		}
	}
	return false
}

// failAll appends an error event for each unanswered list.
func (f *filter) failAll(dst, id []byte) []byte {
	for i := range f.lists {
		if l := &f.lists[i]; !l.done {
			l.done, l.failed = true, true
			f.rec.Fail(record.ReasonUpstreamError, "authz: "+l.method+" result too large to filter")
			dst = sse.AppendEvent(dst, string(id), "", mcpwire.AppendError(nil, []byte(l.id), mcpwire.CodeGateway, tooLarge(l.method)))
		}
	}
	return dst
}

func tooLarge(method string) string {
	return "gateway: the " + method + " result is too large to filter for authorization"
}

// rewrite filters the list results in msg (one JSON-RPC message or a
// batch of them). drop: msg answers a list already failed.
func (f *filter) rewrite(msg []byte) (out []byte, drop, changed bool) {
	body, err := jsonrpc.Parse(msg, jsonrpc.Limits{MaxBatch: 1 << 16, MaxDepth: 1 << 10})
	if err != nil {
		if f.enforce() && f.unanswered() {
			// It may be a list result a lenient client would read: in
			// enforce mode it is not relayed unfiltered.
			f.rec.Fail(record.ReasonUpstreamError, "authz: a response that answers a list could not be parsed")
			return nil, true, false
		}
		return msg, false, false
	}
	var edits []jsonrpc.Edit
	for i := range body.Messages {
		m := &body.Messages[i]
		if m.Kind != jsonrpc.KindResult && m.Kind != jsonrpc.KindError {
			continue
		}
		l := f.list(m.ID.Bytes(msg))
		if l == nil {
			continue
		}
		if l.failed {
			if !body.Batch {
				return nil, true, false
			}
			continue
		}
		l.done = true
		if m.Kind != jsonrpc.KindResult {
			continue
		}
		res, err := f.filterResult(l, m.Result.Bytes(msg))
		if err != nil {
			edits = append(edits, jsonrpc.Edit{At: m.Object, Data: mcpwire.AppendError(nil, []byte(l.id), mcpwire.CodeGateway, "gateway: the "+l.method+" result is malformed")})
			f.rec.Fail(record.ReasonUpstreamError, "authz: "+l.method+" result is malformed")
			continue
		}
		if res != nil {
			edits = append(edits, jsonrpc.Edit{At: m.Result, Data: res})
		}
	}
	if len(edits) == 0 {
		return msg, false, false
	}
	out, err = jsonrpc.Splice(nil, msg, edits)
	if err != nil {
		return msg, false, false
	}
	return out, false, true
}

func (f *filter) list(id []byte) *pending {
	if len(id) == 0 {
		return nil
	}
	for i := range f.lists {
		if f.lists[i].id == string(id) {
			return &f.lists[i]
		}
	}
	return nil
}

// filterResult returns the filtered result, or nil when it is unchanged.
// A malformed result is an error only in enforce mode: in shadow mode
// nothing would have been removed anyway.
func (f *filter) filterResult(l *pending, result []byte) ([]byte, error) {
	e := f.s.o.Engine
	method := l.method
	out, st, err := e.FilterList(f.p, method, result, authz.ListOptions{
		Backend: f.s.o.Backend, BackendOf: f.s.o.BackendOf, Client: f.client, Catalog: f.s.o.Catalog,
	})
	if err != nil {
		if e.Mode() == authz.ModeEnforce {
			return nil, err
		}
		return nil, nil
	}
	if st.Denied > 0 {
		// What the list's filtering decided, visible in shadow mode too.
		f.rec.Ops[l.op].Authz = &record.Authz{Effect: record.AuthzAllow, Mode: f.s.mode, Evaluated: true, ItemsDenied: st.Denied}
	}
	if st.Private && mcpwire.Stateless(f.client.ProtocolVersion) {
		if out, err = authz.MarkPrivate(out); err != nil {
			return nil, err
		}
	}
	if st.Removed == 0 && !(st.Private && mcpwire.Stateless(f.client.ProtocolVersion)) {
		return nil, nil
	}
	return out, nil
}

// finish writes a held JSON body, rewritten.
func (f *filter) finish() {
	if f.mode != modeJSON {
		return
	}
	body := f.buf
	if f.over {
		// Enforce mode: a list that cannot be filtered may not pass.
		body = f.refuseLists(f.why)
	} else if out, drop, changed := f.rewrite(body); drop {
		body = f.refuseLists(unreadable)
	} else if changed {
		body = out
	}
	f.w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	f.w.WriteHeader(f.status)
	_, _ = f.w.Write(body)
}

func unreadable(method string) string {
	return "gateway: the response to " + method + " cannot be read to filter it for authorization"
}

// refuseLists is the body answering the unanswered lists of a JSON
// response that cannot be filtered, with why(method) as the message.
func (f *filter) refuseLists(why func(string) string) []byte {
	var out []byte
	n := 0
	for i := range f.lists {
		l := &f.lists[i]
		if l.done {
			continue
		}
		if n > 0 {
			out = append(out, ',')
		}
		n++
		out = mcpwire.AppendError(out, []byte(l.id), mcpwire.CodeGateway, why(l.method))
		f.rec.Fail(record.ReasonUpstreamError, "authz: "+why(l.method))
	}
	if n > 1 {
		out = append(append([]byte{'['}, out...), ']')
	}
	f.status = http.StatusBadGateway
	return out
}
