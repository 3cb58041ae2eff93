package audit

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/observe"
	"github.com/mcpgate/mcpgate/internal/record"
)

var _ observe.Reporter = (*Reporter)(nil)

var (
	t0    = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	alice = &identity.Identity{Subject: "alice", Issuer: "https://idp.example.com", Method: identity.MethodOIDC, Email: "alice@example.com"}
	// An unsampled span: its ids must still be written.
	testSC = trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0xaa, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
		SpanID:  trace.SpanID{0xbb, 1, 2, 3, 4, 5, 6, 7},
	})
)

func clock() time.Time { return t0.Add(1500 * time.Microsecond) }

func op(kind, method, id string) record.Op {
	kinds := map[string]record.OpKind{"request": record.OpRequest, "notification": record.OpNotification, "result": record.OpResult, "error": record.OpError}
	return record.Op{Kind: kinds[kind], Method: method, ID: id}
}

func toolCall(id, name string) record.Op {
	o := op("request", "tools/call", id)
	o.Name = name
	return o
}

func answeredOK(o record.Op) record.Op { o.Answered = true; return o }

// report runs one record through a reporter and returns its events.
func report(t *testing.T, ropts ReportOptions, rec *record.Record) (string, []map[string]any) {
	t.Helper()
	l, events := newMemLogger(t, Options{})
	if ropts.Now == nil {
		ropts.Now = clock
	}
	r, err := l.Reporter(ropts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := trace.ContextWithSpanContext(context.Background(), testSC)
	r.Report(ctx, rec)
	return events()
}

func TestEventKinds(t *testing.T) {
	type want struct {
		event, outcome, errType, tool string
		code                          float64 // 0: no code
	}
	tests := []struct {
		name string
		rec  record.Record
		want []want
	}{
		{"tool call success", record.Record{HTTPMethod: "POST", Status: 200, Identity: alice, Backend: "search",
			Ops: []record.Op{answeredOK(toolCall("7", "search"))}},
			[]want{{event: "tool_call", outcome: "success", tool: "search"}}},
		{"tool error (isError in HTTP 200)", record.Record{HTTPMethod: "POST", Status: 200, Identity: alice,
			Ops: []record.Op{func() record.Op { o := answeredOK(toolCall("7", "search")); o.ToolError = true; return o }()}},
			[]want{{event: "tool_call", outcome: "failure", errType: "tool_error", tool: "search"}}},
		{"JSON-RPC server error from the backend", record.Record{HTTPMethod: "POST", Status: 200, Identity: alice,
			Ops: []record.Op{func() record.Op {
				o := answeredOK(toolCall("7", "search"))
				o.Error = record.RPCError{Code: -32603, Message: "internal error", Valid: true}
				return o
			}()}},
			[]want{{event: "tool_call", outcome: "failure", errType: "-32603", tool: "search", code: -32603}}},
		{"JSON-RPC invalid params from the backend", record.Record{HTTPMethod: "POST", Status: 200, Identity: alice,
			Ops: []record.Op{func() record.Op {
				o := answeredOK(toolCall("7", "search"))
				o.Error = record.RPCError{Code: -32602, Message: "missing query", Valid: true}
				return o
			}()}},
			[]want{{event: "tool_call", outcome: "error", errType: "-32602", tool: "search", code: -32602}}},
		{"gateway error in place of a timed-out backend", record.Record{HTTPMethod: "POST", Status: 504, Identity: alice,
			Reason: record.ReasonUpstreamTimeout, Detail: "first byte timeout",
			Ops: []record.Op{func() record.Op {
				o := answeredOK(toolCall("7", "search"))
				o.Error = record.RPCError{Code: -32000, Message: "upstream timed out", Valid: true}
				return o
			}()}},
			[]want{{event: "tool_call", outcome: "failure", errType: "upstream_timeout", tool: "search", code: -32000}}},
		{"backend unreachable, no response", record.Record{HTTPMethod: "POST", Status: 502, Identity: alice,
			Reason: record.ReasonUpstreamUnavailable, Detail: "dial tcp: connection refused",
			Ops: []record.Op{toolCall("7", "search")}},
			[]want{{event: "tool_call", outcome: "failure", errType: "upstream_unavailable", tool: "search"}}},
		{"rejected 401", record.Record{HTTPMethod: "POST", Status: 401,
			Reason: record.ReasonUnauthenticated, Detail: "no credential presented",
			Ops: []record.Op{toolCall("7", "search")}},
			[]want{{event: "rejected", outcome: "denied", errType: "unauthenticated", tool: "search"}}},
		{"rejected 403", record.Record{HTTPMethod: "POST", Status: 403, Identity: alice,
			Reason: record.ReasonForbidden, Detail: "token lacks scope mcp",
			Ops: []record.Op{toolCall("7", "search")}},
			[]want{{event: "rejected", outcome: "denied", errType: "forbidden", tool: "search"}}},
		{"rejected 413 before parsing", record.Record{HTTPMethod: "POST", Status: 413,
			Reason: record.ReasonBodyTooLarge, Detail: "Content-Length 9999999 exceeds the limit of 4194304"},
			[]want{{event: "rejected", outcome: "error", errType: "body_too_large"}}},
		{"rejected batch: one event", record.Record{HTTPMethod: "POST", Status: 401, Batch: true,
			Reason: record.ReasonUnauthenticated, Ops: []record.Op{toolCall("1", "a"), toolCall("2", "b")}},
			[]want{{event: "rejected", outcome: "denied", errType: "unauthenticated"}}},
		{"rejected: audit unavailable", record.Record{HTTPMethod: "POST", Status: 503, Identity: alice,
			Reason: record.ReasonAuditUnavailable, Detail: "audit sink write: no space left on device",
			Ops: []record.Op{toolCall("7", "search")}},
			[]want{{event: "rejected", outcome: "failure", errType: "audit_unavailable", tool: "search"}}},
		{"notification", record.Record{HTTPMethod: "POST", Status: 202, Identity: alice,
			Ops: []record.Op{op("notification", "notifications/initialized", "")}},
			[]want{{event: "notification", outcome: "success"}}},
		{"client response to a server request", record.Record{HTTPMethod: "POST", Status: 202, Identity: alice,
			Ops: []record.Op{op("result", "", "3")}},
			[]want{{event: "response", outcome: "success"}}},
		{"batch: one event per message", record.Record{HTTPMethod: "POST", Status: 200, Identity: alice, Batch: true,
			Ops: []record.Op{answeredOK(toolCall("1", "a")), answeredOK(op("request", "tools/list", "2")), op("notification", "notifications/cancelled", "")}},
			[]want{{event: "tool_call", outcome: "success", tool: "a"}, {event: "tools_list", outcome: "success"}, {event: "notification", outcome: "success"}}},
		{"initialize", record.Record{HTTPMethod: "POST", Status: 200, Identity: alice, ClientName: "inspector", ClientVersion: "0.1",
			Ops: []record.Op{answeredOK(op("request", "initialize", "0"))}},
			[]want{{event: "initialize", outcome: "success"}}},
		{"resource read not found", record.Record{HTTPMethod: "POST", Status: 200, Identity: alice,
			Ops: []record.Op{func() record.Op {
				o := answeredOK(op("request", "resources/read", "4"))
				o.URI, o.Error = "file:///etc/passwd", record.RPCError{Code: -32002, Valid: true}
				return o
			}()}},
			[]want{{event: "resource_read", outcome: "error", errType: "-32002", code: -32002}}},
		{"GET stream", record.Record{HTTPMethod: "GET", Status: 200, Identity: alice, SSE: true, SessionID: "sess-1"},
			[]want{{event: "stream", outcome: "success"}}},
		{"GET stream cut by the backend", record.Record{HTTPMethod: "GET", Status: 200, Identity: alice, SessionID: "sess-1",
			Reason: record.ReasonUpstreamError, Detail: "unexpected EOF"},
			[]want{{event: "stream", outcome: "failure", errType: "upstream_error"}}},
		{"DELETE", record.Record{HTTPMethod: "DELETE", Status: 204, Identity: alice, SessionID: "sess-1"},
			[]want{{event: "session_end", outcome: "success"}}},
		{"DELETE of a session the backend does not know", record.Record{HTTPMethod: "DELETE", Status: 404, Identity: alice, SessionID: "sess-1"},
			[]want{{event: "session_end", outcome: "denied", errType: "_OTHER"}}},
		{"session of another principal", record.Record{HTTPMethod: "POST", Status: 404, Identity: alice, SessionID: "sess-1",
			Reason: record.ReasonSessionNotFound, Detail: "session id not bound to this principal", Ops: []record.Op{toolCall("7", "x")}},
			[]want{{event: "rejected", outcome: "denied", errType: "session_not_found", tool: "x"}}},
		{"client went away", record.Record{HTTPMethod: "POST", Status: 200, Identity: alice,
			Reason: record.ReasonClientCanceled, Ops: []record.Op{toolCall("7", "x")}},
			[]want{{event: "tool_call", outcome: "error", errType: "client_canceled", tool: "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := tt.rec
			rec.Start = t0
			rec.ClientAddr = "192.0.2.1"
			_, evs := report(t, ReportOptions{}, &rec)
			if len(evs) != len(tt.want) {
				t.Fatalf("%d events, want %d: %v", len(evs), len(tt.want), evs)
			}
			for i, w := range tt.want {
				e := evs[i]
				if e["event"] != w.event || e["outcome"] != w.outcome {
					t.Errorf("event %d: %v/%v, want %s/%s", i, e["event"], e["outcome"], w.event, w.outcome)
				}
				if got, _ := get(e, "error", "type").(string); got != w.errType {
					t.Errorf("event %d: error.type %q, want %q", i, got, w.errType)
				}
				if got, _ := get(e, "mcp", "tool").(string); got != w.tool {
					t.Errorf("event %d: mcp.tool %q, want %q", i, got, w.tool)
				}
				if got, _ := get(e, "error", "code").(float64); got != w.code {
					t.Errorf("event %d: error.code %v, want %v", i, got, w.code)
				}
				if e["traceId"] != testSC.TraceID().String() || e["spanId"] != testSC.SpanID().String() {
					t.Errorf("event %d: trace %v span %v, want the unsampled span's ids", i, e["traceId"], e["spanId"])
				}
				if e["durationMs"] != 1.5 {
					t.Errorf("event %d: durationMs %v, want 1.5", i, e["durationMs"])
				}
				if get(e, "http", "method") != rec.HTTPMethod || get(e, "http", "status") != float64(rec.Status) {
					t.Errorf("event %d: http %v", i, e["http"])
				}
				if rec.SessionID != "" && get(e, "mcp", "sessionRef") != SessionRef(rec.SessionID) {
					t.Errorf("event %d: sessionRef %v", i, get(e, "mcp", "sessionRef"))
				}
			}
		})
	}
}

func TestPrincipal(t *testing.T) {
	hash := func(issuer, subject string) (string, string) {
		if issuer != alice.Issuer || subject != alice.Subject {
			t.Errorf("Hash(%q, %q)", issuer, subject)
		}
		return "0123456789abcdef0123456789abcdef", "k1"
	}
	tests := []struct {
		name string
		opts ReportOptions
		id   *identity.Identity
		want map[string]any // nil: no principal
	}{
		{"raw", ReportOptions{Principal: PrincipalRaw}, alice,
			map[string]any{"subject": "alice", "issuer": "https://idp.example.com", "method": "oidc"}},
		{"default is raw", ReportOptions{}, &identity.Identity{Subject: "ci", Issuer: identity.APIKeyIssuer, Method: identity.MethodAPIKey},
			map[string]any{"subject": "ci", "issuer": "urn:mcpgate:apikey", "method": "apiKey"}},
		{"hashed", ReportOptions{Principal: PrincipalHashed, Hash: hash}, alice,
			map[string]any{"hash": "0123456789abcdef0123456789abcdef", "keyId": "k1", "method": "oidc"}},
		{"anonymous raw", ReportOptions{}, nil, nil},
		{"anonymous hashed", ReportOptions{Principal: PrincipalHashed, Hash: hash}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &record.Record{Start: t0, HTTPMethod: "POST", Status: 200, Identity: tt.id, Ops: []record.Op{answeredOK(toolCall("1", "x"))}}
			line, evs := report(t, tt.opts, rec)
			got, _ := evs[0]["principal"].(map[string]any)
			if tt.want == nil {
				if _, ok := evs[0]["principal"]; ok {
					t.Errorf("principal %v, want none", evs[0]["principal"])
				}
				return
			}
			if len(got) != len(tt.want) {
				t.Errorf("principal %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("principal.%s = %v, want %v", k, got[k], v)
				}
			}
			if tt.opts.Principal == PrincipalHashed && (strings.Contains(line, "alice") || strings.Contains(line, "idp.example.com")) {
				t.Errorf("hashed event names the principal: %s", line)
			}
		})
	}
}

func TestHashedNeedsHash(t *testing.T) {
	l, _ := newMemLogger(t, Options{})
	if _, err := l.Reporter(ReportOptions{Principal: PrincipalHashed}); err == nil || !strings.Contains(err.Error(), "pseudonymization keys") {
		t.Errorf("err = %v, want one naming pseudonymization keys", err)
	}
}

// Credential-looking strings that must never reach the log.
const (
	jwt    = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
	apiKey = "mcpg_Zm9vYmFyYmF6cXV4cXV1eA"
	opaque = "s3cr3t-opaque-token-value"
)

func TestNoCredentials(t *testing.T) {
	tests := []struct {
		name   string
		opts   ReportOptions
		rec    record.Record
		body   string // request body, captured
		answer string // response body, captured
	}{
		{"auth detail quoting a token", ReportOptions{}, record.Record{HTTPMethod: "POST", Status: 401,
			Reason: record.ReasonUnauthenticated, Detail: "malformed token: Bearer " + jwt + " and " + apiKey}, "", ""},
		{"backend error message quoting a token", ReportOptions{}, record.Record{HTTPMethod: "POST", Status: 200, Identity: alice,
			Ops: []record.Op{func() record.Op {
				o := answeredOK(toolCall("1", "x"))
				o.Error = record.RPCError{Code: -32603, Message: "upstream said: Authorization: Bearer " + opaque + " jwt " + jwt, Valid: true}
				return o
			}()}}, "", ""},
		{"captured arguments and result", ReportOptions{Capture: CaptureOptions{Requests: true, Responses: true}},
			record.Record{HTTPMethod: "POST", Status: 200, Identity: alice, Ops: []record.Op{answeredOK(toolCall("1", "login"))}},
			`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"login","arguments":{"apiKey":"` + opaque + `","password":"` + opaque + `","note":"Bearer ` + opaque + `","q":"` + jwt + `"}}}`,
			`{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"session cookie ` + jwt + `"}],"access_token":"` + opaque + `"}}`},
		{"hashed mode drops denial details", ReportOptions{Principal: PrincipalHashed, Hash: func(string, string) (string, string) { return "00", "k1" }},
			record.Record{HTTPMethod: "POST", Status: 403, Identity: alice, Reason: record.ReasonForbidden,
				Detail: "issuer https://idp.example.com subject \"alice\": token lacks scope mcp"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := tt.rec
			rec.Start = t0
			l, events := newMemLogger(t, Options{})
			tt.opts.Now = clock
			r, err := l.Reporter(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			ctx := record.NewContext(context.Background(), &rec)
			if tt.body != "" {
				ctx = withBody(t, ctx, tt.body)
			}
			serve(ctx, r.Capture(), "application/json", tt.answer)
			r.Report(ctx, &rec)
			line, evs := events()
			if len(evs) != 1 {
				t.Fatalf("%d events", len(evs))
			}
			for _, secret := range []string{jwt, apiKey, opaque, "alice\\\""} {
				if strings.Contains(line, secret) {
					t.Errorf("event contains %q:\n%s", secret, line)
				}
			}
			if tt.body != "" && (evs[0]["request"] == nil || evs[0]["response"] == nil) {
				t.Errorf("nothing captured: %s", line)
			}
		})
	}
}

// withBody parses body as inspect does and puts it in ctx.
func withBody(t *testing.T, ctx context.Context, body string) context.Context {
	t.Helper()
	req := &inspect.Request{Raw: []byte(body)}
	if err := req.Body.Parse(req.Raw, jsonrpc.Limits{}); err != nil {
		t.Fatal(err)
	}
	return inspect.NewContext(ctx, req)
}

// serve runs stage in front of a handler answering body as contentType.
func serve(ctx context.Context, stage func(http.Handler) http.Handler, contentType, body string) *httptest.ResponseRecorder {
	h := stage(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(http.StatusOK)
		for part := range strings.SplitAfterSeq(body, "\n\n") {
			_, _ = w.Write([]byte(part))
			http.NewResponseController(w).Flush()
		}
	}))
	rw := httptest.NewRecorder()
	h.ServeHTTP(rw, httptest.NewRequest("POST", "/mcp", nil).WithContext(ctx))
	return rw
}

func TestCapture(t *testing.T) {
	batch := `[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{"q":"x"}}},` +
		`{"jsonrpc":"2.0","id":"two","method":"tools/list"}]`
	tests := []struct {
		name, body, contentType, answer string
		ops                             []record.Op
		maxBytes                        int
		wantReq, wantResp               []string // per event; "" = absent
	}{
		{"JSON batch response matched by id", batch, "application/json",
			`[{"jsonrpc":"2.0","id":"two","result":{"tools":[]}},{"jsonrpc":"2.0","id":1,"result":{"content":[]}}]`,
			[]record.Op{answeredOK(toolCall("1", "a")), answeredOK(op("request", "tools/list", `"two"`))}, 0,
			[]string{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{"q":"x"}}}`, `{"jsonrpc":"2.0","id":"two","method":"tools/list"}`},
			[]string{`{"jsonrpc":"2.0","id":1,"result":{"content":[]}}`, `{"jsonrpc":"2.0","id":"two","result":{"tools":[]}}`}},
		{"SSE: the response, not the progress notification", `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"slow"}}`, "text/event-stream",
			"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progress\":1}}\n\n" +
				"id: e2\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":5,\r\ndata: \"result\":{\"content\":[]}}\r\n\r\n",
			[]record.Op{answeredOK(toolCall("5", "slow"))}, 0,
			[]string{`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"slow"}}`},
			[]string{`{"jsonrpc":"2.0","id":5,"result":{"content":[]}}`}},
		{"capped", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{"q":"` + strings.Repeat("x", 200) + `","r":"` + strings.Repeat("y", 200) + `"}}}`,
			"application/json", `{"jsonrpc":"2.0","id":1,"result":{}}`,
			[]record.Op{answeredOK(toolCall("1", "a"))}, 100,
			[]string{"[truncated]"}, []string{`{"jsonrpc":"2.0","id":1,"result":{}}`}},
		{"response too long to hold", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, "application/json",
			`{"jsonrpc":"2.0","id":1,"result":{"x":"` + strings.Repeat("z", 300<<10) + `"}}`,
			[]record.Op{answeredOK(op("request", "tools/list", "1"))}, 0,
			[]string{`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`}, []string{"not captured: response longer than"}},
		{"notification: no response", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, "", "",
			[]record.Op{op("notification", "notifications/initialized", "")}, 0,
			[]string{`{"jsonrpc":"2.0","method":"notifications/initialized"}`}, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, events := newMemLogger(t, Options{})
			r, err := l.Reporter(ReportOptions{Now: clock, Capture: CaptureOptions{Requests: true, Responses: true, MaxBytes: tt.maxBytes}})
			if err != nil {
				t.Fatal(err)
			}
			rec := &record.Record{Start: t0, HTTPMethod: "POST", Status: 200, Ops: tt.ops, Batch: len(tt.ops) > 1}
			ctx := withBody(t, record.NewContext(context.Background(), rec), tt.body)
			rw := serve(ctx, r.Capture(), tt.contentType, tt.answer)
			if rw.Body.String() != tt.answer || !rw.Flushed {
				t.Errorf("the stage changed the response or lost Flush")
			}
			r.Report(ctx, rec)
			_, evs := events()
			if len(evs) != len(tt.ops) {
				t.Fatalf("%d events", len(evs))
			}
			for i, e := range evs {
				check := func(member, want string) {
					v, ok := e[member]
					b, _ := json.Marshal(v)
					switch {
					case want == "":
						if ok {
							t.Errorf("event %d %s = %s, want none", i, member, b)
						}
					case strings.HasPrefix(want, "{"):
						var w any
						if err := json.Unmarshal([]byte(want), &w); err != nil {
							t.Fatal(err)
						}
						if !reflect.DeepEqual(v, w) {
							t.Errorf("event %d %s = %s, want %s", i, member, b, want)
						}
					case !strings.Contains(string(b), want):
						t.Errorf("event %d %s = %s, want it to contain %s", i, member, b, want)
					}
				}
				check("request", tt.wantReq[i])
				check("response", tt.wantResp[i])
			}
		})
	}
}

func TestCaptureOffAddsNoStage(t *testing.T) {
	l, _ := newMemLogger(t, Options{})
	r, _ := l.Reporter(ReportOptions{})
	h := &struct{ http.Handler }{http.NotFoundHandler()}
	if got := r.Capture()(h); got != http.Handler(h) {
		t.Error("Capture with capture off wrapped the handler")
	}
}

// TestSpanContextHook checks that the hook is asked per message.
func TestSpanContextHook(t *testing.T) {
	var asked []int
	hook := func(_ context.Context, _ *record.Record, op int) trace.SpanContext {
		asked = append(asked, op)
		return trace.NewSpanContext(trace.SpanContextConfig{TraceID: testSC.TraceID(), SpanID: trace.SpanID{byte(op + 2)}})
	}
	rec := &record.Record{Start: t0, HTTPMethod: "POST", Status: 200, Batch: true,
		Ops: []record.Op{answeredOK(toolCall("1", "a")), answeredOK(toolCall("2", "b"))}}
	_, evs := report(t, ReportOptions{SpanContext: hook}, rec)
	if len(asked) != 2 || asked[0] != 0 || asked[1] != 1 {
		t.Errorf("hook asked for %v", asked)
	}
	if evs[0]["traceId"] != evs[1]["traceId"] || evs[0]["spanId"] == evs[1]["spanId"] {
		t.Errorf("batch events: trace %v/%v span %v/%v", evs[0]["traceId"], evs[1]["traceId"], evs[0]["spanId"], evs[1]["spanId"])
	}
	asked = nil
	report(t, ReportOptions{SpanContext: hook}, &record.Record{Start: t0, HTTPMethod: "GET", Status: 200})
	if len(asked) != 1 || asked[0] != -1 {
		t.Errorf("hook asked for %v for a GET, want [-1]", asked)
	}
}

func TestNoTraceWithoutSpan(t *testing.T) {
	l, events := newMemLogger(t, Options{})
	r, _ := l.Reporter(ReportOptions{Now: clock})
	r.Report(context.Background(), &record.Record{Start: t0, HTTPMethod: "GET", Status: 200})
	_, evs := events()
	if _, ok := evs[0]["traceId"]; ok {
		t.Errorf("traceId without a span: %v", evs[0])
	}
}
