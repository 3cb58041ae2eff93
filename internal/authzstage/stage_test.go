package authzstage

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/internal/authz"
	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/record"
)

const policies = `
@id("eng-tools")
permit (principal is mcpgate::User, action == mcpgate::Action::"tools/call", resource)
when { principal.groups.contains("eng") };

@id("no-drop")
forbid (principal, action == mcpgate::Action::"tools/call", resource == mcpgate::Tool::"drop");

@id("no-etc")
forbid (principal, action == mcpgate::Action::"tools/call", resource)
when { context.arguments has path && context.arguments.path like "/etc/*" };

@id("no-destructive")
forbid (principal, action == mcpgate::Action::"tools/call", resource)
when { resource.annotations has destructiveHint && resource.annotations.destructiveHint };

@id("anon-public")
permit (principal is mcpgate::Anonymous, action == mcpgate::Action::"tools/call", resource)
when { resource.name like "public_*" };
`

func newStage(t testing.TB, mode authz.Mode) *Stage {
	t.Helper()
	set, err := authz.ParsePolicies(map[string][]byte{"p.cedar": []byte(policies)}, authz.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return New(Options{Engine: authz.NewWithSet(mode, nil, set), Backend: "be", MaxListBytes: 4096})
}

var alice = &identity.Identity{Subject: "alice", Issuer: "https://idp", Groups: []string{"eng"}, Method: identity.MethodOIDC}

// serve runs body through the stage in front of backend, as the chain
// would: a record and the parsed request in the context.
func serve(t *testing.T, s *Stage, id *identity.Identity, version, body string, backend http.HandlerFunc) (*httptest.ResponseRecorder, *record.Record, bool) {
	t.Helper()
	raw := []byte(body)
	parsed, err := jsonrpc.Parse(raw, jsonrpc.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	rec := &record.Record{Identity: id, ProtocolVersion: version, Batch: parsed.Batch}
	ops := rec.NewOps(len(parsed.Messages))
	for i := range parsed.Messages {
		m := &parsed.Messages[i]
		ops[i] = record.Op{Kind: record.KindOf(m.Kind), Method: m.Method, Name: m.Name, URI: m.URI}
		if m.ID.Present() {
			ops[i].ID = string(m.ID.Bytes(raw))
		}
	}
	ctx := record.NewContext(context.Background(), rec)
	ctx = inspect.NewContext(ctx, &inspect.Request{Raw: raw, Body: parsed, Version: version})
	r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body)).WithContext(ctx)
	w := httptest.NewRecorder()
	reached := false
	s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = true
		if backend != nil {
			backend(w, r)
		}
	})).ServeHTTP(w, r)
	return w, rec, reached
}

func TestDecisions(t *testing.T) {
	tests := []struct {
		name     string
		mode     authz.Mode
		id       *identity.Identity
		body     string
		status   int    // 0: reached the backend
		wantBody string // substring of the refusal
		effects  []record.AuthzEffect
		policies []string // of the first op
	}{
		{"group allow", authz.ModeEnforce, alice, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`,
			0, "", []record.AuthzEffect{record.AuthzAllow}, []string{"eng-tools"}},
		{"forbid overrides permit", authz.ModeEnforce, alice, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"drop"}}`,
			403, `{"jsonrpc":"2.0","id":1,"error":{"code":-32003,"message":"access denied: tools/call \"drop\""}}`, []record.AuthzEffect{record.AuthzDeny}, []string{"no-drop"}},
		{"argument rule", authz.ModeEnforce, alice, `{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"read","arguments":{"path":"/etc/passwd"}}}`,
			403, `"id":"a"`, []record.AuthzEffect{record.AuthzDeny}, []string{"no-etc"}},
		{"argument rule, other path", authz.ModeEnforce, alice, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read","arguments":{"path":"/tmp/x"}}}`,
			0, "", []record.AuthzEffect{record.AuthzAllow}, []string{"eng-tools"}},
		{"argument rule, member case", authz.ModeEnforce, alice, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read","Arguments":{"path":"/etc/passwd"}}}`,
			403, "access denied", []record.AuthzEffect{record.AuthzDeny}, []string{"no-etc"}},
		{"anonymous denied", authz.ModeEnforce, nil, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`,
			403, "access denied", []record.AuthzEffect{record.AuthzDeny}, nil},
		{"anonymous public", authz.ModeEnforce, nil, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"public_echo"}}`,
			0, "", []record.AuthzEffect{record.AuthzAllow}, []string{"anon-public"}},
		{"shadow lets through", authz.ModeShadow, alice, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"drop"}}`,
			0, "", []record.AuthzEffect{record.AuthzShadowDeny}, []string{"no-drop"}},
		{"lifecycle admitted", authz.ModeEnforce, nil, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`,
			0, "", []record.AuthzEffect{record.AuthzAllow}, nil},
		{"batch denied whole", authz.ModeEnforce, alice,
			`[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}},{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"drop"}}]`,
			403, `[{"jsonrpc":"2.0","id":1,"error":{"code":-32003,"message":"not sent: another message of the batch was denied"}},{"jsonrpc":"2.0","id":2,"error":{"code":-32003,"message":"access denied: tools/call \"drop\""}}]`,
			[]record.AuthzEffect{record.AuthzAllow, record.AuthzAllow, record.AuthzDeny}, []string{"eng-tools"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, rec, reached := serve(t, newStage(t, tc.mode), tc.id, "2025-06-18", tc.body, nil)
			if tc.status == 0 {
				if !reached || rec.Reason != "" {
					t.Fatalf("not relayed: reached %v, reason %q, body %s", reached, rec.Reason, w.Body)
				}
			} else {
				if reached {
					t.Fatal("a denied request reached the backend")
				}
				if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.wantBody) {
					t.Fatalf("status %d body %s, want %d with %s", w.Code, w.Body, tc.status, tc.wantBody)
				}
				if rec.Reason != record.ReasonAccessDenied {
					t.Errorf("reason %q", rec.Reason)
				}
				if strings.Contains(w.Body.String(), "no-") || strings.Contains(w.Body.String(), "alice") {
					t.Errorf("the refusal names a policy or the principal: %s", w.Body)
				}
				if got := w.Header().Get("Content-Length"); got != strconv.Itoa(w.Body.Len()) {
					t.Errorf("Content-Length %q for %d bytes", got, w.Body.Len())
				}
			}
			for i, want := range tc.effects {
				a := rec.Ops[i].Authz
				if a == nil || a.Effect != want || a.Mode != tc.mode.String() {
					t.Fatalf("op %d: authz %+v, want %v in %v", i, a, want, tc.mode)
				}
			}
			if got := rec.Ops[0].Authz.Policies; strings.Join(got, ",") != strings.Join(tc.policies, ",") {
				t.Errorf("policies %v, want %v", got, tc.policies)
			}
		})
	}
}

const toolsList = `{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"echo"},{"name":"drop"},{"name":"rm","annotations":{"destructiveHint":true}}]}}`

func TestListFiltering(t *testing.T) {
	list := `{"jsonrpc":"2.0","id":7,"method":"tools/list"}`
	sseOf := func(data string) string { return "event: message\nid: 5\ndata: " + data + "\n\n" }
	tests := []struct {
		name    string
		mode    authz.Mode
		version string
		ctype   string
		resp    string
		want    string
		status  int    // the status the client gets; 0: 200
		enc     string // Content-Encoding; "103": early hints first; "500": the backend answers 500
		req     string // the request; "" a tools/list with id 7
	}{
		{"json enforce", authz.ModeEnforce, "2025-06-18", "application/json", toolsList,
			`{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"echo"}]}}`, 0, "", ""},
		{"json shadow keeps", authz.ModeShadow, "2025-06-18", "application/json", toolsList, toolsList, 0, "", ""},
		{"json 2026 private", authz.ModeEnforce, "2026-07-28", "application/json",
			`{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"echo"},{"name":"drop"}],"cacheScope":"public","ttlMs":5}}`,
			`{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"echo"}],"cacheScope":"private","ttlMs":5}}`, 0, "", ""},
		{"json 2026 private added", authz.ModeEnforce, "2026-07-28", "application/json",
			`{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"echo"}]}}`,
			`{"jsonrpc":"2.0","id":7,"result":{"cacheScope":"private","tools":[{"name":"echo"}]}}`, 0, "", ""},
		{"other id untouched", authz.ModeEnforce, "2025-06-18", "application/json",
			`{"jsonrpc":"2.0","id":8,"result":{"tools":[{"name":"drop"}]}}`,
			`{"jsonrpc":"2.0","id":8,"result":{"tools":[{"name":"drop"}]}}`, 0, "", ""},
		{"sse enforce", authz.ModeEnforce, "2025-06-18", "text/event-stream",
			": keepalive\n\n" + sseOf(`{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}`) + sseOf(toolsList),
			": keepalive\n\n" + sseOf(`{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}`) +
				"id: 5\nevent: message\ndata: " + `{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"echo"}]}}` + "\n\n", 0, "", ""},
		{"json too large", authz.ModeEnforce, "2025-06-18", "application/json",
			`{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"echo","description":"` + strings.Repeat("x", 5000) + `"}]}}`,
			`{"jsonrpc":"2.0","id":7,"error":{"code":-32000,"message":"gateway: the tools/list result is too large to filter for authorization"}}`, 502, "", ""},
		{"json too large, shadow passes", authz.ModeShadow, "2025-06-18", "application/json",
			`{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"drop","description":"` + strings.Repeat("x", 5000) + `"}]}}`,
			`{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"drop","description":"` + strings.Repeat("x", 5000) + `"}]}}`, 0, "", ""},
		{"json unparseable", authz.ModeEnforce, "2025-06-18", "application/json",
			`{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"drop"}]},"Result":{}}`,
			`{"jsonrpc":"2.0","id":7,"error":{"code":-32000,"message":"gateway: the response to tools/list cannot be read to filter it for authorization"}}`, 502, "", ""},
		{"compressed", authz.ModeEnforce, "2025-06-18", "application/json", "\x1f\x8b...",
			`{"jsonrpc":"2.0","id":7,"error":{"code":-32000,"message":"gateway: the response to tools/list cannot be read to filter it for authorization"}}`, 502, "gzip", ""},
		{"sse oversized event", authz.ModeEnforce, "2025-06-18", "text/event-stream",
			sseOf(`{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"drop","description":"` + strings.Repeat("x", 5000) + `"}]}}`),
			"id: 5\ndata: " + `{"jsonrpc":"2.0","id":7,"error":{"code":-32000,"message":"gateway: the tools/list result is too large to filter for authorization"}}` + "\n\n", 0, "", ""},
		{"batch list and call", authz.ModeEnforce, "2025-03-26", "application/json",
			`[{"jsonrpc":"2.0","id":1,"result":{"content":[]}},{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"drop"},{"name":"echo"}]}}]`,
			`[{"jsonrpc":"2.0","id":1,"result":{"content":[]}},{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"echo"}]}}]`, 0, "",
			`[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}},{"jsonrpc":"2.0","id":7,"method":"tools/list"}]`},
		{"error status read too", authz.ModeEnforce, "2025-06-18", "application/json", toolsList,
			`{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"echo"}]}}`, 500, "500", ""},
		{"after early hints", authz.ModeEnforce, "2025-06-18", "application/json", toolsList,
			`{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"echo"}]}}`, 0, "103", ""},
		{"mislabelled", authz.ModeEnforce, "2025-06-18", "text/plain", toolsList,
			`{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"echo"}]}}`, 0, "", ""},
		{"mislabelled, shadow passes", authz.ModeShadow, "2025-06-18", "text/plain", toolsList, toolsList, 0, "", ""},
		{"anonymous sees public only", authz.ModeEnforce, "2025-06-18", "application/json",
			`{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"echo"},{"name":"public_echo"}]}}`,
			`{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"public_echo"}]}}`, 0, "", "anonymous"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStage(t, tc.mode)
			req, who := list, alice
			switch tc.req {
			case "":
			case "anonymous":
				who = nil
			default:
				req = tc.req
			}
			w, _, _ := serve(t, s, who, tc.version, req, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				status := http.StatusOK
				switch tc.enc {
				case "":
				case "103":
					w.WriteHeader(http.StatusEarlyHints)
				case "500":
					status = http.StatusInternalServerError
				default:
					w.Header().Set("Content-Encoding", tc.enc)
				}
				w.Header().Set("Content-Length", strconv.Itoa(len(tc.resp)))
				w.WriteHeader(status)
				// In pieces, as a relay streams it.
				for i := 0; i < len(tc.resp); i += 17 {
					_, _ = w.Write([]byte(tc.resp[i:min(i+17, len(tc.resp))]))
					w.(http.Flusher).Flush()
				}
			})
			// httptest's recorder keeps the first status, 1xx included
			// (net/http sends 1xx and then the final one).
			if want := max(tc.status, 200); w.Code != want && tc.enc != "103" {
				t.Errorf("status %d, want %d", w.Code, want)
			}
			if got := w.Body.String(); got != tc.want {
				t.Fatalf("body\n%s\nwant\n%s", got, tc.want)
			}
			if cl := w.Header().Get("Content-Length"); cl != "" && cl != strconv.Itoa(w.Body.Len()) {
				t.Errorf("Content-Length %s for %d bytes", cl, w.Body.Len())
			}
			if tc.ctype == "text/event-stream" && w.Header().Get("Content-Length") != "" {
				t.Error("an event stream kept a Content-Length")
			}
		})
	}
}

// TestCatalogFeedsCalls: the annotations a tools/list result showed decide
// the tools/call that follows.
func TestCatalogFeedsCalls(t *testing.T) {
	s := newStage(t, authz.ModeEnforce)
	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"rm"}}`
	if _, _, reached := serve(t, s, alice, "2025-06-18", call, nil); !reached {
		t.Fatal("rm denied before its annotations were known")
	}
	serve(t, s, alice, "2025-06-18", `{"jsonrpc":"2.0","id":7,"method":"tools/list"}`, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(toolsList))
	})
	w, rec, reached := serve(t, s, alice, "2025-06-18", call, nil)
	if reached || w.Code != http.StatusForbidden || rec.Ops[0].Authz.Policies[0] != "no-destructive" {
		t.Fatalf("rm after tools/list: reached %v, status %d, authz %+v", reached, w.Code, rec.Ops[0].Authz)
	}
}

// TestStreamingPreserved: without a list request the writer is the
// relay's own, and with one a non-list SSE event is written (and flushed)
// before the handler returns.
func TestStreamingPreserved(t *testing.T) {
	s := newStage(t, authz.ModeEnforce)
	serve(t, s, alice, "2025-06-18", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`, func(w http.ResponseWriter, _ *http.Request) {
		if _, ok := w.(*httptest.ResponseRecorder); !ok {
			t.Errorf("a call got a wrapped writer %T", w)
		}
	})
	serve(t, s, alice, "2025-06-18", `{"jsonrpc":"2.0","id":7,"method":"tools/list"}`, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		_, _ = w.Write([]byte("data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{}}\n\n"))
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush: %v", err)
		}
		rw := w.(*filter).w.(*httptest.ResponseRecorder)
		if !rw.Flushed || !bytes.Contains(rw.Body.Bytes(), []byte("notifications/message")) {
			t.Error("the notification was held")
		}
	})
}

func BenchmarkToolsCall100Policies(b *testing.B) {
	var p strings.Builder
	for i := range 100 {
		p.WriteString(`@id("p` + strconv.Itoa(i) + `") permit (principal is mcpgate::User, action == mcpgate::Action::"tools/call", resource == mcpgate::Tool::"tool` + strconv.Itoa(i) + `") when { principal.groups.contains("eng") };` + "\n")
	}
	set, err := authz.ParsePolicies(map[string][]byte{"p.cedar": []byte(p.String())}, authz.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	s := New(Options{Engine: authz.NewWithSet(authz.ModeEnforce, nil, set), Backend: "be"})
	raw := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"tool42","arguments":{"q":"x"}}}`)
	parsed, _ := jsonrpc.Parse(raw, jsonrpc.Limits{})
	rec := &record.Record{Identity: alice, ProtocolVersion: "2025-06-18"}
	ireq := &inspect.Request{Raw: raw, Body: parsed}
	ctx := inspect.NewContext(record.NewContext(context.Background(), rec), ireq)
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil).WithContext(ctx)
	h := s.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	b.ReportAllocs()
	for b.Loop() {
		ops := rec.NewOps(1)
		ops[0] = record.Op{Kind: record.OpRequest, Method: "tools/call", Name: "tool42", ID: "1"}
		h.ServeHTTP(nil, r)
		if rec.Ops[0].Authz.Effect != record.AuthzAllow {
			b.Fatal("denied")
		}
	}
}

// TestListItemsDenied: the list request's op records how many items the
// policies deny, in enforce (removed) and shadow (left in) mode alike.
func TestListItemsDenied(t *testing.T) {
	for _, mode := range []authz.Mode{authz.ModeEnforce, authz.ModeShadow} {
		t.Run(mode.String(), func(t *testing.T) {
			_, rec, _ := serve(t, newStage(t, mode), alice, "2025-06-18", `{"jsonrpc":"2.0","id":7,"method":"tools/list"}`,
				func(w http.ResponseWriter, _ *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					_, _ = w.Write([]byte(toolsList))
				})
			a := rec.Ops[0].Authz
			if a == nil || a.ItemsDenied != 2 || a.Effect != record.AuthzAllow || a.Mode != mode.String() {
				t.Fatalf("tools/list authz %+v, want 2 items denied (drop, rm)", a)
			}
		})
	}
}
