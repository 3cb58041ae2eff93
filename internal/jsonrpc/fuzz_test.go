package jsonrpc

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"
)

func fuzzSeeds(f *testing.F) {
	for _, tc := range validCases {
		if len(tc.body) < 4096 {
			f.Add([]byte(tc.body))
		}
	}
	for _, tc := range invalidCases {
		if len(tc.body) < 4096 {
			f.Add([]byte(tc.body))
		}
	}
	f.Add([]byte(toolsCall))
	f.Add([]byte(initialize))
}

func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Parse(data, Limits{})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error is %T, not *Error", err)
			}
			switch e.Code {
			case CodeParseError:
			case CodeInvalidRequest:
				// Shape errors are only reported for strict, hence valid, JSON.
				if !json.Valid(data) {
					t.Fatalf("-32600 (%s) for invalid JSON %q", e.Message, data)
				}
			default:
				t.Fatalf("unexpected code %d", e.Code)
			}
			if len(e.Message) > 200 {
				t.Fatalf("message too long: %q", e.Message)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted what encoding/json rejects: %q", data)
		}
		checkSpans(t, data, &b)
		for i := range b.Messages {
			m := &b.Messages[i]
			crossCheck(t, m.Object.Bytes(data), m, data)
		}
	})
}

func FuzzRewrite(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Parse(data, Limits{})
		if err != nil {
			return
		}
		kv := []MetaKV{
			{Key: "traceparent", Value: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
			{Key: "tracestate", Value: "gw=1"},
			{Key: "x-gw", Value: string(data[:min(len(data), 8)])},
		}
		if !b.Batch {
			m := &b.Messages[0]
			edits := m.AppendSetMetaEdits(nil, data, kv...)
			edits = m.AppendReplaceIDEdits(edits, []byte(`"g-1"`))
			edits = m.AppendReplaceNameEdits(edits, "renamed\u00e9")
			checkRewrite(t, data, m, edits, kv, `"g-1"`, "renamed\u00e9")
			return
		}
		var edits []Edit
		for i := range b.Messages {
			m := &b.Messages[i]
			edits = m.AppendSetMetaEdits(edits, data, kv[:2]...)
			edits = m.AppendReplaceIDEdits(edits, []byte(strconv.Itoa(1000+i)))
		}
		SortEdits(edits)
		out, err := Splice(nil, data, edits)
		if err != nil {
			t.Fatal(err)
		}
		nb, err := Parse(out, Limits{MaxDepth: 1 << 20})
		if err != nil {
			t.Fatalf("rewritten batch does not parse: %v\n%s", err, out)
		}
		if len(nb.Messages) != len(b.Messages) {
			t.Fatalf("batch length changed")
		}
		for i := range nb.Messages {
			n, m := &nb.Messages[i], &b.Messages[i]
			if n.Kind != m.Kind || n.Method != m.Method {
				t.Fatalf("message %d changed kind/method", i)
			}
			if m.ID.Present() && string(n.ID.Bytes(out)) != strconv.Itoa(1000+i) {
				t.Fatalf("message %d id = %s", i, n.ID.Bytes(out))
			}
			if (m.Kind == KindRequest || m.Kind == KindNotification) && (n.Traceparent != kv[0].Value || n.Tracestate != kv[1].Value) {
				t.Fatalf("message %d trace context not set: %s", i, out)
			}
		}
	})
}
