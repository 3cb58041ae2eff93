// Package sse reads and writes server-sent events (the WHATWG "text/event-stream"
// format) for a relay that passes a stream through event by event while it
// inspects each event's data.
//
// A relay needs two things that an ordinary SSE client library does not give:
//
//   - Every byte it reads must be written on unchanged, so Reader hands back
//     each event's exact wire bytes (Event.Raw) next to the parsed fields, and
//     the concatenation of all Raw bytes is the input, byte for byte, whatever
//     its line endings, comments, stray blank lines or unterminated tail.
//   - It must add no latency and hold bounded memory, so Reader returns an
//     event the moment its terminating blank line is parsed (it never reads
//     ahead to look for more), and an event larger than the Reader's bound is
//     returned in Partial chunks that can be forwarded as they come, with its
//     data dropped and Truncated set, instead of being buffered whole.
//
// Parsing follows the WHATWG HTML "Interpreting an event stream" algorithm:
// LF, CRLF and CR line endings, one optional leading byte order mark, comment
// lines starting with ':', one space after the colon stripped, the data, event,
// id and retry fields, and a final event with no closing blank line is not
// dispatched (Event.Incomplete). Bytes are not UTF-8 decoded: invalid
// sequences pass through as they are instead of becoming U+FFFD.
//
// Feeder is a Reader for a stream that arrives as Write calls (a watcher on
// the writer side) rather than from an io.Reader. AppendEvent and Writer
// produce the gateway's own streams.
package sse
