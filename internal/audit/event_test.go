package audit

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
)

func fullEvent() *Event {
	code := int64(-32602)
	return &Event{
		Time:       time.Date(2026, 3, 1, 12, 0, 0, 5, time.FixedZone("CET", 3600)),
		Event:      KindToolCall,
		Outcome:    OutcomeError,
		Principal:  &Principal{Subject: "alice", Issuer: "https://idp.example.com", Method: "oidc"},
		Client:     Client{Address: "192.0.2.1", Name: "claude \"code\"", Version: "1.0"},
		MCP:        MCP{Method: "tools/call", ID: `"a-1"`, Tool: "search", ProtocolVersion: "2025-06-18", SessionRef: "0123456789abcdef"},
		Backend:    "search",
		Authz:      &Authz{Decision: "shadow_deny", Mode: "shadow", Policies: []string{"no-prod-drop", "p.cedar:3"}, ItemsDenied: 2},
		HTTP:       HTTP{Method: "POST", Status: 200},
		DurationMs: 12.345,
		Error:      &Error{Code: &code, Message: "bad\nparams", Type: "-32602"},
		RateLimit:  RateLimit{Decision: "allowed", Rule: "per-user"},
		TraceID:    trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:     trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
		Request:    json.RawMessage(`{"jsonrpc":"2.0","id":"a-1","method":"tools/call"}`),
		Response:   json.RawMessage(`"[not captured]"`),
	}
}

// TestAppendJSONMatchesEncodingJSON pins the hand-written encoder to the
// struct's json tags: both must give the same document.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	type plain Event // without the MarshalJSON method
	tests := []struct {
		name string
		e    *Event
	}{
		{"every member", fullEvent()},
		{"minimal", &Event{Time: time.Unix(0, 0), Event: KindStream, Outcome: OutcomeSuccess, HTTP: HTTP{Method: "GET", Status: 200}}},
		{"numeric id, hashed principal", &Event{Time: time.Unix(1, 0), Event: KindPromptGet, Outcome: OutcomeSuccess,
			Principal: &Principal{Hash: "00ff", KeyID: "k1", Method: "apiKey"}, MCP: MCP{Method: "prompts/get", ID: "7", Prompt: "p"},
			HTTP: HTTP{Method: "POST", Status: 200}}},
		{"rejected summary", &Event{Time: time.Unix(2, 123456789), Event: KindRejectedSummary, Outcome: OutcomeDenied,
			HTTP: HTTP{Method: "POST", Status: 401}, Error: &Error{Type: "unauthenticated"}, Folded: 995,
			Since: time.Unix(1, 123456789).UTC()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := tt.e.AppendJSON(nil)
			if n := strings.Count(string(line), "\n"); n != 1 || line[len(line)-1] != '\n' {
				t.Fatalf("not one line: %q", line)
			}
			std, err := json.Marshal((*plain)(tt.e))
			if err != nil {
				t.Fatal(err)
			}
			var got, want map[string]any
			if err := json.Unmarshal(line, &got); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
			if err := json.Unmarshal(std, &want); err != nil {
				t.Fatal(err)
			}
			// encoding/json trims the fraction's zeros; compare instants.
			gt, _ := time.Parse(time.RFC3339Nano, got["time"].(string))
			wt, _ := time.Parse(time.RFC3339Nano, want["time"].(string))
			if !gt.Equal(wt) {
				t.Errorf("time %v, want %v", got["time"], want["time"])
			}
			delete(got, "time")
			delete(want, "time")
			if !reflect.DeepEqual(got, want) {
				t.Errorf("AppendJSON:\n%s\nencoding/json:\n%s", line, std)
			}
			parseLines(t, string(line))
		})
	}
}

func TestTimeFormat(t *testing.T) {
	e := fullEvent()
	line := string(e.AppendJSON(nil))
	if want := `{"time":"2026-03-01T11:00:00.000000005Z",`; !strings.HasPrefix(line, want) {
		t.Errorf("line %s\nwant prefix %s", line, want)
	}
}

func TestIDs(t *testing.T) {
	tests := []struct{ id, want string }{
		{`7`, `7`},
		{`-1.5e3`, `-1.5e3`},
		{`"abc"`, `"abc"`},
		{`"\u00e9"`, `"\u00e9"`},
		{`abc`, `"abc"`},           // not JSON: quoted
		{`"open`, `"\"open"`},      // unterminated: quoted
		{`1,"x":2`, `"1,\"x\":2"`}, // an injection attempt stays a string
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			e := &Event{Event: KindOtherRequest, Outcome: OutcomeSuccess, MCP: MCP{ID: RawID(tt.id)}, HTTP: HTTP{Method: "POST", Status: 200}}
			line := string(e.AppendJSON(nil))
			if !strings.Contains(line, `"mcp":{"id":`+tt.want+`}`) {
				t.Errorf("line %s, want id %s", line, tt.want)
			}
			parseLines(t, line)
		})
	}
}

// TestSchemaRejectsBrokenEvents checks that the schema is not vacuous.
func TestSchemaRejectsBrokenEvents(t *testing.T) {
	valid := string(fullEvent().AppendJSON(nil))
	tests := []struct{ name, from, to string }{
		{"unknown event", `"event":"tool_call"`, `"event":"tool_cal"`},
		{"unknown outcome", `"outcome":"error"`, `"outcome":"ok"`},
		{"extra member", `"backend":"search"`, `"backend":"search","token":"x"`},
		{"raw and hashed principal", `"method":"oidc"`, `"method":"oidc","hash":"00","keyId":"k1"`},
		{"short trace id", `"traceId":"0102`, `"traceId":"02`},
		{"time not UTC", `00.000000005Z"`, `00.000000005+01:00"`},
		{"failure without error", `,"error":{"code":-32602,"message":"bad\nparams","type":"-32602"}`, ``},
		{"success with error", `"outcome":"error"`, `"outcome":"success"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			broken := strings.Replace(valid, tt.from, tt.to, 1)
			if broken == valid {
				t.Fatalf("%q not found in %s", tt.from, valid)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(broken), &m); err != nil {
				t.Fatal(err)
			}
			if err := eventSchema(t).Validate(m); err == nil {
				t.Errorf("schema accepted %s", broken)
			}
		})
	}
}
