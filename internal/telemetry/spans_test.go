package telemetry

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// TestServerSpans pins the SERVER span of every message kind to the tables of
// docs/telemetry.md ("SERVER spans"). The expectations are written out, not
// derived from the code.
func TestServerSpans(t *testing.T) {
	const sid = "9f1c0d2e"
	// printf %s 9f1c0d2e | sha256sum | cut -c1-16: spans carry the ref,
	// never the id (a capability).
	const sidRef = "4ae7178dfe7ab34e"
	tests := []struct {
		name     string
		req      func() *http.Request
		relay    http.HandlerFunc
		noAddr   bool // recordClientAddress: false
		wantName string
		want     map[string]string
		wantCode codes.Code
		wantDesc string
	}{{
		name: "tools/call answered",
		req: func() *http.Request {
			return post(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}`,
				mcpwire.HeaderSessionID, sid)
		},
		relay:    answer(),
		wantName: "tools/call echo",
		want: map[string]string{
			"mcp.method.name": "tools/call", "jsonrpc.request.id": "7",
			"gen_ai.tool.name": "echo", "gen_ai.operation.name": "execute_tool",
			"mcp.protocol.version": "2025-06-18", "mcpgate.session.ref": sidRef,
			"network.transport": "tcp", "network.protocol.name": "http", "network.protocol.version": "1.1",
			"client.address": "192.0.2.10", "client.port": "40000",
			"mcpgate.backend": "everything", "http.response.status_code": "200",
		},
	}, {
		name: "tools/call with isError",
		req: func() *http.Request {
			return post(`{"jsonrpc":"2.0","id":"a-1","method":"tools/call","params":{"name":"echo"}}`, mcpwire.HeaderSessionID, sid)
		},
		relay:    answer(func(r *record.Record) { r.Ops[0].ToolError = true }),
		wantName: "tools/call echo",
		want: map[string]string{
			"mcp.method.name": "tools/call", "jsonrpc.request.id": "a-1",
			"gen_ai.tool.name": "echo", "gen_ai.operation.name": "execute_tool",
			"mcp.protocol.version": "2025-06-18", "mcpgate.session.ref": sidRef,
			"network.transport": "tcp", "network.protocol.name": "http", "network.protocol.version": "1.1",
			"client.address": "192.0.2.10", "client.port": "40000",
			"mcpgate.backend": "everything", "http.response.status_code": "200",
			"error.type": "tool_error",
		},
		wantCode: codes.Error,
	}, {
		name: "JSON-RPC error response",
		req: func() *http.Request {
			return post(`{"jsonrpc":"2.0","id":8,"method":"prompts/get","params":{"name":"greet"}}`, mcpwire.HeaderSessionID, sid)
		},
		relay: answer(func(r *record.Record) {
			r.Ops[0].Error = record.RPCError{Code: -32602, Message: "Invalid params", Valid: true}
		}),
		wantName: "prompts/get greet",
		want: map[string]string{
			"mcp.method.name": "prompts/get", "jsonrpc.request.id": "8", "gen_ai.prompt.name": "greet",
			"mcp.protocol.version": "2025-06-18", "mcpgate.session.ref": sidRef,
			"network.transport": "tcp", "network.protocol.name": "http", "network.protocol.version": "1.1",
			"client.address": "192.0.2.10", "client.port": "40000",
			"mcpgate.backend": "everything", "http.response.status_code": "200",
			"rpc.response.status_code": "-32602", "error.type": "-32602",
		},
		wantCode: codes.Error,
		wantDesc: "Invalid params",
	}, {
		name: "initialize",
		req: func() *http.Request {
			return post(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"inspector","version":"2.12.0"}}}`)
		},
		relay:    answer(),
		wantName: "initialize",
		want: map[string]string{
			"mcp.method.name": "initialize", "jsonrpc.request.id": "0",
			"mcp.client.name": "inspector", "mcp.client.version": "2.12.0",
			"mcp.protocol.version": "2025-06-18",
			"network.transport":    "tcp", "network.protocol.name": "http", "network.protocol.version": "1.1",
			"client.address": "192.0.2.10", "client.port": "40000",
			"mcpgate.backend": "everything", "http.response.status_code": "200",
		},
	}, {
		name: "resources/read, client address off",
		req: func() *http.Request {
			return post(`{"jsonrpc":"2.0","id":9,"method":"resources/read","params":{"uri":"file:///a.txt"}}`, mcpwire.HeaderSessionID, sid)
		},
		relay:    answer(),
		noAddr:   true,
		wantName: "resources/read",
		want: map[string]string{
			"mcp.method.name": "resources/read", "jsonrpc.request.id": "9", "mcp.resource.uri": "file:///a.txt",
			"mcp.protocol.version": "2025-06-18", "mcpgate.session.ref": sidRef,
			"network.transport": "tcp", "network.protocol.name": "http", "network.protocol.version": "1.1",
			"mcpgate.backend": "everything", "http.response.status_code": "200",
		},
	}, {
		name: "notification",
		req: func() *http.Request {
			return post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`, mcpwire.HeaderSessionID, sid)
		},
		relay:    func(w http.ResponseWriter, r *http.Request) { answer()(httptest.NewRecorder(), r); w.WriteHeader(202) },
		wantName: "notifications/initialized",
		want: map[string]string{
			"mcp.method.name":      "notifications/initialized",
			"mcp.protocol.version": "2025-06-18", "mcpgate.session.ref": sidRef,
			"network.transport": "tcp", "network.protocol.name": "http", "network.protocol.version": "1.1",
			"client.address": "192.0.2.10", "client.port": "40000",
			"mcpgate.backend": "everything", "http.response.status_code": "202",
		},
	}, {
		name: "client response to a server request",
		req: func() *http.Request {
			return post(`{"jsonrpc":"2.0","id":3,"result":{"roots":[]}}`, mcpwire.HeaderSessionID, sid)
		},
		relay:    func(w http.ResponseWriter, r *http.Request) { answer()(httptest.NewRecorder(), r); w.WriteHeader(202) },
		wantName: "response",
		want: map[string]string{
			"mcpgate.jsonrpc.kind": "result", "jsonrpc.request.id": "3",
			"mcp.protocol.version": "2025-06-18", "mcpgate.session.ref": sidRef,
			"network.transport": "tcp", "network.protocol.name": "http", "network.protocol.version": "1.1",
			"client.address": "192.0.2.10", "client.port": "40000",
			"mcpgate.backend": "everything", "http.response.status_code": "202",
		},
	}, {
		name: "method outside the specification",
		req: func() *http.Request {
			return post(`{"jsonrpc":"2.0","id":1,"method":"acme/frob"}`, mcpwire.HeaderSessionID, sid)
		},
		relay:    answer(),
		wantName: "_OTHER",
		want: map[string]string{
			"mcp.method.name": "acme/frob", "jsonrpc.request.id": "1",
			"mcp.protocol.version": "2025-06-18", "mcpgate.session.ref": sidRef,
			"network.transport": "tcp", "network.protocol.name": "http", "network.protocol.version": "1.1",
			"client.address": "192.0.2.10", "client.port": "40000",
			"mcpgate.backend": "everything", "http.response.status_code": "200",
		},
	}, {
		name: "stateless revision: no session id",
		req: func() *http.Request {
			return post(`{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`,
				mcpwire.HeaderProtocolVersion, "2026-07-28", mcpwire.HeaderMethod, "tools/list", mcpwire.HeaderSessionID, sid)
		},
		relay:    answer(),
		wantName: "tools/list",
		want: map[string]string{
			"mcp.method.name": "tools/list", "jsonrpc.request.id": "2",
			"mcp.protocol.version": "2026-07-28",
			"network.transport":    "tcp", "network.protocol.name": "http", "network.protocol.version": "1.1",
			"client.address": "192.0.2.10", "client.port": "40000",
			"mcpgate.backend": "everything", "http.response.status_code": "200",
		},
	}, {
		name: "backend unreachable",
		req: func() *http.Request {
			return post(`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"echo"}}`, mcpwire.HeaderSessionID, sid)
		},
		relay: func(w http.ResponseWriter, r *http.Request) {
			rec := record.FromContext(r.Context())
			rec.Backend = testBackend
			rec.Fail(record.ReasonUpstreamUnavailable, "dial tcp 127.0.0.1:9: connection refused")
			mcpwire.WriteError(w, http.StatusBadGateway, []byte("4"), mcpwire.CodeGateway, `backend "everything" unreachable`)
		},
		wantName: "tools/call echo",
		want: map[string]string{
			"mcp.method.name": "tools/call", "jsonrpc.request.id": "4",
			"gen_ai.tool.name": "echo", "gen_ai.operation.name": "execute_tool",
			"mcp.protocol.version": "2025-06-18", "mcpgate.session.ref": sidRef,
			"network.transport": "tcp", "network.protocol.name": "http", "network.protocol.version": "1.1",
			"client.address": "192.0.2.10", "client.port": "40000",
			"mcpgate.backend": "everything", "http.response.status_code": "502",
			"error.type": "upstream_unavailable",
		},
		wantCode: codes.Error,
		wantDesc: "dial tcp 127.0.0.1:9: connection refused",
	}, {
		name: "rejected by authn",
		req: func() *http.Request {
			return post(`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo"}}`,
				mcpwire.HeaderSessionID, sid, rejectAuth, "1")
		},
		relay:    answer(),
		wantName: "tools/call", // the caller could not authenticate: no unlisted name in the span name
		want: map[string]string{
			"mcp.method.name": "tools/call", "jsonrpc.request.id": "5",
			"gen_ai.tool.name": "echo", "gen_ai.operation.name": "execute_tool",
			"mcp.protocol.version": "2025-06-18", // no session ref: an unauthenticated claim
			"network.transport":    "tcp", "network.protocol.name": "http", "network.protocol.version": "1.1",
			"client.address": "192.0.2.10", "client.port": "40000",
			"http.response.status_code": "401", "error.type": "unauthenticated",
		},
		wantCode: codes.Error,
		wantDesc: "", // authn's detail may name the subject: never on a span
	}, {
		name:     "rejected before parsing",
		req:      func() *http.Request { return post(`{"jsonrpc":"2.0",`) },
		relay:    answer(),
		wantName: "POST",
		want: map[string]string{
			"http.request.method": "POST", "mcpgate.http.kind": "rejected",
			"mcp.protocol.version": "2025-06-18",
			"network.transport":    "tcp", "network.protocol.name": "http", "network.protocol.version": "1.1",
			"client.address": "192.0.2.10", "client.port": "40000",
			"http.response.status_code": "400", "error.type": "parse_error",
		},
		wantCode: codes.Error,
		wantDesc: "jsonrpc: unexpected end of input at offset 17 (code -32700)",
	}, {
		name: "GET stream",
		req: func() *http.Request {
			req := post("", mcpwire.HeaderSessionID, sid)
			req.Method, req.Body = http.MethodGet, http.NoBody
			req.Header.Set("Accept", "text/event-stream")
			return req
		},
		relay:    answer(),
		wantName: "GET",
		want: map[string]string{
			"http.request.method": "GET", "mcpgate.http.kind": "stream",
			"mcp.protocol.version": "2025-06-18", "mcpgate.session.ref": sidRef,
			"network.transport": "tcp", "network.protocol.name": "http", "network.protocol.version": "1.1",
			"client.address": "192.0.2.10", "client.port": "40000",
			"mcpgate.backend": "everything", "http.response.status_code": "200",
		},
	}, {
		name: "DELETE",
		req: func() *http.Request {
			req := post("", mcpwire.HeaderSessionID, sid)
			req.Method, req.Body = http.MethodDelete, http.NoBody
			return req
		},
		relay:    func(w http.ResponseWriter, r *http.Request) { answer()(httptest.NewRecorder(), r); w.WriteHeader(204) },
		wantName: "DELETE",
		want: map[string]string{
			"http.request.method": "DELETE", "mcpgate.http.kind": "delete",
			"mcp.protocol.version": "2025-06-18", "mcpgate.session.ref": sidRef,
			"network.transport": "tcp", "network.protocol.name": "http", "network.protocol.version": "1.1",
			"client.address": "192.0.2.10", "client.port": "40000",
			"mcpgate.backend": "everything", "http.response.status_code": "204",
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, InstrumentOptions{RecordClientAddress: !tc.noAddr}, nil)
			h.serve(tc.req(), tc.relay)
			spans := h.spans.Ended()
			if len(spans) != 1 {
				t.Fatalf("%d spans, want 1", len(spans))
			}
			s := spans[0]
			if s.Name() != tc.wantName {
				t.Errorf("name %q, want %q", s.Name(), tc.wantName)
			}
			if s.SpanKind() != trace.SpanKindServer {
				t.Errorf("kind %v", s.SpanKind())
			}
			diffAttrs(t, "attributes", attrs(s.Attributes()), tc.want)
			for _, kv := range s.Attributes() {
				if strings.Contains(kv.Value.String(), sid) {
					t.Errorf("attribute %s = %q carries the session id", kv.Key, kv.Value.String())
				}
			}
			if s.Status().Code != tc.wantCode || s.Status().Description != tc.wantDesc {
				t.Errorf("status %v %q, want %v %q", s.Status().Code, s.Status().Description, tc.wantCode, tc.wantDesc)
			}
		})
	}
}

// TestBatchSpanPerMessage: a batch (2025-03-26) gets one span per message.
func TestBatchSpanPerMessage(t *testing.T) {
	h := newHarness(t, InstrumentOptions{}, nil)
	req := post(`[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":2,"method":"ping"}]`,
		mcpwire.HeaderProtocolVersion, "2025-03-26")
	h.serve(req, answer())
	var names []string
	for _, s := range h.spans.Ended() {
		names = append(names, s.Name())
	}
	want := []string{"tools/list", "notifications/initialized", "ping"}
	if len(names) != len(want) {
		t.Fatalf("spans %q, want %q", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Errorf("span %d = %q, want %q", i, names[i], want[i])
		}
	}
}

// TestSpanTimes: a span starts at the record's start (before inspect read
// the body) and ends when the request ended.
func TestSpanTimes(t *testing.T) {
	h := newHarness(t, InstrumentOptions{}, nil)
	var start time.Time // captured by the relay
	h.serve(post(`{"jsonrpc":"2.0","id":1,"method":"ping"}`), func(w http.ResponseWriter, r *http.Request) {
		start = record.FromContext(r.Context()).Start
		answer()(w, r)
	})
	s := h.spans.Ended()[0]
	if !s.StartTime().Equal(start) {
		t.Errorf("start %v, want the record's %v", s.StartTime(), start)
	}
	if s.EndTime().Before(s.StartTime()) {
		t.Errorf("end %v before start %v", s.EndTime(), s.StartTime())
	}
}

// TestAttributionAtEnd: the Attribution hook sees the record as the whole
// chain left it — here an identity set by a stage that ran after the trace
// stage had started the spans (authn moved inside it) — and its attributes
// reach the SERVER span and the CLIENT span, but no metric.
func TestAttributionAtEnd(t *testing.T) {
	attribution := func(dst []attribute.KeyValue, rec *record.Record) []attribute.KeyValue {
		if rec.Identity == nil {
			return dst
		}
		return append(dst, attribute.String("user.id", rec.Identity.Subject))
	}
	h := newHarness(t, InstrumentOptions{Attribution: attribution}, nil)
	b := StdioBackend(testBackend)
	lateAuthn := func(r *record.Record) { r.Identity = &identity.Identity{Subject: "alice", Issuer: "https://idp"} }
	h.serve(post(`{"jsonrpc":"2.0","id":1,"method":"ping"}`), func(w http.ResponseWriter, r *http.Request) {
		lateAuthn(record.FromContext(r.Context()))
		clientRelay(h.tel, &b, func(*record.Record) {}, nil)(w, r)
	})
	for _, s := range h.spans.Ended() {
		if got := attrs(s.Attributes())["user.id"]; got != "alice" {
			t.Errorf("%v span: user.id = %q", s.SpanKind(), got)
		}
	}
	for _, p := range h.collect(t, MetricServerOperationDuration) {
		if _, ok := p["user.id"]; ok {
			t.Error("user.id on a metric")
		}
	}
}
