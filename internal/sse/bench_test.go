package sse

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

// mcpStream is a stream shaped like a Streamable HTTP server's: each event a
// JSON-RPC message with an event type and an id, as SSE-mode responses are.
func mcpStream(events int, lineEnd string) []byte {
	var b bytes.Buffer
	for i := range events {
		fmt.Fprintf(&b, "event: message%sid: %d%sdata: {\"jsonrpc\":\"2.0\",\"id\":%d,\"result\":{\"content\":[{\"type\":\"text\",\"text\":%q}]}}%s%s",
			lineEnd, i, lineEnd, i, strings.Repeat("x", 150), lineEnd, lineEnd)
		if i%10 == 0 {
			b.WriteString(": keepalive" + lineEnd + lineEnd)
		}
	}
	return b.Bytes()
}

func BenchmarkReader(b *testing.B) {
	for _, bc := range []struct {
		name    string
		lineEnd string
		max     int
	}{
		{"lf", "\n", 0},
		{"crlf", "\r\n", 0},
		{"chunked", "\n", 64}, // every event over the bound: relayed in chunks
	} {
		b.Run(bc.name, func(b *testing.B) {
			in := mcpStream(1000, bc.lineEnd)
			src := bytes.NewReader(in)
			rd := NewReader(src, bc.max)
			var n, raw int
			b.ReportAllocs()
			b.SetBytes(int64(len(in) / 1000))
			for b.Loop() {
				// One op is one event (of 1000 in the stream), restarting the
				// stream when it runs out.
				for {
					e, err := rd.Next()
					if err == io.EOF {
						src.Reset(in)
						rd.Reset(src)
						continue
					}
					if err != nil {
						b.Fatal(err)
					}
					raw += len(e.Raw)
					if e.HasData && !e.Partial {
						n++
						break
					}
				}
			}
			if n == 0 || raw == 0 {
				b.Fatal("no events")
			}
		})
	}
}

func BenchmarkAppendEvent(b *testing.B) {
	data := []byte(`{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"hello"}]}}`)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEvent(buf[:0], "1", "message", data)
	}
}
