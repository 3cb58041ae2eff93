package jsonrpc

import (
	"strings"
	"testing"
)

const toolsCall = `{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"get_weather","arguments":{"location":"New York","units":"metric","days":3},"_meta":{"progressToken":"p-42","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}}`

const initialize = `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"roots":{"listChanged":true},"sampling":{},"elicitation":{},"experimental":{"x-feature":{"enabled":true,"level":3}}},"clientInfo":{"name":"claude-ai","title":"Claude","version":"0.1.0","websiteUrl":"https://claude.ai","icons":[{"src":"https://example.com/icon.png","mimeType":"image/png","sizes":["48x48"]}]},"_meta":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","tracestate":"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"}}}`

func bigResult() []byte {
	var sb strings.Builder
	sb.WriteString(`{"jsonrpc":"2.0","id":42,"result":{"content":[`)
	for i := 0; sb.Len() < 64<<10-200; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"type":"text","text":"Line of tool output with some \"quoted\" text and unicode é – 42\n"}`)
	}
	sb.WriteString(`],"isError":false}}`)
	return []byte(sb.String())
}

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct {
		name string
		body []byte
	}{
		{"tools-call", []byte(toolsCall)},
		{"initialize", []byte(initialize)},
		{"result-64KiB", bigResult()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var body Body
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.body)))
			for b.Loop() {
				if err := body.Parse(bc.body, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSpliceMeta(b *testing.B) {
	src := []byte(toolsCall)
	var body Body
	if err := body.Parse(src, Limits{}); err != nil {
		b.Fatal(err)
	}
	m := &body.Messages[0]
	kv := []MetaKV{
		{Key: "traceparent", Value: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
		{Key: "tracestate", Value: "gw=1"},
	}
	newID := []byte(`"g-17"`)
	edits := make([]Edit, 0, 8)
	dst := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		edits = m.AppendSetMetaEdits(edits[:0], src, kv...)
		edits = m.AppendReplaceIDEdits(edits, newID)
		SortEdits(edits)
		var err error
		dst, err = Splice(dst[:0], src, edits)
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSetMeta is the trace context going into a tools/call's
// params._meta as the relay puts it there: one traceparent per message,
// into a new body — replacing the caller's, or in a _meta (or params) that
// is not there yet.
func BenchmarkSetMeta(b *testing.B) {
	kv := []MetaKV{{Key: "traceparent", Value: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}
	for _, bc := range []struct{ name, body string }{
		{"replace", toolsCall},
		{"new-meta", `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}}`},
		{"new-params", `{"jsonrpc":"2.0","id":7,"method":"tools/list"}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			src := []byte(bc.body)
			var body Body
			if err := body.Parse(src, Limits{}); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				if _, err := body.SetMeta(src, func(int) []MetaKV { return kv }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
