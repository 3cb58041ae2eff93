package aggregate

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"sync"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/sse"
)

// Request ids unique across replicas. Behind a load balancer without
// affinity, several replicas hold a copy of one sealed session (adopt.go),
// each with its own SDK client session on the same backend session, and
// each SDK client numbers its requests 1, 2, 3, … (the go-sdk has no way
// to choose the ids). Two copies serving the session at once then send one
// id twice on one backend session, and the backend refuses the second
// ("duplicate in-flight request ID", HTTP 400, which also ends that SDK
// client's connection).
//
// So every HTTP connection's round tripper (idTransport, below the SDK)
// sends a request's integer id n as the string "mcpgate.<tag>.<n>", tag
// random per connection, and gives responses carrying such an id back
// their n: the SDK sees its own ids, the backend ids no other connection
// sends. What it rewrites, in JSON bodies and in the data of each event
// of an event stream, batches included (the SDK sends none in the
// revisions it speaks, but answers may come as one):
//
//   - out: the id of a request, and params.requestId of a
//     notifications/cancelled (it names a request of this connection);
//   - in: the id of a result or error.
//
// What it leaves alone: the backend's requests and the SDK's answers to
// them (their ids are the backend's, one numbering per backend session,
// which is unique already; it only marks the requests to the client with
// their route, clientreq.go); progress tokens (the SDK path passes on the
// client's own, the same on every replica, and one client keeps them
// unique); string ids (the SDK sends none; the fast path's are its own,
// "mcpgate-<tag>-<n>", tag random per Aggregator: fastIDs).
//
// The id is a function of n, so nothing is kept per request. A body the
// strict parser refuses (it is stricter than the SDK: names equal but for
// case, nesting, invalid UTF-8) is rewritten through encoding/json, which
// reorders its members: the SDK reads it the same.

// idTag returns a fresh random tag (72 bits, base64url).
func idTag() string {
	var b [9]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// idLimits bound the strict parse of the connection's traffic: what the
// SDK sends and reads, not what the gateway admits from clients.
var idLimits = jsonrpc.Limits{MaxDepth: 256, MaxBatch: 1 << 16}

var bodies = sync.Pool{New: func() any { return new(jsonrpc.Body) }}

// idTransport is one connection's round tripper that makes its request ids
// unique (see above).
type idTransport struct {
	base http.RoundTripper
	// prefix is the rewritten ids' start, opening quote included:
	// `"mcpgate.<tag>.`.
	prefix   []byte
	maxEvent int // the SDK's bound on one event (MaxEventSize)
	// route is the route base of the backend's requests to the client
	// (clientreq.go); "": they are not marked.
	route string
}

func newIDTransport(base http.RoundTripper, maxEvent int) *idTransport {
	if maxEvent <= 0 {
		maxEvent = 16 << 20 // mcp.DefaultMaxEventSize, which a negative one (no bound) gets too
	}
	return &idTransport{base: base, prefix: []byte(`"mcpgate.` + idTag() + `.`), maxEvent: maxEvent}
}

func (t *idTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && r.Body != nil && r.Body != http.NoBody {
		body, err := readAll(r.Body, r.ContentLength)
		_ = r.Body.Close()
		if err != nil {
			return nil, err
		}
		if out := t.outgoing(body); out != nil {
			body = out
		}
		// A shallow copy: only the body changes (RoundTrip must not
		// modify r).
		r2 := new(http.Request)
		*r2 = *r
		r = r2
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil || resp.Body == nil || resp.Body == http.NoBody {
		return resp, err
	}
	switch mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt {
	case "application/json":
		resp.Body = &jsonIDBody{t: t, src: resp.Body, size: resp.ContentLength}
	case "text/event-stream":
		resp.Body = &sseIDBody{t: t, src: resp.Body, rd: sse.NewReader(resp.Body, t.maxEvent)}
	default:
		return resp, nil
	}
	// Its length changes with the ids.
	resp.ContentLength = -1
	resp.Header.Del("Content-Length")
	return resp, nil
}

// outgoing returns body with its request ids rewritten; nil when there is
// nothing to rewrite.
func (t *idTransport) outgoing(body []byte) []byte {
	b := bodies.Get().(*jsonrpc.Body)
	defer bodies.Put(b)
	if b.Parse(body, idLimits) != nil {
		return t.lenient(body, true)
	}
	var buf [2]jsonrpc.Edit
	edits := buf[:0]
	for i := range b.Messages {
		m := &b.Messages[i]
		switch {
		case m.Kind == jsonrpc.KindRequest && intToken(m.ID.Bytes(body)):
			edits = append(edits, jsonrpc.Edit{At: m.ID, Data: t.wrap(m.ID.Bytes(body))})
		case m.Kind == jsonrpc.KindNotification && m.Method == "notifications/cancelled" && m.ParamsRequestID.Present() && intToken(m.ParamsRequestID.Bytes(body)):
			edits = append(edits, jsonrpc.Edit{At: m.ParamsRequestID, Data: t.wrap(m.ParamsRequestID.Bytes(body))})
		}
	}
	if len(edits) == 0 {
		return nil
	}
	// In message order, one edit a message: sorted already.
	out, err := jsonrpc.Splice(make([]byte, 0, len(body)+len(edits)*(len(t.prefix)+1)), body, edits)
	if err != nil {
		return nil
	}
	return out
}

// incoming returns data (a JSON body, or an event's data) with the ids of
// responses to this connection's requests given back, and the backend's
// requests to the client marked with their route (clientreq.go); nil when
// there is nothing to change.
func (t *idTransport) incoming(data []byte) []byte {
	out := t.incomingIDs(data)
	if t.route != "" && mayAsk(data) {
		if out == nil {
			out = data
		}
		if marked := t.markAsks(out); marked != nil {
			return marked
		}
		if bytes.Equal(out, data) {
			return nil
		}
	}
	return out
}

// incomingIDs is incoming for the ids of responses.
func (t *idTransport) incomingIDs(data []byte) []byte {
	if !bytes.Contains(data, t.prefix) {
		return nil // the common case for all but responses: no parse
	}
	b := bodies.Get().(*jsonrpc.Body)
	defer bodies.Put(b)
	if b.Parse(data, idLimits) != nil {
		return t.lenient(data, false)
	}
	var buf [2]jsonrpc.Edit
	edits := buf[:0]
	for i := range b.Messages {
		m := &b.Messages[i]
		if m.Kind != jsonrpc.KindResult && m.Kind != jsonrpc.KindError {
			continue
		}
		if n, ok := t.unwrap(m.ID.Bytes(data)); ok {
			edits = append(edits, jsonrpc.Edit{At: m.ID, Data: n})
		}
	}
	if len(edits) == 0 {
		return nil
	}
	out, err := jsonrpc.Splice(make([]byte, 0, len(data)), data, edits)
	if err != nil {
		return nil
	}
	return out
}

// wrap returns the id the backend sees for the integer token n.
func (t *idTransport) wrap(n []byte) []byte {
	out := make([]byte, 0, len(t.prefix)+len(n)+1)
	out = append(out, t.prefix...)
	out = append(out, n...)
	return append(out, '"')
}

// unwrap returns the integer token of an id wrap made; ok is false for
// any other id.
func (t *idTransport) unwrap(id []byte) (n []byte, ok bool) {
	if len(id) < len(t.prefix)+2 || !bytes.HasPrefix(id, t.prefix) || id[len(id)-1] != '"' {
		return nil, false
	}
	n = id[len(t.prefix) : len(id)-1]
	return n, intToken(n)
}

// intToken reports whether tok is a JSON integer: what the SDK's ids are.
func intToken(tok []byte) bool {
	if len(tok) > 0 && tok[0] == '-' {
		tok = tok[1:]
	}
	if len(tok) == 0 || len(tok) > 1 && tok[0] == '0' {
		return false
	}
	for _, c := range tok {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// lenient is outgoing (out) or incoming for a body the strict parser
// refused, through encoding/json: the body as the SDK reads it.
func (t *idTransport) lenient(body []byte, out bool) []byte {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	if body[0] != '[' {
		return t.lenientOne(body, out)
	}
	var msgs []json.RawMessage
	if json.Unmarshal(body, &msgs) != nil {
		return nil
	}
	changed := false
	for i, m := range msgs {
		if n := t.lenientOne(m, out); n != nil {
			msgs[i], changed = n, true
		}
	}
	if !changed {
		return nil
	}
	res, err := json.Marshal(msgs)
	if err != nil {
		return nil
	}
	return res
}

func (t *idTransport) lenientOne(msg []byte, out bool) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(msg, &m) != nil {
		return nil
	}
	id, hasID := m["id"]
	rawMethod, hasMethod := m["method"]
	switch {
	case out && hasMethod && hasID && intToken(id):
		m["id"] = t.wrap(id)
	case out && hasMethod && !hasID:
		var method string
		var params map[string]json.RawMessage
		if json.Unmarshal(rawMethod, &method) != nil || method != "notifications/cancelled" ||
			json.Unmarshal(m["params"], &params) != nil || !intToken(params["requestId"]) {
			return nil
		}
		params["requestId"] = t.wrap(params["requestId"])
		p, err := json.Marshal(params)
		if err != nil {
			return nil
		}
		m["params"] = p
	case !out && !hasMethod && hasID:
		n, ok := t.unwrap(id)
		if !ok {
			return nil
		}
		m["id"] = n
	default:
		return nil
	}
	res, err := json.Marshal(m)
	if err != nil {
		return nil
	}
	return res
}

// jsonIDBody is a JSON response body with its ids given back (incoming),
// read whole on the first Read, as the SDK reads it.
type jsonIDBody struct {
	t    *idTransport
	src  io.ReadCloser
	size int64 // its Content-Length; -1: unknown
	data []byte
	err  error
	read bool
}

func (b *jsonIDBody) Read(p []byte) (int, error) {
	if !b.read {
		b.read = true
		b.data, b.err = readAll(b.src, b.size)
		if out := b.t.incoming(b.data); out != nil {
			b.data = out
		}
		if b.err == nil {
			b.err = io.EOF
		}
	}
	if len(b.data) == 0 {
		return 0, b.err
	}
	n := copy(p, b.data)
	b.data = b.data[n:]
	return n, nil
}

func (b *jsonIDBody) Close() error { return b.src.Close() }

// readAll is io.ReadAll into one buffer of the size, when known (the
// SDK's requests and the backends' JSON answers say it).
func readAll(r io.Reader, size int64) ([]byte, error) {
	if size < 0 || size > 16<<20 {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, size+1) // +1: room to see the end without growing
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // longer than it said: grow
		}
	}
}

// sseIDBody is an event stream with the ids in its events' data given
// back (incoming), event by event as they come; every other byte passes
// as it is.
type sseIDBody struct {
	t   *idTransport
	src io.ReadCloser
	rd  *sse.Reader
	out []byte // what is left to hand out of the last event
	buf []byte // a rewritten event
	err error
}

func (b *sseIDBody) Read(p []byte) (int, error) {
	for len(b.out) == 0 {
		if b.err != nil {
			return 0, b.err
		}
		ev, err := b.rd.Next()
		if err != nil {
			b.err = err
			continue
		}
		b.out = b.event(&ev)
	}
	n := copy(p, b.out)
	b.out = b.out[n:]
	return n, nil
}

func (b *sseIDBody) Close() error { return b.src.Close() }

// event returns ev's bytes for the SDK: its raw bytes, or, when its data
// answers one of the connection's requests, the event with the id given
// back: spliced into its one data line, else written anew (its data, event
// type, id and retry: what a reader takes from it).
func (b *sseIDBody) event(ev *sse.Event) []byte {
	if !ev.Dispatched() || ev.Truncated {
		return ev.Raw
	}
	data := b.t.incoming(ev.Data)
	if data == nil {
		return ev.Raw
	}
	if i := dataLine(ev.Raw, ev.Data); i >= 0 {
		b.buf = append(b.buf[:0], ev.Raw[:i]...)
		b.buf = append(b.buf, data...)
		b.buf = append(b.buf, ev.Raw[i+len(ev.Data):]...)
		return b.buf
	}
	b.buf = b.buf[:0]
	if ev.Retry >= 0 {
		b.buf = append(b.buf, "retry: "...)
		b.buf = strconv.AppendInt(b.buf, ev.Retry.Milliseconds(), 10)
		b.buf = append(b.buf, '\n')
	}
	b.buf = sse.AppendEvent(b.buf, string(ev.ID), string(ev.Name), data)
	return b.buf
}

// dataLine returns where data is the whole value of a data line of raw, or
// -1 (data of several lines, or a line the search cannot tell).
func dataLine(raw, data []byte) int {
	if len(data) == 0 || bytes.IndexByte(data, '\n') >= 0 {
		return -1
	}
	for off := 0; off < len(raw); {
		i := bytes.Index(raw[off:], data)
		if i < 0 {
			return -1
		}
		i += off
		off = i + 1
		end := i + len(data)
		if end >= len(raw) || raw[end] != '\n' && raw[end] != '\r' {
			continue
		}
		for _, field := range []string{"data: ", "data:"} {
			j := i - len(field)
			if j >= 0 && string(raw[j:i]) == field && (j == 0 || raw[j-1] == '\n' || raw[j-1] == '\r') {
				return i
			}
		}
	}
	return -1
}
