package sse

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestAppendEvent(t *testing.T) {
	for _, tt := range []struct {
		name, id, event, data string
		want                  string
		wantData              string // as read back, when it differs from data
	}{
		{name: "data only", data: "hello", want: "data: hello\n\n"},
		{name: "empty data", data: "", want: "data\n\n"},
		{name: "id and event", id: "7", event: "message", data: "{}", want: "id: 7\nevent: message\ndata: {}\n\n"},
		{name: "multi-line", data: "a\nb\n", want: "data: a\ndata: b\ndata\n\n"},
		{name: "crlf and cr split too", data: "a\r\nb\rc", want: "data: a\ndata: b\ndata: c\n\n", wantData: "a\nb\nc"},
		{name: "leading space kept", data: " x", want: "data:  x\n\n"},
		{name: "newlines dropped from id and event", id: "1\r\ndata: evil", event: "a\nb", data: "x", want: "id: 1data: evil\nevent: ab\ndata: x\n\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := string(AppendEvent([]byte("prefix"), tt.id, tt.event, []byte(tt.data)))
			if got != "prefix"+tt.want {
				t.Fatalf("AppendEvent = %q, want %q", got, "prefix"+tt.want)
			}
			// What is written reads back as the same event.
			e, err := NewReader(strings.NewReader(tt.want), 0).Next()
			wantData := tt.data
			if tt.wantData != "" {
				wantData = tt.wantData
			}
			if err != nil || !e.Dispatched() || string(e.Data) != wantData || string(e.Raw) != tt.want {
				t.Fatalf("read back %+v, %v; want data %q", snapshot(e), err, wantData)
			}
		})
	}
}

func TestAppendComment(t *testing.T) {
	for _, tt := range []struct{ text, want string }{
		{"", ":\n\n"},
		{"ping", ": ping\n\n"},
		{"a\r\nb\n", ": a\n: b\n:\n\n"},
	} {
		if got := string(AppendComment(nil, tt.text)); got != tt.want {
			t.Errorf("AppendComment(%q) = %q, want %q", tt.text, got, tt.want)
		}
		e, err := NewReader(strings.NewReader(tt.want), 0).Next()
		if err != nil || e.HasData || string(e.Raw) != tt.want {
			t.Errorf("comment %q read back as %+v, %v", tt.text, snapshot(e), err)
		}
	}
}

// flushRecorder counts writes and flushes, like an http.ResponseWriter.
type flushRecorder struct {
	bytes.Buffer
	writes, flushes int
}

func (f *flushRecorder) Write(p []byte) (int, error) { f.writes++; return f.Buffer.Write(p) }
func (f *flushRecorder) Flush()                      { f.flushes++ }

func TestWriter(t *testing.T) {
	var rec flushRecorder
	w := NewWriter(&rec)
	if err := w.WriteEvent("1", "message", []byte("a\nb")); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteComment("keepalive"); err != nil {
		t.Fatal(err)
	}
	if want := "id: 1\nevent: message\ndata: a\ndata: b\n\n: keepalive\n\n"; rec.String() != want {
		t.Fatalf("wrote %q, want %q", rec.String(), want)
	}
	if rec.writes != 2 || rec.flushes != 2 {
		t.Fatalf("%d writes and %d flushes, want one of each per event", rec.writes, rec.flushes)
	}

	// A bufio.Writer is flushed too, and its error reported.
	bw := bufio.NewWriterSize(errWriter{}, 16)
	if err := NewWriter(bw).WriteEvent("", "", []byte("x")); err != io.ErrClosedPipe {
		t.Fatalf("error = %v, want %v", err, io.ErrClosedPipe)
	}
}

type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }
