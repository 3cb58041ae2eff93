package sse

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// ev is an Event with its slices copied, comparable with ==.
type ev struct {
	Raw, Data, Name, ID string
	Retry               time.Duration
	HasData             bool
	Partial, Truncated  bool
	Incomplete          bool
}

func snapshot(e Event) ev {
	return ev{
		Raw: string(e.Raw), Data: string(e.Data), Name: string(e.Name), ID: string(e.ID),
		Retry: e.Retry, HasData: e.HasData, Partial: e.Partial, Truncated: e.Truncated, Incomplete: e.Incomplete,
	}
}

// readAll reads events until an error and returns them with that error.
func readAll(t testing.TB, r io.Reader, maxEvent int) ([]ev, error) {
	t.Helper()
	rd := NewReader(r, maxEvent)
	var out []ev
	for range 1 << 20 {
		e, err := rd.Next()
		if err != nil {
			if len(e.Raw) != 0 {
				t.Fatalf("Next returned %q with error %v", e.Raw, err)
			}
			return out, err
		}
		out = append(out, snapshot(e))
	}
	t.Fatal("Next never returned an error")
	return nil, nil
}

// data is shorthand for a dispatched event with no id, name or retry.
func data(raw, d string) ev { return ev{Raw: raw, Data: d, HasData: true, Retry: -1} }

// block is shorthand for an event that is not dispatched.
func block(raw string) ev { return ev{Raw: raw, Retry: -1} }

var readerTests = []struct {
	name  string
	in    string
	max   int // 0: the default
	want  []ev
	error error // besides io.EOF
}{
	{name: "empty", in: ""},
	{name: "lf", in: "data: hello\n\n", want: []ev{data("data: hello\n\n", "hello")}},
	{name: "crlf", in: "data: a\r\ndata: b\r\n\r\n", want: []ev{data("data: a\r\ndata: b\r\n\r\n", "a\nb")}},
	{name: "cr", in: "data: a\rdata: b\r\r", want: []ev{data("data: a\rdata: b\r\r", "a\nb")}},
	{name: "cr blank line then lf", in: "data: a\r\r\ndata: b\n\n", want: []ev{
		data("data: a\r\r\n", "a"), data("data: b\n\n", "b"),
	}},
	{name: "mixed endings", in: "data: a\r\ndata: b\rdata: c\n\r\n", want: []ev{data("data: a\r\ndata: b\rdata: c\n\r\n", "a\nb\nc")}},
	{name: "two events", in: "data: 1\n\ndata: 2\n\n", want: []ev{data("data: 1\n\n", "1"), data("data: 2\n\n", "2")}},
	{name: "multi-line data", in: "data: {\ndata:  \"a\": 1\ndata: }\n\n", want: []ev{data("data: {\ndata:  \"a\": 1\ndata: }\n\n", "{\n \"a\": 1\n}")}},
	{name: "no space after colon", in: "data:x\n\n", want: []ev{data("data:x\n\n", "x")}},
	{name: "only one space dropped", in: "data:  x \n\n", want: []ev{data("data:  x \n\n", " x ")}},
	{name: "colon in value", in: "data: a: b\n\n", want: []ev{data("data: a: b\n\n", "a: b")}},
	{name: "empty data", in: "data\n\n", want: []ev{data("data\n\n", "")}},
	{name: "empty data colon", in: "data:\n\n", want: []ev{data("data:\n\n", "")}},
	{name: "two empty data lines", in: "data\ndata\n\n", want: []ev{data("data\ndata\n\n", "\n")}},
	{name: "comment only", in: ": ping\n\n", want: []ev{block(": ping\n\n")}},
	{name: "comments around data", in: ":a\ndata: x\n:\n\n", want: []ev{data(":a\ndata: x\n:\n\n", "x")}},
	{name: "unknown and wrong-case fields", in: "foo: bar\nData: y\ndatax: z\ndata: x\n\n", want: []ev{data("foo: bar\nData: y\ndatax: z\ndata: x\n\n", "x")}},
	{name: "event name and id", in: "event: message\nid: 7\ndata: {}\n\n", want: []ev{
		{Raw: "event: message\nid: 7\ndata: {}\n\n", Data: "{}", Name: "message", ID: "7", HasData: true, Retry: -1},
	}},
	{name: "last event wins", in: "event: a\nevent: b\ndata: x\n\n", want: []ev{
		{Raw: "event: a\nevent: b\ndata: x\n\n", Data: "x", Name: "b", HasData: true, Retry: -1},
	}},
	{name: "event name reset after dispatch", in: "event: a\ndata: 1\n\ndata: 2\n\n", want: []ev{
		{Raw: "event: a\ndata: 1\n\n", Data: "1", Name: "a", HasData: true, Retry: -1},
		data("data: 2\n\n", "2"),
	}},
	{name: "event name reset by undispatched block", in: "event: a\n\ndata: 2\n\n", want: []ev{
		{Raw: "event: a\n\n", Name: "a", Retry: -1},
		data("data: 2\n\n", "2"),
	}},
	{name: "id persists", in: "id: 1\ndata: a\n\ndata: b\n\n", want: []ev{
		{Raw: "id: 1\ndata: a\n\n", Data: "a", ID: "1", HasData: true, Retry: -1},
		{Raw: "data: b\n\n", Data: "b", ID: "1", HasData: true, Retry: -1},
	}},
	{name: "id set by undispatched block", in: "id: 5\n\ndata: b\n\n", want: []ev{
		{Raw: "id: 5\n\n", ID: "5", Retry: -1},
		{Raw: "data: b\n\n", Data: "b", ID: "5", HasData: true, Retry: -1},
	}},
	{name: "empty id resets", in: "id: 1\ndata: a\n\nid\ndata: b\n\n", want: []ev{
		{Raw: "id: 1\ndata: a\n\n", Data: "a", ID: "1", HasData: true, Retry: -1},
		data("id\ndata: b\n\n", "b"),
	}},
	{name: "id with NUL ignored", in: "id: 1\n\nid: a\x00b\ndata: x\n\n", want: []ev{
		{Raw: "id: 1\n\n", ID: "1", Retry: -1},
		{Raw: "id: a\x00b\ndata: x\n\n", Data: "x", ID: "1", HasData: true, Retry: -1},
	}},
	{name: "retry", in: "retry: 3000\n\n", want: []ev{{Raw: "retry: 3000\n\n", Retry: 3 * time.Second}}},
	{name: "retry zero", in: "retry:0\ndata: x\n\n", want: []ev{{Raw: "retry:0\ndata: x\n\n", Data: "x", HasData: true}}},
	{name: "retry not digits", in: "retry: 3s\n\nretry: -1\n\nretry: \n\nretry\n\n", want: []ev{
		block("retry: 3s\n\n"), block("retry: -1\n\n"), block("retry: \n\n"), block("retry\n\n"),
	}},
	{name: "retry last valid wins", in: "retry: 1\nretry: x\n\n", want: []ev{{Raw: "retry: 1\nretry: x\n\n", Retry: time.Millisecond}}},
	{name: "retry saturates", in: "retry: 99999999999999999999999999\n\n", want: []ev{
		{Raw: "retry: 99999999999999999999999999\n\n", Retry: time.Duration(maxRetryMS) * time.Millisecond},
	}},
	{name: "bom", in: "\xEF\xBB\xBFdata: x\n\n", want: []ev{data("\xEF\xBB\xBFdata: x\n\n", "x")}},
	{name: "second bom is not stripped", in: "\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\n", want: []ev{block("\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\n")}},
	{name: "partial bom", in: "\xEF\xBBdata: x\n\ndata: y\n\n", want: []ev{block("\xEF\xBBdata: x\n\n"), data("data: y\n\n", "y")}},
	{name: "partial bom then colon", in: "\xEF: x\n\n", want: []ev{block("\xEF: x\n\n")}},
	{name: "bom not at start", in: "data: a\n\n\xEF\xBB\xBFdata: x\n\n", want: []ev{data("data: a\n\n", "a"), block("\xEF\xBB\xBFdata: x\n\n")}},
	{name: "extra blank lines", in: "\ndata: x\n\n\n\r\n", want: []ev{block("\n"), data("data: x\n\n", "x"), block("\n"), block("\r\n")}},
	{name: "eof mid-event", in: "data: x\n\ndata: y", want: []ev{data("data: x\n\n", "x"), {Raw: "data: y", Retry: -1, Incomplete: true}}},
	{name: "eof after line", in: "data: x\n", want: []ev{{Raw: "data: x\n", Retry: -1, Incomplete: true}}},
	{name: "eof after comment", in: ": hi", want: []ev{{Raw: ": hi", Retry: -1, Incomplete: true}}},
	{name: "eof mid-field-name", in: "da", want: []ev{{Raw: "da", Retry: -1, Incomplete: true}}},
	{name: "unterminated id still sets nothing", in: "id: 1\n\nid: 2", want: []ev{
		{Raw: "id: 1\n\n", ID: "1", Retry: -1}, {Raw: "id: 2", ID: "1", Retry: -1, Incomplete: true},
	}},
	{name: "binary and invalid utf-8 pass through", in: "data: \xff\xfe\x00\n\n", want: []ev{data("data: \xff\xfe\x00\n\n", "\xff\xfe\x00")}},
	{name: "event fits the bound exactly", max: 18, in: "data: 0123456789\n\n", want: []ev{data("data: 0123456789\n\n", "0123456789")}},
	{name: "huge event in chunks", max: 16, in: "data: 0123456789abcdefghij\n\ndata: ok\n\n", want: []ev{
		{Raw: "data: 0123456789", Retry: -1, Partial: true, Truncated: true},
		{Raw: "abcdefghij\n\n", Retry: -1, HasData: true, Truncated: true},
		data("data: ok\n\n", "ok"),
	}},
	{name: "huge event many chunks", max: 4, in: "id: 1\ndata: x\n\ndata: y\n\n", want: []ev{
		{Raw: "id: ", Retry: -1, Partial: true, Truncated: true},
		{Raw: "1\nda", ID: "1", Retry: -1, Partial: true, Truncated: true},
		{Raw: "ta: ", ID: "1", Retry: -1, Partial: true, Truncated: true},
		{Raw: "x\n\n", ID: "1", Retry: -1, HasData: true, Truncated: true},
		{Raw: "data", ID: "1", Retry: -1, Partial: true, Truncated: true},
		{Raw: ": y\n", ID: "1", Retry: -1, Partial: true, Truncated: true},
		{Raw: "\n", ID: "1", Retry: -1, HasData: true, Truncated: true},
	}},
	{name: "huge event then eof", max: 8, in: "data: 0123456789", want: []ev{
		{Raw: "data: 01", Retry: -1, Partial: true, Truncated: true},
		{Raw: "23456789", Retry: -1, Partial: true, Truncated: true},
		{Raw: "", Retry: -1, Truncated: true, Incomplete: true},
	}},
}

func TestReader(t *testing.T) {
	for _, tt := range readerTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(t, strings.NewReader(tt.in), tt.max)
			if err != io.EOF {
				t.Fatalf("error = %v, want io.EOF", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d events, want %d:\ngot  %+v\nwant %+v", len(got), len(tt.want), got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("event %d:\ngot  %+v\nwant %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// semantic is what a listener sees of a stream: the dispatched events and
// the retry values, which do not depend on how the input was split into
// reads (Raw boundaries can: an LF after a CR that ended a read starts the
// next event's Raw).
func semantic(evs []ev) (out []ev, raw string) {
	var b strings.Builder
	for _, e := range evs {
		b.WriteString(e.Raw)
		if e.Partial || e.Incomplete {
			continue
		}
		if e.HasData || e.Retry >= 0 {
			e.Raw = ""
			out = append(out, e)
		}
	}
	return out, b.String()
}

// chunkReader returns its input in reads of the given sizes, cycling, to
// split lines, line endings and byte order marks at awkward places.
type chunkReader struct {
	b     []byte
	sizes []int
	i     int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := min(c.sizes[c.i%len(c.sizes)], len(p), len(c.b))
	c.i++
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

func TestReaderSplitReads(t *testing.T) {
	splits := map[string]func(string) io.Reader{
		"one byte":      func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
		"half":          func(s string) io.Reader { return iotest.HalfReader(strings.NewReader(s)) },
		"data with eof": func(s string) io.Reader { return iotest.DataErrReader(strings.NewReader(s)) },
		"odd chunks":    func(s string) io.Reader { return &chunkReader{b: []byte(s), sizes: []int{3, 1, 7, 2, 5}} },
		"empty reads":   func(s string) io.Reader { return &chunkReader{b: []byte(s), sizes: []int{0, 2, 0, 0, 1}} },
	}
	for _, tt := range readerTests {
		wantSem, _ := semantic(tt.want)
		for name, split := range splits {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				got, err := readAll(t, split(tt.in), tt.max)
				if err != io.EOF {
					t.Fatalf("error = %v, want io.EOF", err)
				}
				gotSem, raw := semantic(got)
				if raw != tt.in {
					t.Fatalf("Raw bytes = %q, want the input %q", raw, tt.in)
				}
				if len(gotSem) != len(wantSem) {
					t.Fatalf("got %+v, want %+v", gotSem, wantSem)
				}
				for i := range gotSem {
					if gotSem[i] != wantSem[i] {
						t.Errorf("event %d:\ngot  %+v\nwant %+v", i, gotSem[i], wantSem[i])
					}
				}
				for _, e := range got {
					if max := tt.max; max > 0 && len(e.Raw) > max {
						t.Errorf("Raw %q is longer than the bound %d", e.Raw, max)
					}
				}
			})
		}
	}
}

func TestReaderError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("data: a\n\ndata: b"), iotest.ErrReader(boom))
	got, err := readAll(t, r, 0)
	if err != boom {
		t.Fatalf("error = %v, want %v", err, boom)
	}
	want := []ev{data("data: a\n\n", "a"), {Raw: "data: b", Retry: -1, Incomplete: true}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// The error is sticky.
	rd := NewReader(iotest.ErrReader(boom), 0)
	for range 2 {
		if _, err := rd.Next(); err != boom {
			t.Fatalf("error = %v, want %v", err, boom)
		}
	}
}

func TestReaderNoProgress(t *testing.T) {
	rd := NewReader(&chunkReader{b: []byte("x"), sizes: []int{0}}, 0)
	if _, err := rd.Next(); err != io.ErrNoProgress {
		t.Fatalf("error = %v, want io.ErrNoProgress", err)
	}
}

// TestReaderDoesNotReadAhead checks that Next returns each event as soon as
// its blank line arrives, while the writer is blocked: a Read past it would
// block on the pipe until the test's timeout.
func TestReaderDoesNotReadAhead(t *testing.T) {
	pieces := []struct{ write, want string }{
		{"data: a\n\n", "a"},
		{"data: b\r\n\r\n", "b"},
		{"data: c\r\r", "c"}, // CR ended: must not wait to see whether LF follows
		{"\ndata: d\n", ""},  // that LF, then half an event
		{"\n", "d"},
		{"id: 1\nda", ""},
		{"ta: e\n\n", "e"},
	}
	pr, pw := io.Pipe()
	defer pr.Close()
	rd := NewReader(pr, 0)
	type result struct {
		e   ev
		err error
	}
	results := make(chan result)
	next := func() {
		e, err := rd.Next()
		results <- result{snapshot(e), err}
	}
	go next()
	for _, p := range pieces {
		if _, err := pw.Write([]byte(p.write)); err != nil {
			t.Fatal(err)
		}
		if p.want == "" {
			continue // Next is still waiting for the event's end
		}
		select {
		case res := <-results:
			if res.err != nil || res.e.Data != p.want {
				t.Fatalf("after writing %q: Next = %+v, %v; want data %q", p.write, res.e, res.err, p.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("after writing %q: Next did not return", p.write)
		}
		go next()
	}
	pw.Close()
	select {
	case res := <-results:
		if res.err != io.EOF {
			t.Fatalf("at the end: Next = %+v, %v; want io.EOF", res.e, res.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next did not return at the end")
	}
}

func TestReaderReset(t *testing.T) {
	rd := NewReader(strings.NewReader("id: 1\nevent: x\ndata: a\n"), 0)
	if e, err := rd.Next(); err != nil || !e.Incomplete {
		t.Fatalf("Next = %+v, %v", snapshot(e), err)
	}
	rd.Reset(strings.NewReader("data: b\n\n"))
	e, err := rd.Next()
	if got, want := snapshot(e), data("data: b\n\n", "b"); err != nil || got != want {
		t.Fatalf("after Reset: Next = %+v, %v; want %+v", got, err, want)
	}
}

func TestZeroReaderWithReset(t *testing.T) {
	var rd Reader
	rd.Reset(strings.NewReader("data: x\n\n"))
	if e, err := rd.Next(); err != nil || string(e.Data) != "x" {
		t.Fatalf("Next = %+v, %v", snapshot(e), err)
	}
}

func TestReaderLongLinesGrowBuffer(t *testing.T) {
	long := strings.Repeat("x", 3*initialBufSize)
	in := "data: " + long + "\n\n"
	got, err := readAll(t, iotest.HalfReader(strings.NewReader(in)), 0)
	if err != io.EOF || len(got) != 1 || got[0] != data(in, long) {
		t.Fatalf("got %d events, %v", len(got), err)
	}
}

func TestDispatched(t *testing.T) {
	for _, tt := range []struct {
		e    Event
		want bool
	}{
		{Event{HasData: true}, true},
		{Event{HasData: true, Truncated: true}, true},
		{Event{}, false},
		{Event{HasData: true, Partial: true}, false},
		{Event{HasData: true, Incomplete: true}, false},
	} {
		if got := tt.e.Dispatched(); got != tt.want {
			t.Errorf("%+v.Dispatched() = %v, want %v", tt.e, got, tt.want)
		}
	}
}
