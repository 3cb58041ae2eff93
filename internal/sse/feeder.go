package sse

import "errors"

// errFeedEmpty is what a Feeder's source returns once the bytes fed so far
// are used up: its Reader then stops, keeping the event in progress, rather
// than treating it as the end of the stream.
var errFeedEmpty = errors.New("sse: no more bytes fed")

// Feeder parses a stream pushed to it piece by piece: what a writer-side
// watcher (an http.ResponseWriter wrapper) sees of a stream is Write calls,
// not an io.Reader. It is a Reader fed by Feed, with the same events, bound
// and chunking.
//
// A Feeder is not safe for concurrent use.
type Feeder struct {
	r   Reader
	src feed
}

type feed struct{ p []byte }

func (f *feed) Read(b []byte) (int, error) {
	if len(f.p) == 0 {
		return 0, errFeedEmpty
	}
	n := copy(b, f.p)
	f.p = f.p[n:]
	return n, nil
}

// NewFeeder returns a Feeder holding at most maxEvent raw bytes of one
// event; maxEvent <= 0 means DefaultMaxEvent.
func NewFeeder(maxEvent int) *Feeder {
	f := &Feeder{}
	f.r.max = maxEvent
	f.r.Reset(&f.src)
	return f
}

// Feed parses the next bytes of the stream and calls fn with each event (or
// Partial chunk) that ends in them; an event begun in p that does not end
// there is completed by later Feeds. ev and its slices are valid only
// during fn.
func (f *Feeder) Feed(p []byte, fn func(ev *Event)) {
	f.src.p = p
	for {
		ev, err := f.r.Next()
		if err != nil {
			return
		}
		fn(&ev)
	}
}
