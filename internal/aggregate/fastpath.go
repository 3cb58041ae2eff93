//lint:file-ignore SA1019 the fast path checks that the client declared none of sampling and roots, which are deprecated as of 2026-07-28.

package aggregate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	sdkjsonrpc "github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
	"github.com/mcpgate/mcpgate/internal/sse"
)

// The fast path relays a tools/call to an HTTP backend without the SDK's
// server and client in between: the client's bytes go to the backend's
// session (or, for a stateless backend, which assigned none, to the backend
// with no session id) with three splices (the id, the tool's own name, the CLIENT
// span's trace context in _meta), and the backend's answer comes back with
// the id spliced back: the relays' way of rewriting (jsonrpc.Splice), not
// the SDK's decode and re-encode. Everything else
// (and every call the conditions in fastCall rule out) takes the SDK path.
//
// It is taken only when nothing can go wrong by skipping the SDK:
//
//   - one tools/call request, in a session-based revision, in a session the
//     aggregator set up, with no io.modelcontextprotocol/ key in its _meta;
//   - the client declared no sampling, elicitation or roots, so the backend
//     (to which the gateway declared none either) sends no server→client
//     request that would need answering through the SDK;
//   - the tool belongs to an HTTP backend that is connected, with a
//     session-based revision too — with a session of its own or stateless
//     (the Go SDK's Stateless: true), which needs none: each POST stands
//     alone, and _meta trace context is then created only where the
//     client sent a _meta (pinnedSession's rule; the header carries it
//     always).
//
// Progress and log notifications the backend sends on the call's stream are
// relayed as they come (the progress token is the client's own). The
// backend sees its own request id, "mcpgate-<tag>-N", never the client's:
// the backend session also carries the SDK client's requests (whose ids
// idTransport makes "mcpgate.<tag>.N", reqids.go), and, behind a load
// balancer without affinity, other replicas' fast calls, whose counters
// start where this one's does (tag is random per Aggregator). A
// notifications/cancelled for a fast call is forwarded.

// metaNamespace begins the _meta keys the protocol defines
// (mcp.MetaKeyProtocolVersion, …), as the key of a JSON member.
var metaNamespace = []byte(`"io.modelcontextprotocol/`)

// fastIDs numbers fast-path requests across the process.
var fastIDs atomic.Uint64

// fastCall is a fast-path call in flight, for notifications/cancelled.
type fastCall struct {
	c         *conn
	backendID string
	cancel    context.CancelFunc
}

// fastCalls are a session's fast calls in flight, by the client's raw id.
type fastCalls struct {
	mu sync.Mutex
	m  map[string]*fastCall
}

func (f *fastCalls) put(id string, fc *fastCall) {
	f.mu.Lock()
	if f.m == nil {
		f.m = map[string]*fastCall{}
	}
	f.m[id] = fc
	f.mu.Unlock()
}

func (f *fastCalls) take(id string) *fastCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	fc := f.m[id]
	delete(f.m, id)
	return fc
}

// fastEligible reports whether the session may use the fast path.
func (s *session) fastEligible() bool {
	c := s.caps
	return s.ss != nil && c != nil && c.Sampling == nil && c.Elicitation == nil && c.RootsV2 == nil && !c.Roots.ListChanged
}

// serveFast serves the request on the fast path and reports true, or
// reports false, having written nothing, when the SDK path must serve it.
func (a *Aggregator) serveFast(w http.ResponseWriter, r *http.Request, rec *record.Record, in *inspect.Request, sid string) bool {
	if sid == "" || in.Body.Batch || len(in.Body.Messages) != 1 || len(rec.Ops) != 1 || mcpwire.Stateless(rec.ProtocolVersion) {
		return false
	}
	m := &in.Body.Messages[0]
	switch {
	case m.Kind == jsonrpc.KindNotification && m.Method == "notifications/cancelled" && m.ParamsRequestID.Present():
		s := a.sessionByID(sid)
		if s == nil {
			return false
		}
		fc := s.fast.take(string(m.ParamsRequestID.Bytes(in.Raw)))
		if fc == nil {
			return false // not one of ours: the SDK cancels its own
		}
		fc.cancel()
		fc.c.notifyCancelled(fc.backendID)
		w.WriteHeader(http.StatusAccepted)
		return true
	case m.Kind != jsonrpc.KindRequest || m.Method != "tools/call" || !m.NameValue.Present():
		return false
	}
	if m.Meta.Present() && bytes.Contains(m.Meta.Bytes(in.Raw), metaNamespace) {
		// A key of the protocol's own in the client's _meta: the SDK path
		// leaves out those that describe the client's hop (forwardMeta),
		// which a stateless backend, reading each body on its own, would
		// take for the gateway's. Rare in a session's calls.
		return false
	}
	accept := r.Header.Get("Accept")
	if !mcpwire.Accepts(accept, "application/json") || !mcpwire.Accepts(accept, "text/event-stream") {
		return false
	}
	s := a.sessionByID(sid)
	if s == nil || !s.fastEligible() {
		return false
	}
	route, ok := s.route("tools/call", m.Name)
	if !ok {
		return false
	}
	c := s.connOf(route.Backend)
	if c == nil || c.b.client == nil {
		return false
	}
	ir := c.cs.InitializeResult()
	if ir == nil || mcpwire.Stateless(ir.ProtocolVersion) {
		return false
	}
	rec.Backend = route.Backend
	clientID := m.ID.Bytes(in.Raw)
	// The backend's id, "mcpgate-<tag>-N", and its JSON form.
	quoted := append(make([]byte, 0, 48), `"mcpgate-`...)
	quoted = append(append(quoted, a.tag...), '-')
	quoted = strconv.AppendUint(quoted, fastIDs.Add(1), 10)
	quoted = append(quoted, '"')
	backendID := string(quoted[1 : len(quoted)-1])
	ww := newWatchWriter(w, rec, a.tel.Catalog())
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	key := string(clientID)
	s.fast.put(key, &fastCall{c: c, backendID: backendID, cancel: cancel})
	defer s.fast.take(key)

	st := &fastState{}
	err := c.call(ctx, "tools/call", route.Own, m.ProgressToken.Present(), func(ctx context.Context) (bool, error) {
		body, err := c.fastBody(ctx, in, m, route.Own, quoted)
		if err != nil {
			return false, err
		}
		return c.fastSend(ctx, ww, body, ir.ProtocolVersion, sid, clientID, quoted, st)
	})
	if r.Context().Err() != nil && !st.delivered {
		// The client went away mid-call. This path keeps no event store,
		// so the answer could never reach it: cancel the backend's work,
		// as the notification the client may still send would.
		c.notifyCancelled(backendID)
	}
	var be *record.BackendError
	if err != nil && !st.delivered && errors.As(err, &be) {
		// The gateway's own error for a backend that failed (call mapped
		// it), recorded here and sent as a JSON response, or as the last
		// event of a stream that had begun.
		rec.FailBackend(be, be.Error())
		msg := be.AppendJSON(nil, clientID)
		if st.wrote {
			_, _ = ww.Write(sse.AppendEvent(nil, "", "message", msg))
			ww.Flush()
		} else {
			ww.Header().Set(mcpwire.HeaderSessionID, sid)
			ww.Header().Set("Content-Type", "application/json")
			ww.WriteHeader(http.StatusOK)
			_, _ = ww.Write(msg)
		}
	}
	ww.finish()
	return true
}

// fastBody is the client's message for the backend: its id, the tool's
// own name, and the CLIENT span (in ctx) as _meta trace context.
func (c *conn) fastBody(ctx context.Context, in *inspect.Request, m *jsonrpc.Message, own string, backendID []byte) ([]byte, error) {
	edits := m.AppendReplaceIDEdits(nil, backendID)
	edits = m.AppendReplaceNameEdits(edits, own)
	carrier := metaCarrier{}
	w3c.Inject(ctx, carrier)
	// A backend session (cs.ID() set) pins the era, so the rule lets _meta
	// be created; a stateless backend of a session-based revision assigns
	// no session and reads each body on its own, so only a _meta the client
	// sent carries the trace context — as on the SDK path (pinnedSession).
	pinned := c.cs.ID() != ""
	if tp, _ := carrier["traceparent"].(string); tp != "" && mcpwire.TraceMeta(m.Method, m.Meta.Present(), pinned) {
		kv := []jsonrpc.MetaKV{{Key: "traceparent", Value: tp}}
		if ts, _ := carrier["tracestate"].(string); ts != "" {
			kv = append(kv, jsonrpc.MetaKV{Key: "tracestate", Value: ts})
		}
		edits = m.AppendSetMetaEdits(edits, in.Raw, kv...)
	}
	jsonrpc.SortEdits(edits)
	return jsonrpc.Splice(make([]byte, 0, len(in.Raw)+128), in.Raw, edits)
}

// fastState is how far a fast call's answer got to the client.
type fastState struct {
	wrote     bool // the response (headers, maybe events) has begun
	delivered bool // the call's response reached the client
}

// fastSend posts body to the backend's session and relays its answer to w
// with the client's id restored. The returned error is a *jsonrpc.Error
// when the backend answered with one (relayed as is), else a transport
// failure (nothing relayed, unless *wrote says otherwise).
func (c *conn) fastSend(ctx context.Context, w *watchWriter, body []byte, version, sid string, clientID, quoted []byte, st *fastState) (bool, error) {
	resp, err := c.post(ctx, body, version)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return false, fmt.Errorf("backend answered HTTP %d", resp.StatusCode)
	}
	// in holds what is read of the answer, out what is written of it; both
	// are the pool's and go back once written (the writers copy).
	in, out := getBuf(), getBuf()
	defer putBuf(in)
	defer putBuf(out)
	h := w.Header()
	h.Set(mcpwire.HeaderSessionID, sid)
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		rd := sse.NewReader(resp.Body, maxWatched)
		for {
			ev, err := rd.Next()
			if err != nil {
				return false, fmt.Errorf("backend stream ended without the response: %w", err)
			}
			if !ev.Dispatched() || ev.Truncated {
				continue
			}
			msg, done, toolErr, rpcErr := c.fastMessage((*in)[:0], ev.Data, quoted, clientID)
			if msg == nil {
				continue
			}
			if done {
				*in = msg[:0]
			}
			if !st.wrote {
				w.WriteHeader(http.StatusOK)
				st.wrote = true
			}
			*out = sse.AppendEvent((*out)[:0], "", "message", msg)
			_, _ = w.Write(*out)
			w.Flush()
			if done {
				st.delivered = true
				return toolErr, rpcErr
			}
		}
	}
	data, err := appendAll((*in)[:0], io.LimitReader(resp.Body, 64<<20))
	*in = data[:0]
	if err != nil {
		return false, err
	}
	msg, done, toolErr, rpcErr := c.fastMessage((*out)[:0], data, quoted, clientID)
	if !done {
		return false, errors.New("backend's JSON answer is not the call's response")
	}
	*out = msg[:0]
	h["Content-Type"] = jsonContentType
	w.WriteHeader(http.StatusOK)
	st.wrote, st.delivered = true, true
	_, _ = w.Write(msg)
	return toolErr, rpcErr
}

// fastBufs are the fast path's buffers for answers; one larger than
// maxPooled is left to the collector rather than kept.
var fastBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

const maxPooled = 64 << 10

func getBuf() *[]byte { return fastBufs.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) <= maxPooled {
		*b = (*b)[:0]
		fastBufs.Put(b)
	}
}

// appendAll is io.ReadAll appending to dst.
func appendAll(dst []byte, r io.Reader) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = slices.Grow(dst, max(512, cap(dst)))
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// fastMessage returns one message of the backend's answer as the client
// gets it: the call's response with the client's id, appended to dst
// (done), a notification as it is (data itself), nil for anything else (a
// server→client request cannot be answered on this path; the conditions
// make it unexpected).
func (c *conn) fastMessage(dst, data, backendID, clientID []byte) (out []byte, done, toolErr bool, rpcErr error) {
	var b jsonrpc.Body
	if b.Parse(data, jsonrpc.Limits{}) != nil || b.Batch || len(b.Messages) != 1 {
		return nil, false, false, nil
	}
	m := &b.Messages[0]
	switch m.Kind {
	case jsonrpc.KindNotification:
		return data, false, false, nil
	case jsonrpc.KindResult, jsonrpc.KindError:
		if !m.ID.Present() || !bytes.Equal(m.ID.Bytes(data), backendID) {
			return nil, false, false, nil
		}
		out, err := jsonrpc.Splice(dst, data, m.AppendReplaceIDEdits(nil, clientID))
		if err != nil {
			return nil, false, false, nil
		}
		if m.Kind == jsonrpc.KindError {
			rpcErr = &sdkjsonrpc.Error{Code: m.ErrorCode, Message: m.ErrorMessage}
		}
		return out, true, m.IsError, rpcErr
	}
	c.b.log.Warn("fast path: dropping a backend request it cannot answer", "method", m.Method)
	return nil, false, false, nil
}

// post sends one message to the backend's session (to the backend, for a
// stateless one). The request is the fast path's own, so it carries what
// traceTransport would add — the backend's static headers, the CLIENT
// span's context (in ctx) as W3C headers — from the start and goes straight
// to the transport under it: traceTransport must clone a request it adds
// to, and http.Client copies the headers of every request in case of a
// redirect. A redirect, which the SDK's client would follow, is followed
// through the backend's client.
func (c *conn) post(ctx context.Context, body []byte, version string) (*http.Response, error) {
	req, err := c.newPost(ctx, body, version)
	if err != nil {
		return nil, err
	}
	tt, ok := c.b.client.Transport.(*traceTransport)
	if !ok {
		return c.b.client.Do(req)
	}
	h := req.Header
	// As traceTransport.RoundTrip does, in its order.
	for k, vs := range tt.headers {
		h[http.CanonicalHeaderKey(k)] = vs
	}
	if trace.SpanContextFromContext(ctx).IsValid() {
		h.Del("Tracestate")
		w3c.Inject(ctx, propagation.HeaderCarrier(h))
	}
	resp, err := tt.base.RoundTrip(req)
	if err != nil {
		// As http.Client reports it: the log names the backend's URL.
		return nil, &url.Error{Op: "Post", URL: c.b.URL.Redacted(), Err: err}
	}
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		if req, err = c.newPost(ctx, body, version); err != nil {
			return nil, err
		}
		return c.b.client.Do(req)
	}
	return resp, nil
}

// newPost is a POST of body to the backend with the headers of the MCP
// hop: its session (none for a stateless backend: each POST stands alone)
// and its protocol revision.
func (c *conn) newPost(ctx context.Context, body []byte, version string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.b.URL.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	h := req.Header
	h["Content-Type"] = jsonContentType
	h["Accept"] = acceptBoth
	if id := c.cs.ID(); id != "" {
		h.Set(mcpwire.HeaderSessionID, id)
	}
	h.Set(mcpwire.HeaderProtocolVersion, version)
	return req, nil
}

// The fast path's fixed request headers, shared (never modified).
var (
	jsonContentType = []string{"application/json"}
	acceptBoth      = []string{"application/json, text/event-stream"}
)

// notifyCancelled tells the backend a fast call was cancelled.
func (c *conn) notifyCancelled(backendID string) {
	body := `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":` + strconv.Quote(backendID) + `,"reason":"cancelled by the client"}}`
	version := ""
	if ir := c.cs.InitializeResult(); ir != nil {
		version = ir.ProtocolVersion
	}
	go func() {
		resp, err := c.post(context.Background(), []byte(body), version)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}()
}
