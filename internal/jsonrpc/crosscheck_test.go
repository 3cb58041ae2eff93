package jsonrpc

import (
	"bytes"
	"encoding/json"
	"testing"
)

// crossCheck compares what Parse found in one message with what
// encoding/json decodes from the same bytes. Member names are looked up
// exactly (maps, not structs), which is where strict and encoding/json agree
// once case-insensitive duplicates are rejected.
func crossCheck(t testing.TB, obj []byte, m *Message, body []byte) {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(obj, &top); err != nil {
		t.Fatalf("encoding/json cannot decode an accepted message: %v\n%q", err, obj)
	}
	str := func(raw json.RawMessage) (string, bool) {
		var s string
		if raw == nil || json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	}
	if method, ok := str(top["method"]); ok != (m.Kind == KindRequest || m.Kind == KindNotification) || method != m.Method {
		t.Errorf("method: encoding/json %q (%v), Parse %q (%v)", method, ok, m.Method, m.Kind)
	}
	if id := top["id"]; m.ID.Present() {
		var a, b any
		d := json.NewDecoder(bytes.NewReader(id))
		d.UseNumber()
		_ = d.Decode(&a)
		d = json.NewDecoder(bytes.NewReader(m.ID.Bytes(body)))
		d.UseNumber()
		_ = d.Decode(&b)
		if a != b {
			t.Errorf("id: encoding/json %v, Parse %v", a, b)
		}
	} else if id != nil && string(id) != "null" {
		t.Errorf("id %s not recorded", id)
	}
	var params map[string]json.RawMessage
	if p := top["params"]; p != nil {
		if err := json.Unmarshal(p, &params); err != nil {
			t.Errorf("params: %v", err)
		}
	}
	if name, _ := str(params["name"]); name != m.Name {
		t.Errorf("params.name: encoding/json %q, Parse %q", name, m.Name)
	}
	if uri, _ := str(params["uri"]); uri != m.URI {
		t.Errorf("params.uri: encoding/json %q, Parse %q", uri, m.URI)
	}
	var meta map[string]json.RawMessage
	_ = json.Unmarshal(params["_meta"], &meta)
	if tp, _ := str(meta["traceparent"]); tp != m.Traceparent {
		t.Errorf("traceparent: encoding/json %q, Parse %q", tp, m.Traceparent)
	}
	if m.Kind == KindError {
		var e struct {
			Code    int64
			Message string
		}
		if err := json.Unmarshal(top["error"], &e); err != nil || e.Code != m.ErrorCode || e.Message != m.ErrorMessage {
			t.Errorf("error: encoding/json %+v (%v), Parse %d %q", e, err, m.ErrorCode, m.ErrorMessage)
		}
	}
}

func TestCrossCheckEncodingJSON(t *testing.T) {
	for _, tc := range validCases {
		t.Run(tc.name, func(t *testing.T) {
			b, body := mustParse(t, tc.body)
			for i := range b.Messages {
				m := &b.Messages[i]
				crossCheck(t, m.Object.Bytes(body), m, body)
			}
		})
	}
}
