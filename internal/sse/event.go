package sse

import "time"

// Event is one event, or one chunk of an event, read by Reader.Next.
//
// Raw, Data, Name and ID alias the Reader's buffers: they are valid until the
// next call to Next or Reset. Copy what must outlive that. They are byte
// slices rather than strings so that reading an event allocates nothing;
// comparing string(ev.Name) == "message" does not allocate either.
type Event struct {
	// Raw is the event's exact bytes as read, its terminating blank line
	// included, for a relay to write through unchanged. For a Partial chunk
	// it is that chunk's bytes only.
	Raw []byte

	// Data is the event's data lines joined with "\n", without the final
	// newline, as the spec dispatches it. It is nil when the event has no
	// data field, or when it is Truncated, Partial or Incomplete.
	Data []byte

	// Name is the value of the event's last "event" field (empty when there
	// was none; the spec then dispatches the type "message").
	Name []byte

	// ID is the stream's last event ID after this event's lines: an "id"
	// field sets it for this and every later event, as the spec says, unless
	// its value contains NUL.
	ID []byte

	// Retry is the reconnection time from the event's last valid "retry"
	// field, or -1 when it had none.
	Retry time.Duration

	// HasData is set when the event has at least one data field: the spec
	// dispatches exactly those events (a block of only comments, ids or
	// blank lines is not dispatched, but its Raw still has to be relayed).
	HasData bool

	// Partial is set on each chunk of an event whose raw bytes outgrew the
	// Reader's bound. More chunks of the same event follow; the last one has
	// Partial unset and Truncated set.
	Partial bool

	// Truncated is set on every chunk of an event that outgrew the bound:
	// its Data was dropped, and Raw holds only this chunk.
	Truncated bool

	// Incomplete is set when the stream ended (or failed) in the middle of
	// an event: Raw holds its remaining bytes, which have no terminating
	// blank line, and the spec says such an event is not dispatched.
	Incomplete bool
}

// Dispatched reports whether the spec dispatches the event to a listener:
// it is complete and has data. Data is then the whole data unless Truncated.
func (e *Event) Dispatched() bool {
	return e.HasData && !e.Partial && !e.Incomplete
}
