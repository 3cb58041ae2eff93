package sse

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
)

// refParse is a direct, whole-input transcription of the WHATWG "Interpreting
// an event stream" algorithm, as an oracle for Reader. It returns the
// dispatched events, plus blocks that set a retry, in the shape semantic()
// gives.
func refParse(in []byte) []ev {
	in = bytes.TrimPrefix(in, bom[:])
	var (
		out            []ev
		data, name, id []byte
		sawData        bool
		retry          = time.Duration(-1)
	)
	for {
		i := indexEOL(in)
		if i < 0 {
			return out // an unterminated last line, or nothing: not processed
		}
		line := in[:i]
		if in[i] == '\r' && i+1 < len(in) && in[i+1] == '\n' {
			i++
		}
		in = in[i+1:]

		if len(line) == 0 {
			if sawData || retry >= 0 {
				e := ev{Name: string(name), ID: string(id), Retry: retry, HasData: sawData}
				if sawData {
					e.Data = string(data[:len(data)-1])
				}
				out = append(out, e)
			}
			data, name, sawData, retry = nil, nil, false, -1
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value := line, []byte(nil)
		if c := bytes.IndexByte(line, ':'); c >= 0 {
			field, value = line[:c], line[c+1:]
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(field) {
		case "event":
			name = append([]byte(nil), value...)
		case "data":
			data = append(append(data, value...), '\n')
			sawData = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				id = append([]byte(nil), value...)
			}
		case "retry":
			ms := int64(0)
			ok := len(value) > 0
			for _, c := range value {
				if c < '0' || c > '9' {
					ok = false
					break
				}
				ms = min(ms*10+int64(c-'0'), maxRetryMS)
			}
			if ok {
				retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
}

func FuzzReader(f *testing.F) {
	for _, tt := range readerTests {
		f.Add([]byte(tt.in), uint16(tt.max), uint8(3))
	}
	f.Add([]byte("event: message\r\nid: 1\r\ndata: {\"jsonrpc\":\"2.0\"}\r\n\r\n"), uint16(8), uint8(1))
	f.Add([]byte("\xEF\xBB\xBF: c\rretry: 10\r\rdata\r\n"), uint16(2), uint8(2))

	f.Fuzz(func(t *testing.T, in []byte, maxEvent uint16, chunk uint8) {
		// With a bound larger than the input nothing is truncated, so the
		// Reader must agree exactly with the spec transcription.
		whole, err := readAll(t, bytes.NewReader(in), len(in)+1)
		if err != io.EOF {
			t.Fatalf("error = %v", err)
		}
		got, raw := semantic(whole)
		if raw != string(in) {
			t.Fatalf("Raw bytes %q != input %q", raw, in)
		}
		want := refParse(in)
		if len(got) != len(want) {
			t.Fatalf("events:\ngot  %+v\nwant %+v", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("event %d:\ngot  %+v\nwant %+v", i, got[i], want[i])
			}
		}

		// With a small bound and awkward reads: never more than the bound
		// held, every byte passed through, and the same events dispatched,
		// with the same data unless Truncated.
		max := int(maxEvent%64) + 1
		sizes := []int{int(chunk%7) + 1, 1, int(chunk/7%5) + 2}
		small, err := readAll(t, &chunkReader{b: in, sizes: sizes}, max)
		if err != io.EOF {
			t.Fatalf("error = %v", err)
		}
		var b strings.Builder
		var dispatched []ev
		for i, e := range small {
			b.WriteString(e.Raw)
			if len(e.Raw) > max || len(e.Data) > max {
				t.Fatalf("event %d holds more than the bound %d: %+v", i, max, e)
			}
			if e.Partial && (e.Incomplete || !e.Truncated) {
				t.Fatalf("event %d: bad flags %+v", i, e)
			}
			if (e.Partial || e.Incomplete) && e.Data != "" {
				t.Fatalf("event %d: data in a chunk %+v", i, e)
			}
			if e.HasData && !e.Partial && !e.Incomplete {
				dispatched = append(dispatched, e)
			}
		}
		if b.String() != string(in) {
			t.Fatalf("Raw bytes %q != input %q", b.String(), in)
		}
		var wantData []ev
		for _, e := range want {
			if e.HasData {
				wantData = append(wantData, e)
			}
		}
		if len(dispatched) != len(wantData) {
			t.Fatalf("bound %d: %d events dispatched, want %d", max, len(dispatched), len(wantData))
		}
		for i, e := range dispatched {
			if !e.Truncated && (e.Data != wantData[i].Data || e.Name != wantData[i].Name) {
				t.Fatalf("bound %d, event %d:\ngot  %+v\nwant %+v", max, i, e, wantData[i])
			}
		}
	})
}
