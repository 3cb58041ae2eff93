package aggregate

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/sse"
)

// A backend's requests to the client across replicas. Replica X relays a
// backend's sampling/createMessage, elicitation/create or roots/list to
// the client through its SDK server, which sends it under an integer id M
// of its own and waits; the client's answer is a POST of its own, which a
// balancer without affinity may send to replica Y, whose SDK has no
// request M pending. So the id the client sees names the route:
//
//	"mcpgate.sr.<tag>.<backend, base64url>.<the backend's id as JSON, base64url>.<M>"
//
// tag being X's Aggregator's. Y, getting an answer under such an id with
// another replica's tag, sends it under the backend's own id straight to
// the backend on its own copy of the session (the same backend session:
// adopt.go); X, getting it, gives the SDK its M back. Nothing passes
// between replicas.
//
// How the route gets to the client-facing side: the connection's
// idTransport, which reads everything the backend sends, adds routeMetaKey
// to such a request's params._meta (the route, less M); the SDK client
// hands the _meta to the handler (toClient, rootsList), which passes it on
// to the SDK server; routeWriter, below the SDK server's writes, takes it
// out of the event the client gets and puts the route id in place of M.
//
// X, meanwhile, waits for an answer to M that will not come: the handler
// waiting is bounded by the call the request belongs to (related: the
// SDK cancels a call's context when its handler returns), and otherwise
// by the backend session's end or the copy's expiry. X's SDK client then
// answers the backend's id with an error, after the backend has had the
// real answer: a backend ignores an answer to an id it no longer waits
// for (the Go SDK drops it; the TypeScript SDK reports it to its onerror).

// routeMetaKey is the private _meta member that carries a request's route
// from the backend side of a replica to its client side; the client never
// sees it.
const routeMetaKey = "io.mcpgate/route"

// routePrefix starts every route id.
const routePrefix = "mcpgate.sr."

// askMethods are the backend's requests to the client the gateway relays.
var askMethods = [][]byte{[]byte(`"sampling/createMessage"`), []byte(`"elicitation/create"`), []byte(`"roots/list"`)}

func mayAsk(data []byte) bool {
	for _, m := range askMethods {
		if bytes.Contains(data, m) {
			return true
		}
	}
	return false
}

func isAsk(method string) bool {
	return method == "sampling/createMessage" || method == "elicitation/create" || method == "roots/list"
}

// routeBase is the route of a connection's requests, less the backend's id
// and M: "mcpgate.sr.<tag>.<backend>.".
func routeBase(tag, backend string) string {
	return routePrefix + tag + "." + base64.RawURLEncoding.EncodeToString([]byte(backend)) + "."
}

// markAsks returns data with routeMetaKey set in the _meta of each request
// to the client in it; nil when there is none.
func (t *idTransport) markAsks(data []byte) []byte {
	b := bodies.Get().(*jsonrpc.Body)
	defer bodies.Put(b)
	if b.Parse(data, idLimits) != nil {
		return nil
	}
	out, err := b.SetMeta(data, func(i int) []jsonrpc.MetaKV {
		m := &b.Messages[i]
		if m.Kind != jsonrpc.KindRequest || !isAsk(m.Method) {
			return nil
		}
		return []jsonrpc.MetaKV{{Key: routeMetaKey, Value: t.route + base64.RawURLEncoding.EncodeToString(m.ID.Bytes(data)) + "."}}
	})
	if err != nil || bytes.Equal(out, data) {
		return nil
	}
	return out
}

// routeWriter is the SDK server's response writer that gives the requests
// to the client their route ids (see above). It reads event streams only:
// the SDK sends requests on no other.
type routeWriter struct {
	http.ResponseWriter
	session func() *session // the request's session, once it has one
	wrote   bool
	sse     bool
	events  *sse.Feeder
	buf     []byte
	err     error
}

func (w *routeWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		w.sse = strings.HasPrefix(w.Header().Get("Content-Type"), "text/event-stream")
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *routeWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if !w.sse {
		return w.ResponseWriter.Write(p)
	}
	if w.events == nil {
		w.events = sse.NewFeeder(maxWatched)
	}
	w.events.Feed(p, func(ev *sse.Event) {
		out := ev.Raw
		if ev.Dispatched() && !ev.Truncated {
			var data []byte
			switch {
			case bytes.Contains(ev.Data, []byte(`"`+routeMetaKey+`"`)):
				var m, id string
				if data, m, id = routeEvent(ev.Data); data != nil {
					if s := w.session(); s != nil {
						s.asks.put(m, id)
					}
				}
			case bytes.Contains(ev.Data, []byte(`"notifications/cancelled"`)):
				if s := w.session(); s != nil {
					data = s.asks.cancelled(ev.Data)
				}
			}
			if data != nil {
				w.buf = sse.AppendEvent(w.buf[:0], string(ev.ID), string(ev.Name), data)
				out = w.buf
			}
		}
		if w.err == nil {
			_, w.err = w.ResponseWriter.Write(out)
		}
	})
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

func (w *routeWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *routeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// routeEvent returns a request to the client (one message) with its route
// id in place of the SDK's integer id m and routeMetaKey taken out of its
// _meta; nil when it is not one.
func routeEvent(data []byte) (out []byte, m, id string) {
	out, m, id = routeEventJSON(data)
	if out == nil {
		return nil, "", ""
	}
	return out, m, id
}

func routeEventJSON(data []byte) ([]byte, string, string) {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return nil, "", ""
	}
	var params map[string]json.RawMessage
	var meta map[string]json.RawMessage
	var route string
	if json.Unmarshal(m["params"], &params) != nil || json.Unmarshal(params["_meta"], &meta) != nil ||
		json.Unmarshal(meta[routeMetaKey], &route) != nil || !intToken(m["id"]) || !strings.HasPrefix(route, routePrefix) {
		return nil, "", ""
	}
	delete(meta, routeMetaKey)
	if len(meta) == 0 {
		delete(params, "_meta")
	} else if raw, err := json.Marshal(meta); err == nil {
		params["_meta"] = raw
	}
	raw, err := json.Marshal(params)
	if err != nil {
		return nil, "", ""
	}
	m["params"] = raw
	sdkID, full := string(m["id"]), route+string(m["id"])
	id, err := json.Marshal(full)
	if err != nil {
		return nil, "", ""
	}
	m["id"] = id
	out, err := json.Marshal(m)
	if err != nil {
		return nil, "", ""
	}
	return out, sdkID, full
}

// askIDs are the route ids of a session's requests to the client by the
// SDK's ids, for the notifications/cancelled the SDK sends under its own
// (routeWriter). An entry goes when its cancellation or its answer passes
// here, or a while after the handler that relayed it returned (forget):
// the answer may have gone to another replica.
type askIDs struct {
	mu sync.Mutex
	m  map[string]string
}

func (a *askIDs) put(sdkID, full string) {
	a.mu.Lock()
	if a.m == nil {
		a.m = map[string]string{}
	}
	a.m[sdkID] = full
	a.mu.Unlock()
}

func (a *askIDs) take(sdkID string) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	full, ok := a.m[sdkID]
	delete(a.m, sdkID)
	return full, ok
}

// forgetLater drops, after the SDK has had time to send its cancellation,
// the entry of the request relayed with route marker (the route less M).
func (a *askIDs) forgetLater(marker string) {
	time.AfterFunc(askForget, func() {
		a.mu.Lock()
		for k, v := range a.m {
			if strings.HasPrefix(v, marker) {
				delete(a.m, k)
			}
		}
		a.mu.Unlock()
	})
}

// askForget is how long after its handler returned a request's route id
// is kept for the SDK's notifications/cancelled: the SDK sends it as the
// handler returns, bounded by 5 s of its own.
const askForget = 10 * time.Second

// cancelled returns a notifications/cancelled (one message) for a request
// relayed under a route id with that id in place of the SDK's; nil for
// any other.
func (a *askIDs) cancelled(data []byte) []byte {
	var m map[string]json.RawMessage
	var params map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil || json.Unmarshal(m["params"], &params) != nil || !intToken(params["requestId"]) {
		return nil
	}
	var method string
	if json.Unmarshal(m["method"], &method) != nil || method != "notifications/cancelled" {
		return nil
	}
	full, ok := a.take(string(params["requestId"]))
	if !ok {
		return nil
	}
	id, err := json.Marshal(full)
	if err != nil {
		return nil
	}
	params["requestId"] = id
	raw, err := json.Marshal(params)
	if err != nil {
		return nil
	}
	m["params"] = raw
	out, err := json.Marshal(m)
	if err != nil {
		return nil
	}
	return out
}

// answerRoute is a route id, parsed.
type answerRoute struct {
	tag, backend string
	id           []byte // the backend's, JSON
	m            []byte // the SDK's, a JSON integer
}

// parseRoute parses a route id (the JSON string, quotes included).
func parseRoute(tok []byte) (answerRoute, bool) {
	var s string
	if len(tok) < len(routePrefix)+2 || tok[0] != '"' || !bytes.HasPrefix(tok[1:], []byte(routePrefix)) || json.Unmarshal(tok, &s) != nil {
		return answerRoute{}, false
	}
	parts := strings.Split(strings.TrimPrefix(s, routePrefix), ".")
	if len(parts) != 4 || parts[0] == "" || !intToken([]byte(parts[3])) {
		return answerRoute{}, false
	}
	backend, err1 := base64.RawURLEncoding.DecodeString(parts[1])
	id, err2 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || !json.Valid(id) {
		return answerRoute{}, false
	}
	return answerRoute{tag: parts[0], backend: string(backend), id: id, m: []byte(parts[3])}, true
}

// routedAnswer returns the route of r's body when it is one answer (a
// result or error) under a route id.
func routedAnswer(in *inspect.Request) (answerRoute, *jsonrpc.Message, bool) {
	if in == nil || in.Body.Batch || len(in.Body.Messages) != 1 {
		return answerRoute{}, nil, false
	}
	m := &in.Body.Messages[0]
	if m.Kind != jsonrpc.KindResult && m.Kind != jsonrpc.KindError {
		return answerRoute{}, nil, false
	}
	rt, ok := parseRoute(m.ID.Bytes(in.Raw))
	return rt, m, ok
}

// isLocalAnswer reports whether in is one answer under a route id of this
// Aggregator's.
func (a *Aggregator) isLocalAnswer(in *inspect.Request) bool {
	rt, _, ok := routedAnswer(in)
	return ok && rt.tag == a.tag
}

// localAnswer returns raw (a body of one message) with a route id of this
// Aggregator's given back its M, for the SDK; raw itself otherwise.
func (a *Aggregator) localAnswer(raw []byte, s *session) []byte {
	var b jsonrpc.Body
	if b.Parse(raw, jsonrpc.Limits{}) != nil || b.Batch || len(b.Messages) != 1 {
		return raw
	}
	m := &b.Messages[0]
	if m.Kind != jsonrpc.KindResult && m.Kind != jsonrpc.KindError {
		return raw
	}
	rt, ok := parseRoute(m.ID.Bytes(raw))
	if !ok || rt.tag != a.tag {
		return raw
	}
	out, err := jsonrpc.Splice(nil, raw, []jsonrpc.Edit{{At: m.ID, Data: rt.m}})
	if err != nil {
		return raw
	}
	if s != nil {
		s.asks.take(string(rt.m))
	}
	return out
}

// answerElsewhere sends the client's answer to a request another replica
// relayed (rt's tag is not this Aggregator's) to the backend that asked,
// under its own id, on this replica's copy of the session. It reports
// whether it handled the request (it then wrote the response).
func (a *Aggregator) answerElsewhere(w http.ResponseWriter, r *http.Request, in *inspect.Request) bool {
	rt, m, ok := routedAnswer(in)
	if !ok || rt.tag == a.tag {
		return false
	}
	s := a.sessionByID(r.Header.Get(mcpwire.HeaderSessionID))
	if s == nil {
		return false // the SDK answers 404
	}
	s.mu.Lock()
	c := s.conns[rt.backend]
	s.mu.Unlock()
	if c == nil || c.hc == nil || c.cs == nil {
		a.log.Warn("client answered a backend's request for a backend this session is not connected to; dropped", "backend", rt.backend)
		http.Error(w, "backend not connected", http.StatusBadGateway)
		return true
	}
	body, err := jsonrpc.Splice(nil, in.Raw, []jsonrpc.Edit{{At: m.ID, Data: rt.id}})
	if err != nil {
		http.Error(w, "bad answer", http.StatusBadRequest)
		return true
	}
	if err := c.answer(r.Context(), body); err != nil {
		c.b.log.Warn("relaying the client's answer to the backend failed", "error", err)
		http.Error(w, "backend refused the answer", http.StatusBadGateway)
		return true
	}
	w.WriteHeader(http.StatusAccepted)
	return true
}

// answer POSTs a JSON-RPC response to c's backend session.
func (c *conn) answer(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.b.URL.String(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if id := c.cs.ID(); id != "" {
		req.Header.Set(mcpwire.HeaderSessionID, id)
	}
	if ir := c.cs.InitializeResult(); ir != nil {
		req.Header.Set(mcpwire.HeaderProtocolVersion, ir.ProtocolVersion)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return &statusError{code: resp.StatusCode}
	}
	return nil
}

type statusError struct{ code int }

func (e *statusError) Error() string { return "HTTP " + http.StatusText(e.code) }

// forgetAsk drops, a while later, the route id of the request whose _meta
// is meta (askIDs).
func (s *session) forgetAsk(meta map[string]any) {
	if marker, ok := meta[routeMetaKey].(string); ok {
		s.asks.forgetLater(marker)
	}
}
