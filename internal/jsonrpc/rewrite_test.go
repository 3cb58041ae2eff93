package jsonrpc

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
)

// membersOf returns the members of the object at sp as name → raw value.
func membersOf(t testing.TB, body []byte, sp Span) map[string]string {
	t.Helper()
	out := map[string]string{}
	if !sp.Present() {
		return out
	}
	var s scanner
	s.init(body[:sp.End], 1<<20)
	s.pos = sp.Start
	if !s.openObject() {
		t.Fatalf("not an object: %q", sp.Bytes(body))
	}
	for {
		name, ok := s.member()
		if !ok {
			break
		}
		n := string(name)
		vs := s.pos
		s.value()
		out[n] = string(body[vs:s.pos])
	}
	if s.err != nil {
		t.Fatalf("membersOf: %v", s.err)
	}
	return out
}

// checkRewrite splices edits into body (message 0) and verifies the
// invariants: the result is strict and encoding/json-valid, the message reads
// back with the new values, and every other member is byte-identical.
func checkRewrite(t testing.TB, src []byte, m *Message, edits []Edit, kv []MetaKV, newID, newName string) []byte {
	t.Helper()
	SortEdits(edits)
	out, err := Splice(nil, src, edits)
	if err != nil {
		t.Fatalf("Splice: %v", err)
	}
	if !json.Valid(out) {
		t.Fatalf("result is not valid JSON: %s", out)
	}
	b, err := Parse(out, Limits{MaxDepth: 1 << 20})
	if err != nil {
		t.Fatalf("result does not re-parse: %v\n%s", err, out)
	}
	n := &b.Messages[0]
	if n.Kind != m.Kind || n.Method != m.Method {
		t.Fatalf("kind/method changed: %v %q → %v %q", m.Kind, m.Method, n.Kind, n.Method)
	}
	wantID := string(m.ID.Bytes(src))
	if newID != "" && m.ID.Present() {
		wantID = newID
	}
	if got := string(n.ID.Bytes(out)); got != wantID {
		t.Errorf("id = %s, want %s", got, wantID)
	}
	wantName := m.Name
	if newName != "" && m.NameValue.Present() {
		wantName = newName
	}
	if n.Name != wantName {
		t.Errorf("name = %q, want %q", n.Name, wantName)
	}

	// Top-level members other than id and params are untouched.
	oldTop, newTop := membersOf(t, src, m.Object), membersOf(t, out, n.Object)
	setMeta := len(kv) > 0 && (m.Kind == KindRequest || m.Kind == KindNotification)
	for k, v := range oldTop {
		if k == "id" && newID != "" || strings.EqualFold(k, "params") && setMeta || k == "params" && newName != "" {
			continue
		}
		if newTop[k] != v {
			t.Errorf("member %q changed: %s → %s", k, v, newTop[k])
		}
	}
	// Params members other than _meta and name are untouched.
	oldP, newP := membersOf(t, src, m.Params), membersOf(t, out, n.Params)
	for k, v := range oldP {
		if strings.EqualFold(k, "_meta") && setMeta || k == "name" && newName != "" {
			continue
		}
		if newP[k] != v {
			t.Errorf("params member %q changed: %s → %s", k, v, newP[k])
		}
	}
	if !setMeta {
		return out
	}
	// _meta holds the new values and keeps the others.
	newMeta := membersOf(t, out, n.Meta)
	want := map[string]string{}
	if m.Meta.Present() {
		maps.Copy(want, membersOf(t, src, m.Meta))
	}
	for _, p := range kv { // later keys override earlier ones, ignoring case
		maps.DeleteFunc(want, func(k, _ string) bool { return strings.EqualFold(k, p.Key) })
		want[p.Key] = string(AppendQuote(nil, p.Value))
	}
	if !maps.Equal(newMeta, want) {
		t.Errorf("_meta = %v, want %v\n%s", newMeta, want, out)
	}
	for _, p := range kv {
		switch p.Key {
		case "traceparent":
			if n.Traceparent != strings.ToValidUTF8(p.Value, "\uFFFD") {
				t.Errorf("Traceparent = %q, want %q", n.Traceparent, p.Value)
			}
		case "tracestate":
			if n.Tracestate != strings.ToValidUTF8(p.Value, "\uFFFD") {
				t.Errorf("Tracestate = %q, want %q", n.Tracestate, p.Value)
			}
		}
	}
	return out
}

var trace = []MetaKV{
	{Key: "traceparent", Value: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
	{Key: "tracestate", Value: "gw=1"},
}

func TestAppendSetMetaEdits(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		kv   []MetaKV
		want string // exact result, when given
	}{
		{
			name: "no params",
			body: `{"jsonrpc":"2.0","id":1,"method":"ping"}`,
			kv:   trace[:1],
			want: `{"params":{"_meta":{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}},"jsonrpc":"2.0","id":1,"method":"ping"}`,
		},
		{
			name: "empty params",
			body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}`,
			kv:   []MetaKV{{Key: "k", Value: "v"}},
			want: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"k":"v"}}}`,
		},
		{
			name: "empty params with space",
			body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{ }}`,
			kv:   []MetaKV{{Key: "k", Value: "v"}},
			want: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"k":"v"} }}`,
		},
		{
			name: "params without _meta",
			body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"a":1}}}`,
			kv:   trace,
			want: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","tracestate":"gw=1"},"name":"t","arguments":{"a":1}}}`,
		},
		{
			name: "empty _meta",
			body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{}}}`,
			kv:   []MetaKV{{Key: "a", Value: "b"}},
			want: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"a":"b"}}}`,
		},
		{
			name: "_meta with existing traceparent",
			body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"progressToken":7,"traceparent":"old"},"name":"t"}}`,
			kv:   trace,
			want: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"tracestate":"gw=1","progressToken":7,"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},"name":"t"}}`,
		},
		{
			name: "_meta with both, replaced in place",
			body: `{"jsonrpc":"2.0","method":"notifications/progress","params":{"_meta":{"tracestate":"x=1", "traceparent" : "old"},"progress":1}}`,
			kv:   trace,
			want: `{"jsonrpc":"2.0","method":"notifications/progress","params":{"_meta":{"tracestate":"gw=1", "traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},"progress":1}}`,
		},
		{
			name: "case variant in _meta is replaced whole",
			body: `{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{"TraceParent":"old","other":true}}}`,
			kv:   trace[:1],
			want: `{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","other":true}}}`,
		},
		{
			name: "other existing key replaced",
			body: `{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{"progressToken":5}}}`,
			kv:   []MetaKV{{Key: "progressToken", Value: "p"}},
			want: `{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{"progressToken":"p"}}}`,
		},
		{
			name: "non-object _meta replaced",
			body: `{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":1,"_meta":null,"b":2}}`,
			kv:   []MetaKV{{Key: "k", Value: "v"}},
			want: `{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":1,"_meta":{"k":"v"},"b":2}}`,
		},
		{
			name: "case-variant Params member replaced",
			body: `{"jsonrpc":"2.0","id":1,"method":"x","Params":[1]}`,
			kv:   []MetaKV{{Key: "k", Value: "v"}},
			want: `{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{"k":"v"}}}`,
		},
		{
			name: "whitespace-heavy",
			body: "{ \"jsonrpc\" : \"2.0\" ,\n \"id\" : 1 ,\n \"method\" : \"tools/call\" ,\n \"params\" : {\n \"_meta\" : { \"traceparent\" : \"a\" } ,\n \"name\" : \"t\" }\n}\n",
			kv:   trace,
		},
		{
			name: "unicode and escapes in values",
			body: `{"jsonrpc":"2.0","id":"é","method":"tools/call","params":{"name":"caf\u00e9"}}`,
			kv:   []MetaKV{{Key: "clé \"q\"", Value: "v\n\x01é\xff"}},
		},
		{
			name: "duplicate keys in kv: last wins",
			body: `{"jsonrpc":"2.0","id":1,"method":"x","params":{}}`,
			kv:   []MetaKV{{Key: "k", Value: "1"}, {Key: "K", Value: "2"}},
			want: `{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{"K":"2"}}}`,
		},
		{
			name: "response is left alone",
			body: `{"jsonrpc":"2.0","id":1,"result":{}}`,
			kv:   trace,
			want: `{"jsonrpc":"2.0","id":1,"result":{}}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, src := mustParse(t, tc.body)
			m := &b.Messages[0]
			edits := m.AppendSetMetaEdits(nil, src, tc.kv...)
			out := checkRewrite(t, src, m, edits, tc.kv, "", "")
			if tc.want != "" && string(out) != tc.want {
				t.Errorf("got  %s\nwant %s", out, tc.want)
			}
		})
	}
}

func TestAppendReplaceIDEdits(t *testing.T) {
	for _, tc := range []struct {
		name, body, newID, want string
	}{
		{"numeric to string", `{"jsonrpc":"2.0","id":17,"method":"ping"}`, `"g-17"`, `{"jsonrpc":"2.0","id":"g-17","method":"ping"}`},
		{"string to numeric", `{"jsonrpc":"2.0","id":"abc","method":"ping"}`, `9`, `{"jsonrpc":"2.0","id":9,"method":"ping"}`},
		{"whitespace", `{ "id" : "abc" , "jsonrpc":"2.0","method":"ping"}`, `9`, `{ "id" : 9 , "jsonrpc":"2.0","method":"ping"}`},
		{"result", `{"jsonrpc":"2.0","id":9,"result":{"x":1}}`, `"c-3"`, `{"jsonrpc":"2.0","id":"c-3","result":{"x":1}}`},
		{"notification untouched", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, `1`, `{"jsonrpc":"2.0","method":"notifications/initialized"}`},
		{"null id untouched", `{"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"m"}}`, `1`, `{"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"m"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, src := mustParse(t, tc.body)
			m := &b.Messages[0]
			out := checkRewrite(t, src, m, m.AppendReplaceIDEdits(nil, []byte(tc.newID)), nil, tc.newID, "")
			if string(out) != tc.want {
				t.Errorf("got  %s\nwant %s", out, tc.want)
			}
		})
	}
}

func TestAppendReplaceNameEdits(t *testing.T) {
	for _, tc := range []struct {
		name, body, newName, want string
	}{
		{"plain", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"srv__search","arguments":{}}}`, "search",
			`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","arguments":{}}}`},
		{"unicode", `{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"caf\u00e9"}}`, "thé \"vert\"",
			`{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"thé \"vert\""}}`},
		{"no name", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, "x", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, src := mustParse(t, tc.body)
			m := &b.Messages[0]
			out := checkRewrite(t, src, m, m.AppendReplaceNameEdits(nil, tc.newName), nil, "", tc.newName)
			if string(out) != tc.want {
				t.Errorf("got  %s\nwant %s", out, tc.want)
			}
		})
	}
}

func TestCombinedEditsOnValidCorpus(t *testing.T) {
	for _, tc := range validCases {
		t.Run(tc.name, func(t *testing.T) {
			b, src := mustParse(t, tc.body)
			if b.Batch {
				return
			}
			m := &b.Messages[0]
			edits := m.AppendSetMetaEdits(nil, src, trace...)
			edits = m.AppendReplaceIDEdits(edits, []byte(`"gw-1"`))
			edits = m.AppendReplaceNameEdits(edits, "renamed")
			checkRewrite(t, src, m, edits, trace, `"gw-1"`, "renamed")
		})
	}
}

func TestBatchRewrite(t *testing.T) {
	src := []byte(`[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"a"}}]`)
	b, err := Parse(src, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var edits []Edit
	for i := range b.Messages {
		m := &b.Messages[i]
		edits = m.AppendReplaceIDEdits(edits, []byte(`"g"`))
		edits = m.AppendSetMetaEdits(edits, src, MetaKV{Key: "traceparent", Value: "tp"})
	}
	SortEdits(edits)
	out, err := Splice(nil, src, edits)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"params":{"_meta":{"traceparent":"tp"}},"jsonrpc":"2.0","id":"g","method":"tools/list"},{"jsonrpc":"2.0","id":"g","method":"tools/call","params":{"_meta":{"traceparent":"tp"},"name":"a"}}]`
	if string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
}

func TestSplice(t *testing.T) {
	src := []byte("0123456789")
	for _, tc := range []struct {
		name  string
		edits []Edit
		want  string
		ok    bool
	}{
		{"none", nil, "0123456789", true},
		{"replace", []Edit{{Span{2, 4}, []byte("ab")}}, "01ab456789", true},
		{"insert", []Edit{{Span{0, 0}, []byte("x")}, {Span{10, 10}, []byte("y")}}, "x0123456789y", true},
		{"delete", []Edit{{Span{1, 9}, nil}}, "09", true},
		{"adjacent", []Edit{{Span{1, 3}, []byte("a")}, {Span{3, 3}, []byte("b")}, {Span{3, 3}, []byte("c")}, {Span{3, 5}, []byte("d")}}, "0abcd56789", true},
		{"overlap", []Edit{{Span{1, 4}, nil}, {Span{3, 5}, nil}}, "", false},
		{"unsorted", []Edit{{Span{5, 6}, nil}, {Span{1, 2}, nil}}, "", false},
		{"out of range", []Edit{{Span{5, 11}, nil}}, "", false},
		{"negative", []Edit{{Span{-1, 2}, nil}}, "", false},
		{"inverted", []Edit{{Span{4, 3}, nil}}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Splice([]byte("pre:"), src, tc.edits)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			want := "pre:" + tc.want
			if !tc.ok {
				want = "pre:"
			}
			if string(out) != want {
				t.Errorf("got %q, want %q", out, want)
			}
		})
	}
}

func TestBodySetMeta(t *testing.T) {
	raw := []byte(`[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized","params":{"_meta":{"x":1}}}]`)
	var b Body
	if err := b.Parse(raw, Limits{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		kv   func(i int) []MetaKV
		want []string // traceparent read back per message, "" for none
	}{
		{"nothing to set returns the body itself", func(int) []MetaKV { return nil }, []string{"", ""}},
		{"second message only", func(i int) []MetaKV {
			if i == 1 {
				return []MetaKV{{Key: "traceparent", Value: "00-b"}}
			}
			return nil
		}, []string{"", "00-b"}},
		{"both", func(i int) []MetaKV { return []MetaKV{{Key: "traceparent", Value: "00-" + string(rune('a'+i))}} }, []string{"00-a", "00-b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := b.SetMeta(raw, tt.kv)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want[0] == "" && tt.want[1] == "" && &out[0] != &raw[0] {
				t.Fatal("a body with nothing to set was copied")
			}
			var got Body
			if err := got.Parse(out, Limits{}); err != nil {
				t.Fatalf("result does not parse: %v: %s", err, out)
			}
			for i, w := range tt.want {
				if got.Messages[i].Traceparent != w {
					t.Errorf("message %d traceparent %q, want %q", i, got.Messages[i].Traceparent, w)
				}
			}
		})
	}
}

// TestSetMetaAllocs: the relay's trace-context splice of one message costs
// the new member's bytes and the new body, each allocated once — the body
// sized exactly, not guessed and grown again when a new _meta outgrows the
// guess (as it did: four allocations for a tools/call without _meta).
func TestSetMetaAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	kv := []MetaKV{{Key: "traceparent", Value: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}
	for _, tc := range []struct{ name, body string }{
		{"replace", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","_meta":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}}`},
		{"new meta", `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}`},
		{"new params", `{"jsonrpc":"2.0","id":7,"method":"tools/list"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := []byte(tc.body)
			var body Body
			if err := body.Parse(src, Limits{}); err != nil {
				t.Fatal(err)
			}
			var out []byte
			n := testing.AllocsPerRun(100, func() {
				var err error
				if out, err = body.SetMeta(src, func(int) []MetaKV { return kv }); err != nil {
					t.Fatal(err)
				}
			})
			if n > 2 {
				t.Errorf("%v allocations, want <= 2", n)
			}
			if !strings.Contains(string(out), kv[0].Value) {
				t.Errorf("traceparent not spliced in: %s", out)
			}
		})
	}
}
