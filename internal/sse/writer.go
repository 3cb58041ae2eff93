package sse

import "io"

// AppendEvent appends one event in wire form to dst and returns the result:
// an "id" line when id is not empty, an "event" line when name is not empty,
// one "data" line per line of data, and the blank line that dispatches it.
//
// data is split at CRLF, CR and LF alike, since a reader ends a line at any
// of them, so a CR or CRLF in data is read back as LF. Empty data still gets
// one data line, so the event is dispatched (with empty data). CR and LF are
// dropped from id and name: left in, they would end the line early and let
// the rest of the value be read as fields of its own.
func AppendEvent(dst []byte, id, name string, data []byte) []byte {
	if id != "" {
		dst = appendLine(dst, "id", id)
	}
	if name != "" {
		dst = appendLine(dst, "event", name)
	}
	for {
		i := indexEOL(data)
		line := data
		if i >= 0 {
			line = data[:i]
		}
		dst = append(dst, "data"...)
		if len(line) > 0 {
			dst = append(dst, ": "...)
			dst = append(dst, line...)
		}
		dst = append(dst, '\n')
		if i < 0 {
			break
		}
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	return append(dst, '\n')
}

// AppendComment appends a comment block (each line of text prefixed with
// ':') and a blank line. Readers ignore it; gateways send it to keep idle
// connections from being closed by intermediaries.
func AppendComment(dst []byte, text string) []byte {
	for {
		i := indexEOLString(text)
		line := text
		if i >= 0 {
			line = text[:i]
		}
		dst = append(dst, ':')
		if len(line) > 0 {
			dst = append(dst, ' ')
			dst = append(dst, line...)
		}
		dst = append(dst, '\n')
		if i < 0 {
			break
		}
		if text[i] == '\r' && i+1 < len(text) && text[i+1] == '\n' {
			i++
		}
		text = text[i+1:]
	}
	return append(dst, '\n')
}

// appendLine appends "key: value\n" with CR and LF removed from value.
func appendLine(dst []byte, key, value string) []byte {
	dst = append(dst, key...)
	dst = append(dst, ": "...)
	for i := 0; i < len(value); i++ {
		if c := value[i]; c != '\r' && c != '\n' {
			dst = append(dst, c)
		}
	}
	return append(dst, '\n')
}

// Writer writes events to an SSE stream, each in a single Write followed by
// a flush when the underlying writer can flush (an http.ResponseWriter or a
// bufio.Writer), so that no event waits in a buffer.
//
// A Writer is not safe for concurrent use.
type Writer struct {
	w   io.Writer
	buf []byte
}

// NewWriter returns a Writer that writes to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// WriteEvent writes one event; see AppendEvent for the format.
func (w *Writer) WriteEvent(id, name string, data []byte) error {
	w.buf = AppendEvent(w.buf[:0], id, name, data)
	return w.write()
}

// WriteComment writes a comment block; see AppendComment.
func (w *Writer) WriteComment(text string) error {
	w.buf = AppendComment(w.buf[:0], text)
	return w.write()
}

func (w *Writer) write() error {
	if _, err := w.w.Write(w.buf); err != nil {
		return err
	}
	switch f := w.w.(type) {
	case interface{ Flush() error }:
		return f.Flush()
	case interface{ Flush() }: // http.Flusher
		f.Flush()
	}
	return nil
}
