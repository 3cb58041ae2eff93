package e2e

// The audit log end to end (docs/audit.md): real mcpgate processes with
// auth.mode [oidc, apiKey] in front of server-everything over stdio, their
// audit files read back event by event and validated against
// docs/audit-event.schema.json, each event joined to the SERVER span a
// real Jaeger holds for it; then the sink's behaviour as an operator sees
// it: SIGHUP reopening, a sink that cannot be opened at start, a sink that
// fails while serving (failClosed true and false), and SIGTERM with events
// queued.

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/mcpgate/mcpgate/internal/testidp"
)

// oidcAPIKeyConfig is a gateway configuration with auth.mode [oidc, apiKey]
// (the issuer, the API keys) in front of server-everything over stdio,
// with more top-level YAML in extra (audit, telemetry, pseudonymization).
func oidcAPIKeyConfig(t *testing.T, iss *testidp.IdP, keys []apiKey, extra string) string {
	t.Helper()
	c := gatewayConfig{port: freeClosedPort(t), admin: adminOn, extra: extra, backends: []backendSpec{stdioBackend()}}
	c.auth = fmt.Sprintf(`
  mode: [oidc, apiKey]
  resource: %s
  oidc:
    issuer: %s
    audience: mcpgate
    skew: 5s
  apiKeys:
%s`, c.resource(), iss.URL, strings.TrimSuffix(apiKeyEntries(keys), "\n"))
	return c.String()
}

// wantEvent is what one event must say.
type wantEvent struct {
	what       string
	key        string // mcp.id as written by fmt ("3", "call-b"), or "<event> <sessionRef>"
	event      string
	outcome    string
	method     string // mcp.method; "" = absent
	tool       string // mcp.tool; "" = absent
	prompt     string // mcp.prompt; "" = absent
	sid        string // the session named by mcp.sessionRef; "" = absent
	principal  map[string]any
	clientName string // client.name; "" = absent
	httpMethod string
	status     int
	backend    string // "" = absent
	errType    string // "" = no error member
	errCode    int    // 0 = no error.code
	errMsg     string // a substring of error.message; "" = no error.message
	span       string // the name of the SERVER span it joins
	rejected   bool
}

// eventKey is the key an event is matched to its wantEvent by.
func eventKey(e auditEvent) string {
	if id := e.get("mcp.id"); id != nil {
		return fmt.Sprint(id)
	}
	return e.str("event") + " " + e.str("mcp.sessionRef")
}

// matchEvents pairs events with wants: every want must match exactly one
// event, and there must be no other event.
func matchEvents(t *testing.T, events []auditEvent, wants []wantEvent) map[string]auditEvent {
	t.Helper()
	got := map[string][]auditEvent{}
	for _, e := range events {
		got[eventKey(e)] = append(got[eventKey(e)], e)
	}
	out := map[string]auditEvent{}
	for _, w := range wants {
		switch es := got[w.key]; len(es) {
		case 1:
			out[w.key] = es[0]
		case 0:
			t.Errorf("%s: no event (key %q)", w.what, w.key)
		default:
			t.Errorf("%s: %d events, want exactly one:\n%s", w.what, len(es), eventLines(es))
		}
		delete(got, w.key)
	}
	for k, es := range got {
		t.Errorf("unexpected event(s) (key %q):\n%s", k, eventLines(es))
	}
	if len(events) != len(wants) {
		t.Errorf("%d events, want %d (one per request)", len(events), len(wants))
	}
	return out
}

func eventLines(es []auditEvent) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString(e.line + "\n")
	}
	return b.String()
}

// checkEvent asserts e against w, member by member.
func checkEvent(t *testing.T, e auditEvent, w wantEvent) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s: "+format+"\nevent: %s", append(append([]any{w.what}, args...), e.line)...)
	}
	eqOrAbsent := func(path, want string) {
		t.Helper()
		if got := e.get(path); want == "" && got != nil {
			fail("%s = %v, want it absent", path, got)
		} else if want != "" && got != want {
			fail("%s = %v, want %q", path, got, want)
		}
	}
	eqOrAbsent("event", w.event)
	eqOrAbsent("outcome", w.outcome)
	eqOrAbsent("mcp.method", w.method)
	eqOrAbsent("mcp.tool", w.tool)
	eqOrAbsent("mcp.prompt", w.prompt)
	eqOrAbsent("mcp.resource", "")
	if w.sid != "" {
		eqOrAbsent("mcp.sessionRef", sessionRef(w.sid))
	} else if !w.rejected {
		eqOrAbsent("mcp.sessionRef", "")
	}
	if !w.rejected {
		eqOrAbsent("mcp.protocolVersion", sessionProto)
	} else if v := e.get("mcp.protocolVersion"); v != nil && v != sessionProto {
		fail("mcp.protocolVersion = %v, want %s or absent", v, sessionProto)
	}
	eqOrAbsent("client.address", "127.0.0.1")
	eqOrAbsent("client.name", w.clientName)
	if w.clientName != "" {
		eqOrAbsent("client.version", "1.2.3")
	} else {
		eqOrAbsent("client.version", "")
	}
	eqOrAbsent("backend", w.backend)
	eqOrAbsent("http.method", w.httpMethod)
	if got, _ := e.get("http.status").(float64); int(got) != w.status {
		fail("http.status = %v, want %d", e.get("http.status"), w.status)
	}
	if d, ok := e.get("durationMs").(float64); !ok || d <= 0 {
		fail("durationMs = %v, want a positive number", e.get("durationMs"))
	}
	if _, err := time.Parse(time.RFC3339Nano, e.str("time")); err != nil || !strings.HasSuffix(e.str("time"), "Z") {
		fail("time %q is not RFC 3339 UTC: %v", e.str("time"), err)
	}

	// The principal.
	p, _ := e.get("principal").(map[string]any)
	switch {
	case w.principal == nil && p != nil:
		fail("principal %v, want none", p)
	case w.principal != nil && !maps.Equal(p, w.principal):
		fail("principal %v, want %v", p, w.principal)
	}

	// The error.
	if w.errType == "" {
		if e.has("error") {
			fail("error %v, want none", e.get("error"))
		}
	} else {
		eqOrAbsent("error.type", w.errType)
		if w.errCode == 0 {
			if e.has("error.code") {
				fail("error.code = %v, want it absent", e.get("error.code"))
			}
		} else if got, _ := e.get("error.code").(float64); int(got) != w.errCode {
			fail("error.code = %v, want %d", e.get("error.code"), w.errCode)
		}
		switch msg := e.get("error.message"); {
		case w.errMsg == "" && msg != nil:
			fail("error.message = %v, want it absent", msg)
		case w.errMsg != "" && !strings.Contains(e.str("error.message"), w.errMsg):
			fail("error.message = %v, want it to contain %q", msg, w.errMsg)
		}
	}
}

// eventSpans waits (bounded by jaegerQueryTimeout) until Jaeger holds a span
// for every event's traceId/spanId, and returns them by span id.
func eventSpans(t *testing.T, j *jaeger, service string, events []auditEvent) map[string]Span {
	t.Helper()
	deadline := time.Now().Add(jaegerQueryTimeout)
	for {
		traces, err := j.queryTraces(service)
		spans := map[string]Span{}
		for _, tr := range traces {
			for _, s := range tr.Spans {
				spans[s.SpanID] = s
			}
		}
		var missing []string
		for _, e := range events {
			if s, ok := spans[e.str("spanId")]; !ok || s.TraceID != e.str("traceId") {
				missing = append(missing, e.str("traceId")+"/"+e.str("spanId"))
			}
		}
		if err == nil && len(missing) == 0 {
			return spans
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v Jaeger lacks the spans %v of these events (last error %v); it holds %d spans",
				jaegerQueryTimeout, missing, err, len(spans))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestAuditEndToEnd: tool calls, a tool error, JSON-RPC errors, rejected
// tokens and session ends through a real gateway (OIDC and API keys, the
// stdio backend), then the audit file read back — every event exactly
// once, each member right, each event valid by the schema and joined to
// its SERVER span in Jaeger — with principal raw and with principal hashed.
func TestAuditEndToEnd(t *testing.T) {
	t.Parallel()
	iss := testidp.New(t)
	k1 := testidp.NewKey(t, "k1", jose.RS256)
	iss.Publish(k1)

	t.Run("raw", func(t *testing.T) {
		t.Parallel()
		j := startJaeger(t)
		key := newAPIKey(t, "bob")
		sink := filepath.Join(t.TempDir(), "audit.jsonl")
		service := "mcpgate-e2e-audit-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		g := startGatewayConfig(t, nil, oidcAPIKeyConfig(t, iss, []apiKey{key}, fmt.Sprintf(`telemetry:
  serviceName: %s
  traces: {exporter: otlp, endpoint: %q, batchTimeout: 50ms}
audit:
  enabled: true
  sink: %s
  principal: raw
`, service, j.OTLPHTTPEndpoint(), sink)))

		secrets := map[string]string{"the API key": key.Key}
		aliceTok := iss.Token(k1, "alice", nil)
		jwtSecrets("alice's token", aliceTok, secrets)
		alice := bearerH(aliceTok)
		bob := map[string]string{"X-API-Key": key.Key}

		// alice, OIDC.
		sa := openSession(t, g.URL, 1, "e2e-audit", alice)
		postMCP(t, g.URL, sa, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, alice).result(t, "tools/list")
		// Forwarded headers from a peer not in trustedProxies are ignored.
		callEcho(t, g.URL, sa, "3", map[string]string{"Authorization": alice["Authorization"],
			"X-Forwarded-For": "203.0.113.9", "Forwarded": "for=203.0.113.9", "X-Real-Ip": "203.0.113.9"})
		// isError: echo without its required argument.
		if res := postMCP(t, g.URL, sa, `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"echo","arguments":{}}}`, alice).
			result(t, "tools/call echo without arguments"); res["isError"] != true {
			t.Fatalf("tools/call echo without arguments: %v, want isError: true", res)
		}
		// server-everything (TypeScript SDK 1.32) answers a call of an
		// unknown tool with isError: true, not a JSON-RPC error.
		if res := postMCP(t, g.URL, sa, `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"no-such-tool","arguments":{}}}`, alice).
			result(t, "tools/call of an unknown tool"); res["isError"] != true {
			t.Fatalf("tools/call no-such-tool: %v, want isError: true", res)
		}
		// JSON-RPC errors from the backend: a missing prompt (-32602) and
		// an unknown method (-32601).
		r := postMCP(t, g.URL, sa, `{"jsonrpc":"2.0","id":6,"method":"prompts/get","params":{"name":"no-such-prompt"}}`, alice)
		if code, msg, ok := r.rpcError(); r.status != http.StatusOK || !ok || code != -32602 || !strings.Contains(msg, "no-such-prompt") {
			t.Fatalf("prompts/get no-such-prompt: status %d body %s, want a JSON-RPC error -32602", r.status, r.body)
		}
		r = postMCP(t, g.URL, sa, `{"jsonrpc":"2.0","id":7,"method":"e2e/no-such-method","params":{}}`, alice)
		if code, _, ok := r.rpcError(); r.status != http.StatusOK || !ok || code != -32601 {
			t.Fatalf("e2e/no-such-method: status %d body %s, want a JSON-RPC error -32601", r.status, r.body)
		}

		// bob, API key; a string id.
		sb := openSession(t, g.URL, 11, "e2e-audit-apikey", bob)
		callEcho(t, g.URL, sb, `"call-b"`, bob)

		// Rejected tokens, on alice's session.
		expired := iss.Token(k1, "alice", func(c map[string]any) { c["exp"] = time.Now().Add(-5 * time.Minute).Unix() })
		wrongAud := iss.Token(k1, "alice", func(c map[string]any) { c["aud"] = "someone-else" })
		jwtSecrets("the expired token", expired, secrets)
		jwtSecrets("the wrong-audience token", wrongAud, secrets)
		for id, tok := range map[string]string{"21": expired, "22": wrongAud} {
			if r := postMCP(t, g.URL, sa, echoBody(id, "refused"), bearerH(tok)); r.status != http.StatusUnauthorized {
				t.Fatalf("tools/call %s with a bad token: status %d, want 401; body %s", id, r.status, r.body)
			}
		}

		// The sessions end.
		da, db := deleteMCP(t, g.URL, sa, alice), deleteMCP(t, g.URL, sb, bob)
		if da.status >= 300 || db.status >= 300 {
			t.Fatalf("DELETE: status %d and %d", da.status, db.status)
		}

		// SIGTERM writes out the audit queue and flushes the spans.
		if err := g.stop(); err != nil {
			t.Fatalf("mcpgate did not exit cleanly: %v", err)
		}
		events, data := readAuditLog(t, sink)

		ali := map[string]any{"subject": "alice", "issuer": iss.URL, "method": "oidc"}
		bo := map[string]any{"subject": "bob", "issuer": "urn:mcpgate:apikey", "method": "apiKey"}
		ok := func(w wantEvent) wantEvent {
			w.outcome, w.httpMethod, w.backend = ifElse(w.outcome == "", "success", w.outcome), "POST", "everything"
			if w.status == 0 {
				w.status = http.StatusOK
			}
			return w
		}
		wants := []wantEvent{
			ok(wantEvent{what: "alice's initialize", key: "1", event: "initialize", method: "initialize", sid: sa, principal: ali, clientName: "e2e-audit", span: "initialize"}),
			ok(wantEvent{what: "alice's notifications/initialized", key: "notification " + sessionRef(sa), event: "notification", method: "notifications/initialized", sid: sa, principal: ali, status: http.StatusAccepted, span: "notifications/initialized"}),
			ok(wantEvent{what: "tools/list", key: "2", event: "tools_list", method: "tools/list", sid: sa, principal: ali, span: "tools/list"}),
			ok(wantEvent{what: "tools/call echo", key: "3", event: "tool_call", method: "tools/call", tool: "echo", sid: sa, principal: ali, span: "tools/call echo"}),
			ok(wantEvent{what: "tools/call echo with isError", key: "4", event: "tool_call", outcome: "failure", method: "tools/call", tool: "echo", sid: sa, principal: ali, errType: "tool_error", span: "tools/call echo"}),
			ok(wantEvent{what: "tools/call of an unknown tool", key: "5", event: "tool_call", outcome: "failure", method: "tools/call", tool: "no-such-tool", sid: sa, principal: ali, errType: "tool_error", span: "tools/call no-such-tool"}),
			ok(wantEvent{what: "prompts/get of a missing prompt", key: "6", event: "prompt_get", outcome: "error", method: "prompts/get", prompt: "no-such-prompt", sid: sa, principal: ali, errType: "-32602", errCode: -32602, errMsg: "no-such-prompt", span: "prompts/get no-such-prompt"}),
			ok(wantEvent{what: "an unknown method", key: "7", event: "other_request", outcome: "error", method: "e2e/no-such-method", sid: sa, principal: ali, errType: "-32601", errCode: -32601, errMsg: "not found", span: "_OTHER"}),
			ok(wantEvent{what: "bob's initialize", key: "11", event: "initialize", method: "initialize", sid: sb, principal: bo, clientName: "e2e-audit-apikey", span: "initialize"}),
			ok(wantEvent{what: "bob's notifications/initialized", key: "notification " + sessionRef(sb), event: "notification", method: "notifications/initialized", sid: sb, principal: bo, status: http.StatusAccepted, span: "notifications/initialized"}),
			ok(wantEvent{what: "bob's tools/call echo", key: "call-b", event: "tool_call", method: "tools/call", tool: "echo", sid: sb, principal: bo, span: "tools/call echo"}),
			{what: "the expired token", key: "21", event: "rejected", outcome: "denied", method: "tools/call", tool: "echo", httpMethod: "POST", status: 401,
				errType: "unauthenticated", errMsg: "expired", span: "tools/call echo", rejected: true},
			{what: "the wrong-audience token", key: "22", event: "rejected", outcome: "denied", method: "tools/call", tool: "echo", httpMethod: "POST", status: 401,
				errType: "unauthenticated", errMsg: "audience", span: "tools/call echo", rejected: true},
			ok(wantEvent{what: "alice's DELETE", key: "session_end " + sessionRef(sa), event: "session_end", sid: sa, principal: ali, status: da.status, span: "DELETE"}),
			ok(wantEvent{what: "bob's DELETE", key: "session_end " + sessionRef(sb), event: "session_end", sid: sb, principal: bo, status: db.status, span: "DELETE"}),
		}
		for i := range wants {
			if w := &wants[i]; w.event == "session_end" {
				w.httpMethod = "DELETE"
			}
		}
		matched := matchEvents(t, events, wants)
		for _, w := range wants {
			if e, ok := matched[w.key]; ok {
				checkEvent(t, e, w)
			}
		}
		noSecrets(t, "the audit file", data, secrets)

		// Each event joins its SERVER span in Jaeger.
		spans := eventSpans(t, j, service, events)
		for _, w := range wants {
			e, ok := matched[w.key]
			if !ok {
				continue
			}
			s := spans[e.str("spanId")]
			if s.Kind != "server" || s.Name != w.span {
				t.Errorf("%s: the event's span %s is a %s span named %q, want a server span named %q", w.what, s.SpanID, s.Kind, s.Name, w.span)
			}
			if w.rejected && s.ParentSpanID != "" {
				t.Errorf("%s: the event's span %s has parent %s, want the root span of its trace", w.what, s.SpanID, s.ParentSpanID)
			}
			if w.method != "" && s.Attributes["mcp.method.name"] != w.method {
				t.Errorf("%s: span mcp.method.name %q, want %q", w.what, s.Attributes["mcp.method.name"], w.method)
			}
			if id := e.get("mcp.id"); id != nil && s.Attributes["jsonrpc.request.id"] != fmt.Sprint(id) {
				t.Errorf("%s: span jsonrpc.request.id %q, want %v", w.what, s.Attributes["jsonrpc.request.id"], id)
			}
			if s.Attributes["error.type"] != e.str("error.type") {
				t.Errorf("%s: span error.type %q, event error.type %q", w.what, s.Attributes["error.type"], e.str("error.type"))
			}
		}
	})

	t.Run("hashed", func(t *testing.T) {
		t.Parallel()
		key := newAPIKey(t, "bob-hashed")
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			t.Fatal(err)
		}
		keyText := base64.StdEncoding.EncodeToString(secret)
		sink := filepath.Join(t.TempDir(), "audit.jsonl")
		g := startGatewayConfig(t, []string{"MCPGATE_E2E_AUDIT_PSEUDONYM_KEY=" + keyText}, oidcAPIKeyConfig(t, iss, []apiKey{key}, fmt.Sprintf(`pseudonymization:
  keys:
    - {id: k1, env: MCPGATE_E2E_AUDIT_PSEUDONYM_KEY}
audit:
  enabled: true
  sink: %s
  principal: hashed
`, sink)))

		secrets := map[string]string{
			"the API key":                             key.Key,
			"the pseudonymization key (base64)":       keyText,
			"the pseudonymization key (base64url)":    base64.RawURLEncoding.EncodeToString(secret),
			"the pseudonymization key (hex)":          hex.EncodeToString(secret),
			"the pseudonymization key (raw bytes)":    string(secret),
			"the OIDC subject":                        "alice-hashed",
			"the API key subject":                     "bob-hashed",
			"the OIDC issuer":                         iss.URL,
			"the API-key issuer (urn:mcpgate:apikey)": "urn:mcpgate:apikey",
			`a "subject" member`:                      `"subject"`,
			`an "issuer" member`:                      `"issuer"`,
		}
		aliceTok := iss.Token(k1, "alice-hashed", nil)
		jwtSecrets("alice's token", aliceTok, secrets)
		alice := bearerH(aliceTok)
		bob := map[string]string{"Authorization": "Bearer " + key.Key}

		sa := openSession(t, g.URL, 1, "e2e-audit-hashed", alice)
		callEcho(t, g.URL, sa, "2", alice)
		sb := openSession(t, g.URL, 11, "e2e-audit-hashed", bob)
		callEcho(t, g.URL, sb, "12", bob)
		expired := iss.Token(k1, "alice-hashed", func(c map[string]any) { c["exp"] = time.Now().Add(-5 * time.Minute).Unix() })
		jwtSecrets("the expired token", expired, secrets)
		if r := postMCP(t, g.URL, sa, echoBody("21", "refused"), bearerH(expired)); r.status != http.StatusUnauthorized {
			t.Fatalf("tools/call with an expired token: status %d, want 401; body %s", r.status, r.body)
		}
		if err := g.stop(); err != nil {
			t.Fatalf("mcpgate did not exit cleanly: %v", err)
		}
		events, data := readAuditLog(t, sink)

		// The pseudonym, computed independently: the first 16 bytes of
		// HMAC-SHA256(key, issuer + "\n" + subject), hex.
		pseudonym := func(issuer, subject string) string {
			m := hmac.New(sha256.New, secret)
			m.Write([]byte(issuer + "\n" + subject))
			return hex.EncodeToString(m.Sum(nil)[:16])
		}
		ali := map[string]any{"hash": pseudonym(iss.URL, "alice-hashed"), "keyId": "k1", "method": "oidc"}
		bo := map[string]any{"hash": pseudonym("urn:mcpgate:apikey", "bob-hashed"), "keyId": "k1", "method": "apiKey"}
		ok := func(w wantEvent) wantEvent {
			w.outcome, w.httpMethod, w.backend = "success", "POST", "everything"
			if w.status == 0 {
				w.status = http.StatusOK
			}
			return w
		}
		wants := []wantEvent{
			ok(wantEvent{what: "alice's initialize", key: "1", event: "initialize", method: "initialize", sid: sa, principal: ali, clientName: "e2e-audit-hashed"}),
			ok(wantEvent{what: "alice's notifications/initialized", key: "notification " + sessionRef(sa), event: "notification", method: "notifications/initialized", sid: sa, principal: ali, status: http.StatusAccepted}),
			ok(wantEvent{what: "alice's tools/call echo", key: "2", event: "tool_call", method: "tools/call", tool: "echo", sid: sa, principal: ali}),
			ok(wantEvent{what: "bob's initialize", key: "11", event: "initialize", method: "initialize", sid: sb, principal: bo, clientName: "e2e-audit-hashed"}),
			ok(wantEvent{what: "bob's notifications/initialized", key: "notification " + sessionRef(sb), event: "notification", method: "notifications/initialized", sid: sb, principal: bo, status: http.StatusAccepted}),
			ok(wantEvent{what: "bob's tools/call echo", key: "12", event: "tool_call", method: "tools/call", tool: "echo", sid: sb, principal: bo}),
			// With principal: hashed a denial's message is left out.
			{what: "the expired token", key: "21", event: "rejected", outcome: "denied", method: "tools/call", tool: "echo", httpMethod: "POST", status: 401,
				errType: "unauthenticated", rejected: true},
		}
		matched := matchEvents(t, events, wants)
		for _, w := range wants {
			if e, ok := matched[w.key]; ok {
				checkEvent(t, e, w)
			}
		}
		noSecrets(t, "the audit file", data, secrets)
	})
}

func ifElse[T any](c bool, a, b T) T {
	if c {
		return a
	}
	return b
}

// anonSinkConfig is an anonymous gateway in front of server-everything over
// stdio with the audit log at sink, and more audit keys in auditExtra
// (indented by two spaces).
func anonSinkConfig(sink, auditExtra string) string {
	return gatewayConfig{
		admin:    adminOn,
		extra:    fmt.Sprintf("audit:\n  enabled: true\n  sink: %q\n%s", sink, auditExtra),
		backends: []backendSpec{stdioBackend()},
	}.String()
}

// TestAuditSink: the sink's behaviour as an operator sees it.
func TestAuditSink(t *testing.T) {
	t.Parallel()

	// SIGHUP after a rename: events before it in the renamed file, later
	// ones in a new file at the configured path, none lost or repeated.
	t.Run("SIGHUP reopens", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		sink := filepath.Join(dir, "audit.jsonl")
		g := startGatewayConfig(t, nil, anonSinkConfig(sink, ""))
		sid := openSession(t, g.URL, 1, "e2e-audit-hup", nil)
		for _, id := range []string{"2", "3", "4"} {
			callEcho(t, g.URL, sid, id, nil)
		}
		waitAuditLines(t, sink, 5)
		if err := os.Rename(sink, sink+".1"); err != nil {
			t.Fatal(err)
		}
		g.signal(t, syscall.SIGHUP)
		// Reopening creates the file again: from then on events go there.
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := os.Stat(sink); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no new %s within 10s of SIGHUP; log:\n%s", sink, tail(g.Log.String(), 3000))
			}
			time.Sleep(20 * time.Millisecond)
		}
		for _, id := range []string{"5", "6", "7"} {
			callEcho(t, g.URL, sid, id, nil)
		}
		if r := deleteMCP(t, g.URL, sid, nil); r.status >= 300 {
			t.Fatalf("DELETE: status %d %s", r.status, r.body)
		}
		if err := g.stop(); err != nil {
			t.Fatalf("mcpgate did not exit cleanly: %v", err)
		}
		if fi, err := os.Stat(sink); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("the reopened sink: %v, mode %v; want 0600", err, fi.Mode())
		}
		before, _ := readAuditLog(t, sink+".1")
		after, _ := readAuditLog(t, sink)
		keys := func(es []auditEvent) []string {
			var k []string
			for _, e := range es {
				k = append(k, eventKey(e))
			}
			slices.Sort(k)
			return k
		}
		ref := sessionRef(sid)
		if got, want := keys(before), []string{"1", "2", "3", "4", "notification " + ref}; !slices.Equal(got, want) {
			t.Errorf("the renamed file holds the events %q, want %q:\n%s", got, want, eventLines(before))
		}
		if got, want := keys(after), []string{"5", "6", "7", "session_end " + ref}; !slices.Equal(got, want) {
			t.Errorf("the new file holds the events %q, want %q:\n%s", got, want, eventLines(after))
		}
		if n := len(before) + len(after); n != 9 {
			t.Errorf("%d events in the two files, want 9 (one per request)", n)
		}
		if strings.Contains(g.Log.String(), "audit log reopen failed") {
			t.Errorf("the gateway logged a failed reopen:\n%s", tail(g.Log.String(), 3000))
		}
	})

	// A sink that cannot be opened stops the gateway at start, with an
	// error naming it.
	t.Run("unwritable at start", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		aFile := filepath.Join(dir, "a-file")
		if err := os.WriteFile(aFile, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		cases := map[string]string{
			"directory missing":       filepath.Join(dir, "no-such-dir", "audit.jsonl"),
			"parent is a file":        filepath.Join(aFile, "audit.jsonl"),
			"the path is a directory": dir,
		}
		if os.Geteuid() != 0 {
			ro := filepath.Join(dir, "read-only.jsonl")
			if err := os.WriteFile(ro, nil, 0o400); err != nil {
				t.Fatal(err)
			}
			cases["read-only file"] = ro
		} else {
			t.Log("running as root: a read-only file is writable, so that case is not run")
		}
		for name, sink := range cases {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				cfg := writeConfig(t, anonSinkConfig(sink, ""))
				ctx, cancel := context.WithTimeout(context.Background(), gatewayStartTimeout)
				defer cancel()
				cmd := exec.CommandContext(ctx, gatewayBin, "serve", "--config", cfg)
				cmd.WaitDelay = 5 * time.Second
				out, err := cmd.CombinedOutput()
				var ee *exec.ExitError
				if ctx.Err() != nil || !errors.As(err, &ee) || ee.ExitCode() <= 0 {
					t.Fatalf("mcpgate with the sink %s: %v (context: %v), want it to refuse to start; output:\n%s", sink, err, ctx.Err(), tail(string(out), 3000))
				}
				if strings.Contains(string(out), "WARNING: DATA RACE") {
					t.Errorf("the race detector reported a data race in mcpgate:\n%s", tail(string(out), 16000))
				}
				if strings.Contains(string(out), `"msg":"mcpgate serving"`) {
					t.Errorf("mcpgate served before exiting:\n%s", tail(string(out), 3000))
				}
				if !strings.Contains(string(out), sink) || !strings.Contains(string(out), "audit") {
					t.Errorf("the error does not name the audit sink %s:\n%s", sink, tail(string(out), 3000))
				}
				t.Logf("exit %d: %s", ee.ExitCode(), lastLine(strings.TrimSpace(string(out))))
			})
		}
	})

	// A sink failing while the gateway serves: a FIFO whose reader the
	// test closes. The gateway's open descriptor then fails every write
	// with EPIPE; a new reader makes it writable again.
	for _, failClosed := range []bool{true, false} {
		t.Run(fmt.Sprintf("failing sink, failClosed %v", failClosed), func(t *testing.T) {
			t.Parallel()
			failingSink(t, failClosed)
		})
	}

	// SIGTERM right after a burst: every completed request's event is in
	// the file once the gateway has exited 0.
	t.Run("SIGTERM after a burst", func(t *testing.T) {
		t.Parallel()
		sink := filepath.Join(t.TempDir(), "audit.jsonl")
		g := startGatewayConfig(t, nil, anonSinkConfig(sink, "  fsync: always\n"))
		sid := openSession(t, g.URL, 1, "e2e-audit-term", nil)
		const n = 40
		echoBurst(t, g.URL, sid, n)
		if err := g.stop(); err != nil {
			t.Fatalf("mcpgate did not exit with status 0 after SIGTERM: %v", err)
		}
		events, _ := readAuditLog(t, sink)
		checkBurstEvents(t, events, n)
	})

	// The same with events certainly queued when SIGTERM arrives: the sink
	// is a FIFO of 4 KiB that nobody reads until the signal has been sent,
	// so the writer is blocked and all but 4 KiB of the events are still
	// in the gateway.
	t.Run("SIGTERM with events queued", func(t *testing.T) {
		t.Parallel()
		fifo := filepath.Join(t.TempDir(), "audit.fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		pipeSize := fcntl(t, r, syscall.F_SETPIPE_SZ, 4096)
		g := startGatewayConfig(t, nil, anonSinkConfig(fifo, "  fsync: never\n"))
		sid := openSession(t, g.URL, 1, "e2e-audit-term-fifo", nil)
		const n = 40
		echoBurst(t, g.URL, sid, n)
		inPipe := pipePending(t, r)
		g.sigterm()
		lines := newLineBuf()
		pumped := make(chan struct{})
		go pump(r, lines, pumped)
		if err := g.stop(); err != nil {
			t.Fatalf("mcpgate did not exit with status 0 after SIGTERM: %v", err)
		}
		select {
		case <-pumped: // the gateway closed the FIFO
		case <-time.After(10 * time.Second):
			t.Fatal("the FIFO did not reach EOF within 10s of the gateway's exit")
		}
		data := lines.String() + "\n"
		events := parseAuditLog(t, "the FIFO", []byte(data))
		checkBurstEvents(t, events, n)
		t.Logf("pipe of %d bytes; at SIGTERM %d bytes were in it and %d still in the gateway", pipeSize, inPipe, len(data)-inPipe)
		if len(data) <= inPipe {
			t.Errorf("no event was still queued in the gateway at SIGTERM (%d bytes in the pipe, %d in all): the case tests nothing", inPipe, len(data))
		}
	})
}

// fcntl runs fcntl(f, cmd, arg) on f's descriptor and returns its result.
func fcntl(t *testing.T, f *os.File, cmd, arg int) int {
	t.Helper()
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var r uintptr
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		r, _, errno = syscall.Syscall(syscall.SYS_FCNTL, fd, uintptr(cmd), uintptr(arg))
	}); err != nil {
		t.Fatal(err)
	}
	if errno != 0 {
		t.Fatalf("fcntl(%d, %d): %v", cmd, arg, errno)
	}
	return int(r)
}

// pipePending returns how many bytes wait in the pipe f reads (FIONREAD).
func pipePending(t *testing.T, f *os.File) int {
	t.Helper()
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int32
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
	}); err != nil {
		t.Fatal(err)
	}
	if errno != 0 {
		t.Fatalf("ioctl(FIONREAD): %v", errno)
	}
	return int(n)
}

// failingSink runs the failing-sink scenario with failClosed on or off.
func failingSink(t *testing.T, failClosed bool) {
	fifo := filepath.Join(t.TempDir(), "audit.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	lines := newLineBuf()
	// openReader opens the FIFO's read end (non-blocking, so that it
	// needs no writer yet) and copies what arrives into lines.
	openReader := func() *os.File {
		f, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	startPump := func(f *os.File) chan struct{} {
		done := make(chan struct{})
		go pump(f, lines, done)
		return done
	}
	waitEvent := func(what string, match func(auditEvent) bool) auditEvent {
		t.Helper()
		var found auditEvent
		if _, ok := lines.waitFor(10*time.Second, func(l string) bool {
			es := parseAuditLog(t, "the FIFO", []byte(l+"\n"))
			if len(es) == 1 && match(es[0]) {
				found = es[0]
				return true
			}
			return false
		}); !ok {
			t.Fatalf("no audit event for %s within 10s; read so far:\n%s", what, lines.String())
		}
		return found
	}
	byID := func(id string) func(auditEvent) bool {
		return func(e auditEvent) bool { return fmt.Sprint(e.get("mcp.id")) == id }
	}

	r1 := openReader() // before the gateway: opening the write end waits for a reader
	// fsync never: fsync of a FIFO fails (EINVAL), which is not the
	// failure under test.
	extra := fmt.Sprintf("  failClosed: %v\n  fsync: never\n", failClosed)
	// API keys: a refusal comes after authentication and names the caller.
	iss := testidp.New(t)
	iss.Publish(testidp.NewKey(t, "k1", jose.RS256))
	bot := newAPIKey(t, "fifo-bot")
	key := map[string]string{"X-API-Key": bot.Key}
	g := startGatewayConfig(t, nil, oidcAPIKeyConfig(t, iss, []apiKey{bot}, fmt.Sprintf("audit:\n  enabled: true\n  sink: %q\n%s", fifo, extra)))
	pumped := startPump(r1)
	// Ready once the issuer's keys are fetched.
	g.waitAuditReady(t, "ready", func(s int, _ auditHealth) bool { return s == http.StatusOK })
	sid := openSession(t, g.URL, 1, "e2e-audit-fifo", key)
	callEcho(t, g.URL, sid, "2", key)
	waitEvent("echo 2", byID("2"))
	if status, h := g.auditReadyz(t); status != http.StatusOK || !h.Healthy || h.FailClosed != failClosed || h.Errors != 0 || h.Lost != 0 {
		t.Fatalf("/readyz before the failure: status %d, audit %+v", status, h)
	}

	// The sink fails: nobody reads the FIFO any more.
	r1.Close()
	select {
	case <-pumped:
	case <-time.After(10 * time.Second):
		t.Fatal("reading the FIFO did not stop within 10s of closing it")
	}
	// This request was admitted while the sink was healthy; writing its
	// event is what fails.
	callEcho(t, g.URL, sid, "3", key)
	status, h := g.waitAuditReady(t, "audit unhealthy", func(_ int, h auditHealth) bool { return !h.Healthy })
	if h.Errors < 1 || h.Lost != 1 || !strings.Contains(h.Error, "broken pipe") {
		t.Errorf("/readyz after a failed write: audit %+v, want errors ≥ 1, lost 1, a broken pipe", h)
	}
	if _, ok := g.Log.waitFor(10*time.Second, func(l string) bool {
		return strings.Contains(l, `"msg":"audit sink failing"`) && strings.Contains(l, "errors_total")
	}); !ok {
		t.Errorf("the gateway did not log the sink failure")
	}

	if failClosed {
		if status != http.StatusServiceUnavailable {
			t.Errorf("/readyz status %d while the sink fails with failClosed, want 503", status)
		}
		// Refused before routing: 503, Retry-After, a JSON-RPC error.
		r := postMCP(t, g.URL, sid, echoBody("4", "refused"), key)
		code, msg, isErr := r.rpcError()
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "1" || !isErr || code != -32000 ||
			!strings.Contains(msg, "audit log unavailable") || fmt.Sprint(r.msg["id"]) != "4" {
			t.Errorf("tools/call while the sink fails: status %d, Retry-After %q, body %s; want 503, 1, a JSON-RPC error -32000 for id 4",
				r.status, r.header.Get("Retry-After"), r.body)
		}
		if e := g.waitRequest(t, "the refused call", func(e logEntry) bool { return e.str("jsonrpc.id") == "4" }); e != nil &&
			(e.status() != http.StatusServiceUnavailable || e.str("reason") != "audit_unavailable") {
			t.Errorf("request log line of the refused call: status %d reason %q, want 503 audit_unavailable", e.status(), e.str("reason"))
		}

		// Recovery: a reader again. The next refusal's event is written,
		// which clears the failure; then requests are served again.
		startPump(openReader())
		if r := postMCP(t, g.URL, sid, echoBody("5", "refused"), key); r.status != http.StatusServiceUnavailable {
			t.Errorf("tools/call 5: status %d, want 503 (the sink has not been written to since it failed)", r.status)
		}
		e := waitEvent("the refused call 5", byID("5"))
		p, _ := e.get("principal").(map[string]any)
		if e.str("event") != "rejected" || e.str("outcome") != "failure" || e.str("error.type") != "audit_unavailable" ||
			e.str("mcp.tool") != "echo" || e.get("http.status") != float64(503) || e.has("backend") ||
			!maps.Equal(p, map[string]any{"subject": "fifo-bot", "issuer": "urn:mcpgate:apikey", "method": "apiKey"}) {
			t.Errorf("the refusal's event: %s\nwant rejected, failure, audit_unavailable, tools/call echo, 503, no backend, the principal fifo-bot", e.line)
		}
		_, h = g.waitAuditReady(t, "healthy again", func(s int, h auditHealth) bool { return s == http.StatusOK && h.Healthy })
		if h.Lost != 2 || h.Dropped != 0 {
			t.Errorf("/readyz after recovery: audit %+v, want lost 2 (calls 3 and 4), dropped 0", h)
		}
		callEcho(t, g.URL, sid, "6", key)
		waitEvent("echo 6", byID("6"))
		if err := g.stop(); err != nil {
			t.Errorf("mcpgate did not exit cleanly: %v", err)
		}
		return
	}

	// failClosed false: still served, the failure counted.
	if status != http.StatusOK {
		t.Errorf("/readyz status %d while the sink fails without failClosed, want 200", status)
	}
	callEcho(t, g.URL, sid, "4", key)
	_, h = g.waitAuditReady(t, "the second loss counted", func(s int, h auditHealth) bool { return h.Lost >= 2 })
	if h.Healthy || h.Errors < 2 || h.Lost != 2 || h.Dropped != 0 {
		t.Errorf("/readyz after two failed writes: audit %+v, want unhealthy, errors ≥ 2, lost 2, dropped 0", h)
	}
	if e := g.waitRequest(t, "echo 4", func(e logEntry) bool { return e.str("jsonrpc.id") == "4" }); e != nil && e.status() != http.StatusOK {
		t.Errorf("echo 4 logged with status %d, want 200", e.status())
	}
	// A reader again: the next write succeeds and clears the failure.
	startPump(openReader())
	callEcho(t, g.URL, sid, "5", key)
	waitEvent("echo 5", byID("5"))
	g.waitAuditReady(t, "healthy again", func(s int, h auditHealth) bool { return s == http.StatusOK && h.Healthy })
	if err := g.stop(); err != nil {
		t.Errorf("mcpgate did not exit cleanly: %v", err)
	}
}
