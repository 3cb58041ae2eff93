package jsonrpc

import (
	"encoding/json"
	"testing"
)

// view is what a test compares of a Message: decoded fields, and the raw
// bytes of the small spans.
type view struct {
	Kind          Kind
	Method        string
	ID            string
	IDNull        bool
	Name          string
	NameValue     string
	URI           string
	PV            string
	ClientName    string
	ClientVersion string
	MetaPV        string
	ProgressToken string
	Traceparent   string
	TPValue       string
	Tracestate    string
	TSValue       string
	IsError       bool
	ErrorCode     int64
	ErrorMessage  string
}

func viewOf(m *Message, body []byte) view {
	return view{
		Kind: m.Kind, Method: m.Method, ID: string(m.ID.Bytes(body)), IDNull: m.IDNull,
		Name: m.Name, NameValue: string(m.NameValue.Bytes(body)), URI: m.URI,
		PV: m.ProtocolVersion, ClientName: m.ClientName, ClientVersion: m.ClientVersion,
		MetaPV: m.MetaProtocolVersion, ProgressToken: string(m.ProgressToken.Bytes(body)),
		Traceparent: m.Traceparent, TPValue: string(m.TraceparentValue.Bytes(body)),
		Tracestate: m.Tracestate, TSValue: string(m.TracestateValue.Bytes(body)),
		IsError: m.IsError, ErrorCode: m.ErrorCode, ErrorMessage: m.ErrorMessage,
	}
}

// checkSpans asserts the structural invariants every accepted body meets.
func checkSpans(t testing.TB, body []byte, b *Body) {
	t.Helper()
	if !json.Valid(body) {
		t.Fatalf("accepted body that encoding/json rejects: %q", body)
	}
	if !b.Batch && len(b.Messages) != 1 {
		t.Fatalf("non-batch body with %d messages", len(b.Messages))
	}
	for i := range b.Messages {
		m := &b.Messages[i]
		if m.Kind == KindInvalid {
			t.Fatalf("message %d accepted with KindInvalid", i)
		}
		for _, sp := range []Span{m.Object, m.ID, m.Params, m.NameValue, m.Meta, m.ProgressToken, m.TraceparentValue, m.TracestateValue, m.Result} {
			if sp.Start < 0 || sp.End > len(body) || sp.Start > sp.End {
				t.Fatalf("message %d: span %v out of bounds (len %d)", i, sp, len(body))
			}
			if sp.Present() && (sp.Start < m.Object.Start || sp.End > m.Object.End) {
				t.Fatalf("message %d: span %v outside object %v", i, sp, m.Object)
			}
		}
		if c := body[m.Object.Start]; c != '{' || body[m.Object.End-1] != '}' {
			t.Fatalf("message %d: Object %q is not an object", i, m.Object.Bytes(body))
		}
		for _, sp := range []Span{m.Params, m.Meta} {
			if sp.Present() && (body[sp.Start] != '{' || body[sp.End-1] != '}' || !json.Valid(sp.Bytes(body))) {
				t.Fatalf("message %d: %q should be an object", i, sp.Bytes(body))
			}
		}
		for _, sp := range []Span{m.ID, m.Result, m.ProgressToken, m.NameValue, m.TraceparentValue, m.TracestateValue} {
			if sp.Present() && !json.Valid(sp.Bytes(body)) {
				t.Fatalf("message %d: span %q is not a JSON value", i, sp.Bytes(body))
			}
		}
		// Each message alone parses to the same thing.
		obj := m.Object.Bytes(body)
		alone, err := Parse(obj, Limits{MaxDepth: 1 << 20})
		if err != nil {
			t.Fatalf("message %d alone: %v (%q)", i, err, obj)
		}
		got, want := viewOf(&alone.Messages[0], obj), viewOf(m, body)
		if got != want {
			t.Fatalf("message %d alone parses differently:\n got %+v\nwant %+v", i, got, want)
		}
	}
}

func mustParse(t testing.TB, body string) (Body, []byte) {
	t.Helper()
	b, err := Parse([]byte(body), Limits{})
	if err != nil {
		t.Fatalf("Parse(%s): %v", body, err)
	}
	return b, []byte(body)
}
