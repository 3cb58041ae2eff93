package jsonrpc

import (
	"errors"
	"strings"
	"testing"
)

var validCases = []struct {
	name string
	body string
	want []view // one per message
}{
	{
		name: "initialize with clientInfo",
		body: `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"roots":{"listChanged":true},"sampling":{},"elicitation":{}},"clientInfo":{"name":"claude-ai","title":"Claude","version":"0.1.0"}}}`,
		want: []view{{Kind: KindRequest, Method: "initialize", ID: "1", PV: "2025-06-18", ClientName: "claude-ai", ClientVersion: "0.1.0"}},
	},
	{
		name: "initialize unknown protocol version",
		body: `{"jsonrpc":"2.0","id":"init-1","method":"initialize","params":{"protocolVersion":"2099-01-01","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`,
		want: []view{{Kind: KindRequest, Method: "initialize", ID: `"init-1"`, PV: "2099-01-01", ClientName: "x", ClientVersion: "1"}},
	},
	{
		name: "initialized notification",
		body: `{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		want: []view{{Kind: KindNotification, Method: "notifications/initialized"}},
	},
	{
		name: "tools/call with traceparent and progressToken",
		body: `{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"_meta":{"progressToken":"tok-1","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","tracestate":"vendor=1","io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"get_weather","arguments":{"location":"New York","units":"metric"}}}`,
		want: []view{{Kind: KindRequest, Method: "tools/call", ID: "42", Name: "get_weather", NameValue: `"get_weather"`,
			MetaPV: "2026-07-28", ProgressToken: `"tok-1"`,
			Traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", TPValue: `"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"`,
			Tracestate: "vendor=1", TSValue: `"vendor=1"`}},
	},
	{
		name: "numeric progressToken",
		body: `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"long","_meta":{"progressToken":17}}}`,
		want: []view{{Kind: KindRequest, Method: "tools/call", ID: "3", Name: "long", NameValue: `"long"`, ProgressToken: "17"}},
	},
	{
		name: "wrongly typed optional members are not recorded",
		body: `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":5,"uri":null,"protocolVersion":1,"clientInfo":"x","_meta":{"progressToken":{},"traceparent":1,"tracestate":[]}}}`,
		want: []view{{Kind: KindRequest, Method: "tools/call", ID: "3"}},
	},
	{
		name: "_meta not an object",
		body: `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"n","_meta":[1]}}`,
		want: []view{{Kind: KindRequest, Method: "tools/call", ID: "3", Name: "n", NameValue: `"n"`}},
	},
	{
		name: "resources/read",
		body: `{"jsonrpc":"2.0","id":"r-9","method":"resources/read","params":{"uri":"file:///project/src/main.rs"}}`,
		want: []view{{Kind: KindRequest, Method: "resources/read", ID: `"r-9"`, URI: "file:///project/src/main.rs"}},
	},
	{
		name: "prompts/get",
		body: `{"jsonrpc":"2.0","id":2,"method":"prompts/get","params":{"name":"code_review","arguments":{"code":"def hello():\n    print('world')"}}}`,
		want: []view{{Kind: KindRequest, Method: "prompts/get", ID: "2", Name: "code_review", NameValue: `"code_review"`}},
	},
	{
		name: "unknown method and escapes",
		body: `{"jsonrpc":"2.0","id":-0,"method":"x\/custom\u00e9","params":{"name":"caf\u00e9 \ud83d\ude00","uri":"a\"b"}}`,
		want: []view{{Kind: KindRequest, Method: "x/customé", ID: "-0", Name: "café 😀", NameValue: `"caf\u00e9 \ud83d\ude00"`, URI: `a"b`}},
	},
	{
		name: "escaped member names count",
		body: `{"jsonrpc":"2.0","i\u0064":5,"m\u0065thod":"tools/\u006cist"}`,
		want: []view{{Kind: KindRequest, Method: "tools/list", ID: "5"}},
	},
	{
		name: "ping without params, large id",
		body: `{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"ping"}`,
		want: []view{{Kind: KindRequest, Method: "ping", ID: "123456789012345678901234567890"}},
	},
	{
		name: "empty params and unknown members",
		body: `{"jsonrpc":"2.0","id":0,"method":"tools/list","params":{},"x-extra":[1,{"a":null}]}`,
		want: []view{{Kind: KindRequest, Method: "tools/list", ID: "0"}},
	},
	{
		name: "whitespace everywhere",
		body: " \r\n\t{ \"jsonrpc\" : \"2.0\" ,\n \"id\" : 1 , \"method\" : \"tools/call\" , \"params\" : { \"name\" : \"t\" , \"_meta\" : { } } } \n",
		want: []view{{Kind: KindRequest, Method: "tools/call", ID: "1", Name: "t", NameValue: `"t"`}},
	},
	{
		name: "cancelled notification",
		body: `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"123","reason":"User requested cancellation"}}`,
		want: []view{{Kind: KindNotification, Method: "notifications/cancelled"}},
	},
	{
		name: "progress notification",
		body: `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"abc123","progress":50,"total":100,"message":"Reticulating splines..."}}`,
		want: []view{{Kind: KindNotification, Method: "notifications/progress"}},
	},
	{
		name: "tool result",
		body: `{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"Current weather in New York:\nTemperature: 72°F"}],"isError":false}}`,
		want: []view{{Kind: KindResult, ID: "2"}},
	},
	{
		name: "tool result isError true",
		body: `{"jsonrpc":"2.0","id":"a","result":{"content":[{"type":"text","text":"Failed to fetch weather data: API rate limit exceeded"}],"isError":true}}`,
		want: []view{{Kind: KindResult, ID: `"a"`, IsError: true}},
	},
	{
		name: "nested isError does not count",
		body: `{"jsonrpc":"2.0","id":1,"result":{"structuredContent":{"isError":true}}}`,
		want: []view{{Kind: KindResult, ID: "1"}},
	},
	{
		name: "result not an object",
		body: `{"jsonrpc":"2.0","id":1,"result":null}`,
		want: []view{{Kind: KindResult, ID: "1"}},
	},
	{
		name: "error response",
		body: `{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"Unknown tool: invalid_tool_name","data":{"x":1}}}`,
		want: []view{{Kind: KindError, ID: "3", ErrorCode: -32602, ErrorMessage: "Unknown tool: invalid_tool_name"}},
	},
	{
		name: "error response with null id",
		body: `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`,
		want: []view{{Kind: KindError, IDNull: true, ErrorCode: -32700, ErrorMessage: "Parse error"}},
	},
	{
		name: "batch",
		body: `[{"jsonrpc":"2.0","id":1,"method":"tools/list"} , {"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":9,"result":{}}]`,
		want: []view{
			{Kind: KindRequest, Method: "tools/list", ID: "1"},
			{Kind: KindNotification, Method: "notifications/initialized"},
			{Kind: KindResult, ID: "9"},
		},
	},
	{
		name: "batch of one",
		body: `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`,
		want: []view{{Kind: KindRequest, Method: "ping", ID: "1"}},
	},
	{
		name: "very long strings are fine",
		body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"` + strings.Repeat("abcdé\\n", 100000) + `"}}}`,
		want: []view{{Kind: KindRequest, Method: "tools/call", ID: "1", Name: "echo", NameValue: `"echo"`}},
	},
	{
		name: "depth 64 is fine",
		body: `{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":` + strings.Repeat("[", 62) + strings.Repeat("]", 62) + `}}`,
		want: []view{{Kind: KindRequest, Method: "x", ID: "1"}},
	},
	{
		name: "many members (map fallback) without duplicates",
		body: `{"jsonrpc":"2.0","id":1,"method":"x","params":{` + manyMembers(40, "") + `}}`,
		want: []view{{Kind: KindRequest, Method: "x", ID: "1"}},
	},
}

func manyMembers(n int, extra string) string {
	var sb strings.Builder
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`"k`)
		sb.WriteString(strings.Repeat("x", i))
		sb.WriteString(`":1`)
	}
	if extra != "" {
		sb.WriteString("," + extra)
	}
	return sb.String()
}

func TestParseValid(t *testing.T) {
	for _, tc := range validCases {
		t.Run(tc.name, func(t *testing.T) {
			b, body := mustParse(t, tc.body)
			if b.Batch != strings.HasPrefix(strings.TrimSpace(tc.body), "[") {
				t.Errorf("Batch = %v", b.Batch)
			}
			if len(b.Messages) != len(tc.want) {
				t.Fatalf("got %d messages, want %d", len(b.Messages), len(tc.want))
			}
			for i, w := range tc.want {
				if got := viewOf(&b.Messages[i], body); got != w {
					t.Errorf("message %d:\n got %+v\nwant %+v", i, got, w)
				}
			}
			checkSpans(t, body, &b)
		})
	}
}

func TestParseSpans(t *testing.T) {
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{ "name":"t", "_meta":{"traceparent":"tp"} }}`
	b, raw := mustParse(t, body)
	m := &b.Messages[0]
	for _, c := range []struct{ name, got, want string }{
		{"Object", string(m.Object.Bytes(raw)), body},
		{"Params", string(m.Params.Bytes(raw)), `{ "name":"t", "_meta":{"traceparent":"tp"} }`},
		{"Meta", string(m.Meta.Bytes(raw)), `{"traceparent":"tp"}`},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	res := `{"jsonrpc":"2.0","id":1,"result": {"content":[]} }`
	b, raw = mustParse(t, res)
	if got := string(b.Messages[0].Result.Bytes(raw)); got != `{"content":[]}` {
		t.Errorf("Result = %q", got)
	}
}

const P, I = CodeParseError, CodeInvalidRequest

func req(params string) string {
	return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":` + params + `}`
}

var invalidCases = []struct {
	name    string
	body    string
	code    int64
	contain string // part of the message, when it matters
}{
	{"empty body", ``, P, "empty"},
	{"only whitespace", " \n\t", P, "empty"},
	{"malformed", `{"jsonrpc":"2.0",}`, P, ""},
	{"missing colon", `{"jsonrpc" "2.0"}`, P, ""},
	{"unterminated", `{"jsonrpc":"2.0"`, P, "end of input"},
	{"unterminated string", `{"jsonrpc":"2.0`, P, "unterminated"},
	{"single quotes", `{'jsonrpc':'2.0'}`, P, ""},
	{"trailing garbage", `{"jsonrpc":"2.0","id":1,"method":"ping"}x`, P, "unexpected data"},
	{"two values", `{"jsonrpc":"2.0","id":1,"method":"ping"} {}`, P, "unexpected data"},
	{"trailing comma in array", `[{"jsonrpc":"2.0","id":1,"method":"ping"},]`, P, ""},
	{"leading BOM", "\xef\xbb\xbf" + `{"jsonrpc":"2.0","id":1,"method":"ping"}`, P, "0xef"},
	{"method and Method", `{"jsonrpc":"2.0","id":1,"method":"tools/list","Method":"tools/call"}`, P, `duplicate member "Method" (case-insensitive) at offset 46`},
	{"exact duplicate id", `{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}`, P, `duplicate member "id"`},
	{"duplicate via escape", `{"jsonrpc":"2.0","id":1,"method":"ping","\u006dethod":"x"}`, P, `duplicate member "method"`},
	{"duplicate via Kelvin sign", `{"jsonrpc":"2.0","id":1,"method":"x","params":{"k":1,"\u212a":2}}`, P, "duplicate"},
	{"duplicate deep in arguments", req(`{"name":"t","arguments":{"a":[{"b":{"c":1,"C":2}}]}}`), P, `duplicate member "C"`},
	{"duplicate in _meta", req(`{"_meta":{"traceparent":"a","TraceParent":"b"}}`), P, "duplicate"},
	{"duplicate in result", `{"jsonrpc":"2.0","id":1,"result":{"isError":false,"isError":true}}`, P, "duplicate"},
	{"duplicate in big object", req(`{` + manyMembers(30, `"KXXX":2`) + `}`), P, `duplicate member "KXXX"`},
	{"duplicate in big object non-ASCII", req(`{` + manyMembers(30, `"ſ":1,"S":2`) + `}`), P, `duplicate member "S"`},
	{"invalid UTF-8 in string", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\xffb\"}", P, "invalid UTF-8 at offset 35"},
	{"invalid UTF-8 outside string", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"\xff}", P, "0xff"},
	{"invalid UTF-8 in member name", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"\xc3\":1}", P, "UTF-8"},
	{"UTF-8 encoded surrogate", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xed\xa0\x80\"}", P, "UTF-8"},
	{"overlong UTF-8", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xc0\xaf\"}", P, "UTF-8"},
	{"unpaired high surrogate", `{"jsonrpc":"2.0","id":1,"method":"\ud800"}`, P, "surrogate"},
	{"high surrogate then letter", `{"jsonrpc":"2.0","id":1,"method":"\ud800x"}`, P, "surrogate"},
	{"two high surrogates", `{"jsonrpc":"2.0","id":1,"method":"\ud800\ud800"}`, P, "surrogate"},
	{"lone low surrogate", `{"jsonrpc":"2.0","id":1,"method":"\udc00"}`, P, "surrogate"},
	{"bad escape", `{"jsonrpc":"2.0","id":1,"method":"\x"}`, P, "escape"},
	{"short unicode escape", `{"jsonrpc":"2.0","id":1,"method":"\u12"}`, P, "escape"},
	{"control character", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\tb\"}", P, "control"},
	{"depth 65", req(`{"a":` + strings.Repeat("[", 63) + strings.Repeat("]", 63) + `}`), P, "nesting deeper than 64"},
	{"depth 65 in batch", `[` + req(`{"a":`+strings.Repeat("[", 62)+strings.Repeat("]", 62)+`}`) + `]`, P, "nesting"},
	{"leading zero", `{"jsonrpc":"2.0","id":01,"method":"ping"}`, P, ""},
	{"bare minus", `{"jsonrpc":"2.0","id":-,"method":"ping"}`, P, ""},
	{"dot without digits", `{"jsonrpc":"2.0","id":1.,"method":"ping"}`, P, ""},
	{"exponent without digits", `{"jsonrpc":"2.0","id":1e,"method":"ping"}`, P, ""},
	{"bad literal", `{"jsonrpc":"2.0","id":nul,"method":"ping"}`, P, ""},
	{"NaN", `{"jsonrpc":"2.0","id":NaN,"method":"ping"}`, P, ""},
	{"syntax error beats shape error", `{"jsonrpc":"1.0","id":1,"method":"ping",}`, P, ""},
	{"syntax error in later batch element", `[{"jsonrpc":"1.0"},{"a":]`, P, ""},

	{"jsonrpc 1.0", `{"jsonrpc":"1.0","id":1,"method":"ping"}`, I, `"jsonrpc" must be "2.0"`},
	{"jsonrpc missing", `{"id":1,"method":"ping"}`, I, `missing "jsonrpc"`},
	{"jsonrpc number", `{"jsonrpc":2.0,"id":1,"method":"ping"}`, I, `"jsonrpc" must be "2.0"`},
	{"jsonrpc with space", `{"jsonrpc":"2.0 ","id":1,"method":"ping"}`, I, `"jsonrpc"`},
	{"Jsonrpc only", `{"JSONRPC":"2.0","id":1,"method":"ping"}`, I, `missing "jsonrpc"`},
	{"id null on request", `{"jsonrpc":"2.0","id":null,"method":"ping"}`, I, `must not be null`},
	{"id null on result", `{"jsonrpc":"2.0","id":null,"result":{}}`, I, `must not be null`},
	{"id float", `{"jsonrpc":"2.0","id":1.5,"method":"ping"}`, I, `"id" must be a string or an integer`},
	{"id exponent", `{"jsonrpc":"2.0","id":1e3,"method":"ping"}`, I, `"id"`},
	{"id object", `{"jsonrpc":"2.0","id":{},"method":"ping"}`, I, `"id"`},
	{"id bool", `{"jsonrpc":"2.0","id":true,"method":"ping"}`, I, `"id"`},
	{"params array", req(`[1,2]`), I, `"params" must be an object`},
	{"params null", req(`null`), I, `"params" must be an object`},
	{"method number", `{"jsonrpc":"2.0","id":1,"method":5}`, I, `"method" must be a string`},
	{"method null", `{"jsonrpc":"2.0","method":null}`, I, `"method" must be a string`},
	{"method and result", `{"jsonrpc":"2.0","id":1,"method":"ping","result":{}}`, I, "both"},
	{"result and error", `{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"m"}}`, I, "both"},
	{"neither", `{"jsonrpc":"2.0","id":1}`, I, `needs "method"`},
	{"response without id", `{"jsonrpc":"2.0","result":{}}`, I, `needs an "id"`},
	{"error not object", `{"jsonrpc":"2.0","id":1,"error":"boom"}`, I, `"error" must be an object`},
	{"error without message", `{"jsonrpc":"2.0","id":1,"error":{"code":1}}`, I, `"error"`},
	{"error float code", `{"jsonrpc":"2.0","id":1,"error":{"code":1.5,"message":"m"}}`, I, `"error"`},
	{"error code overflow", `{"jsonrpc":"2.0","id":1,"error":{"code":9223372036854775808,"message":"m"}}`, I, `"error"`},
	{"error message number", `{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":2}}`, I, `"error"`},
	{"top-level string", `"hello"`, I, "object"},
	{"top-level null", `null`, I, "object"},
	{"empty batch", `[]`, I, "empty batch"},
	{"empty batch with space", `[ ]`, I, "empty batch"},
	{"batch over limit", `[` + strings.TrimSuffix(strings.Repeat(`{"jsonrpc":"2.0","method":"notifications/initialized"},`, 40), ",") + `]`, I, "batch of 40 messages exceeds the limit of 32"},
	{"batch with non-object", `[{"jsonrpc":"2.0","id":1,"method":"ping"},1]`, I, "batch element 1 is not an object"},
	{"batch with nested batch", `[[{"jsonrpc":"2.0","id":1,"method":"ping"}]]`, I, "batch element 0"},
	{"batch with invalid message", `[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0"}]`, I, ""},
}

func TestParseInvalid(t *testing.T) {
	for _, tc := range invalidCases {
		t.Run(tc.name, func(t *testing.T) {
			var b Body
			b.Messages = make([]Message, 3) // must come back empty
			err := b.Parse([]byte(tc.body), Limits{})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse = %v, want *Error", err)
			}
			if e.Code != tc.code {
				t.Errorf("code = %d (%s), want %d", e.Code, e.Message, tc.code)
			}
			if !strings.Contains(e.Message, tc.contain) {
				t.Errorf("message %q does not contain %q", e.Message, tc.contain)
			}
			if len(e.Message) > 160 {
				t.Errorf("message too long (%d bytes): %q", len(e.Message), e.Message)
			}
			if len(b.Messages) != 0 || b.Batch {
				t.Errorf("on error Body = %+v, want empty", b)
			}
		})
	}
}

func TestErrorMessageBoundsEcho(t *testing.T) {
	long := strings.Repeat("A", 1000)
	body := `{"jsonrpc":"2.0","id":1,"method":"x","params":{"` + long + `":1,"` + strings.ToLower(long) + `":2}}`
	_, err := Parse([]byte(body), Limits{})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeParseError {
		t.Fatalf("err = %v", err)
	}
	if strings.Count(e.Message, "a")+strings.Count(e.Message, "A") > 64 {
		t.Errorf("message echoes too much input: %q", e.Message)
	}
}

func TestLimits(t *testing.T) {
	deep := `{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":[[[]]]}}` // depth 5
	for _, tc := range []struct {
		name string
		body string
		lim  Limits
		ok   bool
	}{
		{"depth at limit", deep, Limits{MaxDepth: 5}, true},
		{"depth over limit", deep, Limits{MaxDepth: 4}, false},
		{"batch at limit", `[{"jsonrpc":"2.0","method":"a"},{"jsonrpc":"2.0","method":"b"}]`, Limits{MaxBatch: 2}, true},
		{"batch over limit", `[{"jsonrpc":"2.0","method":"a"},{"jsonrpc":"2.0","method":"b"},{"jsonrpc":"2.0","method":"c"}]`, Limits{MaxBatch: 2}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.body), tc.lim)
			if (err == nil) != tc.ok {
				t.Errorf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestBodyReuse(t *testing.T) {
	var b Body
	batch := []byte(`[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}},{"jsonrpc":"2.0","id":2,"method":"ping"}]`)
	single := []byte(`{"jsonrpc":"2.0","id":3,"method":"tools/list"}`)
	if err := b.Parse(batch, Limits{}); err != nil {
		t.Fatal(err)
	}
	first := &b.Messages[0]
	if err := b.Parse(single, Limits{}); err != nil {
		t.Fatal(err)
	}
	if &b.Messages[0] != first {
		t.Error("Messages' backing array was not reused")
	}
	if got := viewOf(&b.Messages[0], single); got != (view{Kind: KindRequest, Method: "tools/list", ID: "3"}) {
		t.Errorf("stale fields after reuse: %+v", got)
	}
}

func TestKnownMethod(t *testing.T) {
	for _, m := range []string{"initialize", "tools/call", "notifications/elicitation/complete", "server/discover", "tasks/cancel"} {
		if !KnownMethod(m) {
			t.Errorf("KnownMethod(%q) = false", m)
		}
	}
	for _, m := range []string{"", "Initialize", "tools/call ", "x"} {
		if KnownMethod(m) {
			t.Errorf("KnownMethod(%q) = true", m)
		}
	}
}

func TestParseAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	body := []byte(toolsCall)
	var b Body
	if err := b.Parse(body, Limits{}); err != nil {
		t.Fatal(err)
	}
	n := testing.AllocsPerRun(100, func() {
		if err := b.Parse(body, Limits{}); err != nil {
			t.Fatal(err)
		}
	})
	if n > 1 {
		t.Errorf("tools/call with reused Body: %v allocs, want <= 1", n)
	}
	known := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`)
	if n := testing.AllocsPerRun(100, func() { _ = b.Parse(known, Limits{}) }); n != 0 {
		t.Errorf("tools/list with known strings: %v allocs, want 0", n)
	}
}

func TestParseConcurrent(t *testing.T) {
	bodies := [][]byte{[]byte(toolsCall), []byte(initialize), []byte(`[{"jsonrpc":"2.0","id":1,"method":"x"},{"jsonrpc":"2.0","id":2,"result":{}}]`)}
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			var b Body
			for i := range 200 {
				body := bodies[(g+i)%len(bodies)]
				if err := b.Parse(body, Limits{}); err != nil {
					t.Error(err)
					return
				}
				if b.Messages[0].Kind == KindInvalid {
					t.Error("invalid kind")
					return
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}
