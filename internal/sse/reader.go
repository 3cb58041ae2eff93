package sse

import (
	"io"
	"time"
)

// DefaultMaxEvent is the bound NewReader uses when given maxEvent <= 0.
const DefaultMaxEvent = 1 << 20

// initialBufSize is where a Reader's buffer starts: most events are small,
// and a gateway holds one Reader per open stream, so the buffer only grows
// toward the bound when an event needs it.
const initialBufSize = 4096

// maxEmptyReads bounds how often a Reader retries an io.Reader that returns
// 0, nil before giving up with io.ErrNoProgress, as bufio does.
const maxEmptyReads = 100

// Reader reads events from an SSE stream. It never holds more than maxEvent
// raw bytes of one event (and so never more than that of its data); a longer
// event is still delivered, in Partial chunks, so a relay can pass it on
// unchanged without buffering it whole.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	rd  io.Reader
	max int
	err error // sticky read error, reported once the buffered bytes are used up

	// buf[start:pos] holds the parsed raw bytes of the current event (or
	// chunk) and buf[pos:] bytes read but not parsed yet.
	buf        []byte
	start, pos int

	st      state
	bomPos  int  // bytes of a leading byte order mark matched so far
	skipLF  bool // the last line ended in CR at the end of the input so far: an LF next is part of that line ending
	inEvent bool // the current event has bytes beyond an LF skipped for skipLF
	chunked bool // a Partial chunk of the current event has been returned
	resume  bool // Next stopped for more fed bytes (Feeder): the event in progress keeps its start

	// The field of the line being parsed.
	field   field
	fname   [len("retry")]byte // enough to tell the known field names apart
	fnameN  int                // length of the field name, saturated at len(fname)+1
	idBad   bool               // the id value contains NUL or outgrew the bound
	retryOK bool               // the retry value is all digits so far
	retryN  int                // digits in the retry value
	retryMS int64

	// The event being parsed.
	data     []byte // data lines, each followed by "\n"
	sawData  bool
	dropping bool // data outgrew the bound (or a chunk went out) and is being dropped
	name     []byte
	nameBad  bool
	idTmp    []byte // the id value being read, committed to id at its line's end
	id       []byte // the last event ID buffer; outlives events, as the spec says
	retry    time.Duration
}

type state uint8

const (
	stBOM        state = iota // at the start of the stream, matching a byte order mark
	stLineStart               // at the start of a line
	stComment                 // in a comment line, skipping to its end
	stName                    // in a field name
	stValueStart              // just after the colon: one space there is dropped
	stValue                   // in a field value
)

type field uint8

const (
	fieldIgnored field = iota
	fieldData
	fieldEvent
	fieldID
	fieldRetry
)

var bom = [3]byte{0xEF, 0xBB, 0xBF}

// NewReader returns a Reader that reads from r and holds at most maxEvent
// raw bytes of one event; maxEvent <= 0 means DefaultMaxEvent.
func NewReader(r io.Reader, maxEvent int) *Reader {
	if maxEvent <= 0 {
		maxEvent = DefaultMaxEvent
	}
	rd := &Reader{max: maxEvent}
	rd.Reset(r)
	return rd
}

// Reset makes the Reader read a new stream from rd, keeping its buffers so
// a pooled Reader allocates nothing for the next stream. A zero Reader made
// ready with Reset has the DefaultMaxEvent bound.
func (r *Reader) Reset(rd io.Reader) {
	maxEvent := r.max
	if maxEvent <= 0 {
		maxEvent = DefaultMaxEvent
	}
	*r = Reader{
		rd:    rd,
		max:   maxEvent,
		buf:   r.buf[:0],
		data:  r.data[:0],
		name:  r.name[:0],
		idTmp: r.idTmp[:0],
		id:    r.id[:0],
		retry: -1,
	}
}

// Next returns the next event, or the next chunk of an event that outgrew
// the bound. It returns an event as soon as its terminating blank line has
// been read and never reads past it. Once the input ends, Next returns any
// bytes left over as one last Event (Incomplete when they hold an
// unterminated event), and then (Event{}, err) with the read error, io.EOF
// at the end of the stream. Every byte read appears in exactly one Raw.
//
// The returned slices are valid until the next call to Next or Reset.
func (r *Reader) Next() (Event, error) {
	// The previous event's bytes are no longer needed.
	if !r.resume {
		r.start = r.pos
	}
	r.resume = false
	for {
		if ev, ok := r.parse(); ok {
			return ev, nil
		}
		// Everything buffered is parsed and no event ended in it.
		if r.err == errFeedEmpty {
			// Not the end of the stream: a Feeder has no more bytes yet.
			r.err, r.resume = nil, true
			return Event{}, errFeedEmpty
		}
		if r.err != nil {
			return r.finish()
		}
		if ev, ok := r.fill(); ok {
			return ev, nil
		}
	}
}

// fill reads more input into buf, making room first. When the current event
// fills the whole bound instead, it returns that as a Partial chunk.
func (r *Reader) fill() (Event, bool) {
	if r.start == len(r.buf) {
		r.buf = r.buf[:0]
		r.start, r.pos = 0, 0
	}
	if len(r.buf) == cap(r.buf) {
		switch {
		case r.start > 0:
			n := copy(r.buf, r.buf[r.start:])
			r.buf = r.buf[:n]
			r.pos -= r.start
			r.start = 0
		case cap(r.buf) < r.max:
			size := min(max(2*cap(r.buf), initialBufSize), r.max)
			buf := make([]byte, len(r.buf), size)
			copy(buf, r.buf)
			r.buf = buf
		default:
			return r.partial(), true
		}
	}
	for range maxEmptyReads {
		n, err := r.rd.Read(r.buf[len(r.buf):cap(r.buf)])
		r.buf = r.buf[:len(r.buf)+n]
		if err != nil {
			r.err = err
			return Event{}, false
		}
		if n > 0 {
			return Event{}, false
		}
	}
	r.err = io.ErrNoProgress
	return Event{}, false
}

// partial returns the bound's worth of the current event as a chunk, and
// from then on drops the event's data: the relay has already forwarded part
// of it, so there is no whole event left to inspect.
func (r *Reader) partial() Event {
	r.chunked = true
	r.dropping = true
	r.data = r.data[:0]
	return Event{
		Raw:       r.buf[r.start:r.pos],
		ID:        r.id,
		Retry:     -1,
		Partial:   true,
		Truncated: true,
	}
}

// finish reports the bytes left when the input ended, then the error.
func (r *Reader) finish() (Event, error) {
	if r.start == len(r.buf) && !r.chunked {
		return Event{}, r.err
	}
	// Either bytes are left over, or an event went out in Partial chunks and
	// needs its closing chunk, even an empty one, so that every event ends
	// with a non-Partial Event.
	ev := Event{
		Raw:        r.buf[r.start:],
		ID:         r.id,
		Retry:      -1,
		Truncated:  r.chunked,
		Incomplete: r.inEvent,
	}
	r.pos = len(r.buf)
	r.resetEvent()
	r.st = stLineStart
	return ev, nil
}

// parse parses buf[pos:] up to the end of the next event, if one ends there.
func (r *Reader) parse() (Event, bool) {
	b := r.buf
	for r.pos < len(b) {
		switch r.st {
		case stBOM:
			c := b[r.pos]
			if c == bom[r.bomPos] {
				r.pos++
				r.inEvent = true
				if r.bomPos++; r.bomPos == len(bom) {
					r.st = stLineStart
				}
				continue
			}
			if r.bomPos == 0 {
				r.st = stLineStart
				continue
			}
			// A partial byte order mark is the start of a field name,
			// which can then match no known field.
			r.fnameN = len(r.fname) + 1
			r.st = stName

		case stLineStart:
			c := b[r.pos]
			if r.skipLF {
				r.skipLF = false
				if c == '\n' {
					r.pos++
					continue
				}
			}
			r.inEvent = true
			switch c {
			case '\n', '\r':
				r.eol(c)
				return r.dispatch(), true
			case ':':
				r.pos++
				r.st = stComment
			default:
				r.fnameN = 0
				r.st = stName
			}

		case stComment:
			i := indexEOL(b[r.pos:])
			if i < 0 {
				r.pos = len(b)
				continue
			}
			r.pos += i
			r.eol(b[r.pos])
			r.st = stLineStart

		case stName:
			for r.pos < len(b) {
				c := b[r.pos]
				if c == ':' {
					r.pos++
					r.beginField()
					r.st = stValueStart
					break
				}
				if c == '\n' || c == '\r' {
					// A line with no colon is a field with an empty value.
					r.beginField()
					r.endField()
					r.eol(c)
					r.st = stLineStart
					break
				}
				if r.fnameN < len(r.fname) {
					r.fname[r.fnameN] = c
				}
				if r.fnameN <= len(r.fname) {
					r.fnameN++
				}
				r.pos++
			}

		case stValueStart:
			if b[r.pos] == ' ' {
				r.pos++
			}
			r.st = stValue

		case stValue:
			rest := b[r.pos:]
			i := indexEOL(rest)
			if i < 0 {
				r.value(rest)
				r.pos = len(b)
				continue
			}
			r.value(rest[:i])
			r.endField()
			r.pos += i
			r.eol(b[r.pos])
			r.st = stLineStart
		}
	}
	return Event{}, false
}

// eol consumes the line ending whose first byte c is at pos. A CR whose LF
// has not arrived yet must not make Next wait for it, so skipLF remembers to
// drop that LF if it comes next.
func (r *Reader) eol(c byte) {
	r.pos++
	if c != '\r' {
		return
	}
	if r.pos < len(r.buf) {
		if r.buf[r.pos] == '\n' {
			r.pos++
		}
		return
	}
	r.skipLF = true
}

func (r *Reader) beginField() {
	r.field = fieldIgnored
	if r.fnameN > len(r.fname) {
		return
	}
	switch string(r.fname[:r.fnameN]) {
	case "data":
		r.field = fieldData
	case "event":
		r.field = fieldEvent
		r.name = r.name[:0]
		r.nameBad = false
	case "id":
		r.field = fieldID
		r.idTmp = r.idTmp[:0]
		r.idBad = false
	case "retry":
		r.field = fieldRetry
		r.retryOK, r.retryN, r.retryMS = true, 0, 0
	}
}

// value handles the next piece of the current field's value; a value may
// arrive in many pieces when the input trickles in.
func (r *Reader) value(v []byte) {
	switch r.field {
	case fieldData:
		if r.dropping {
			return
		}
		// The raw bound already caps data (each data line's raw bytes are
		// longer than what it adds), but an explicit check keeps the
		// memory bound independent of that reasoning.
		if len(r.data)+len(v) >= r.max {
			r.dropping = true
			r.data = r.data[:0]
			return
		}
		r.data = append(r.data, v...)
	case fieldEvent:
		if r.nameBad || len(r.name)+len(v) > r.max {
			r.nameBad = true
			return
		}
		r.name = append(r.name, v...)
	case fieldID:
		if r.idBad || len(r.idTmp)+len(v) > r.max || indexNUL(v) >= 0 {
			r.idBad = true
			return
		}
		r.idTmp = append(r.idTmp, v...)
	case fieldRetry:
		for _, c := range v {
			if c < '0' || c > '9' {
				r.retryOK = false
				return
			}
			r.retryN++
			// Saturate instead of overflowing on absurdly long values.
			if r.retryMS < maxRetryMS {
				r.retryMS = min(r.retryMS*10+int64(c-'0'), maxRetryMS)
			}
		}
	}
}

// maxRetryMS is the largest retry that still fits a time.Duration.
const maxRetryMS = int64(1<<63-1) / int64(time.Millisecond) / 10

// endField handles the end of the current field's line.
func (r *Reader) endField() {
	switch r.field {
	case fieldData:
		r.sawData = true
		if !r.dropping {
			r.data = append(r.data, '\n')
		}
	case fieldID:
		if !r.idBad {
			r.id = append(r.id[:0], r.idTmp...)
		}
	case fieldRetry:
		if r.retryOK && r.retryN > 0 {
			r.retry = time.Duration(r.retryMS) * time.Millisecond
		}
	}
	r.field = fieldIgnored
}

// dispatch returns the event ended by the blank line just parsed.
func (r *Reader) dispatch() Event {
	ev := Event{
		Raw:       r.buf[r.start:r.pos],
		ID:        r.id,
		Retry:     r.retry,
		HasData:   r.sawData,
		Truncated: r.chunked || r.dropping,
	}
	if !r.nameBad {
		ev.Name = r.name
	}
	if r.sawData && !ev.Truncated {
		ev.Data = r.data[:len(r.data)-1]
	}
	r.resetEvent()
	return ev
}

// resetEvent forgets the event just returned, except the last event ID,
// which the spec keeps. Buffers keep their capacity (the returned Event
// still points into them until the next call).
func (r *Reader) resetEvent() {
	r.data = r.data[:0]
	r.sawData = false
	r.dropping = false
	r.name = r.name[:0]
	r.nameBad = false
	r.retry = -1
	r.chunked = false
	r.inEvent = false
	r.field = fieldIgnored
}
