package stdiorelay

import "sync"

// item is one message from the backend on its way to a client stream.
type item struct {
	data     []byte
	response bool   // a result or error
	id       string // the response's id as the client wrote it
	errCode  int64
	errMsg   string
	hasError bool
	isError  bool // result.isError
	gateway  bool // the gateway's own error: the backend never answered
}

// listener collects the messages bound for one client stream: a POST that
// awaits responses, or a GET stream. Pushes never block, so a slow client
// cannot stall the goroutine reading the child's stdout; what bounds the
// queue is that a POST stream only receives what relates to it, and a
// backlog of unrelated messages is capped.
type listener struct {
	sse    bool // it can take messages other than its responses
	notify chan struct{}

	mu     sync.Mutex
	queue  []item
	closed bool
}

// maxBacklog caps messages queued for one stream that are not responses.
const maxBacklog = 1024

func newListener(sse bool) *listener {
	return &listener{sse: sse, notify: make(chan struct{}, 1)}
}

// push queues it and reports whether the listener took it.
func (l *listener) push(it item) bool {
	l.mu.Lock()
	if l.closed || (!it.response && len(l.queue) >= maxBacklog) {
		l.mu.Unlock()
		return false
	}
	l.queue = append(l.queue, it)
	l.mu.Unlock()
	select {
	case l.notify <- struct{}{}:
	default:
	}
	return true
}

// take returns everything queued so far.
func (l *listener) take(buf []item) []item {
	l.mu.Lock()
	buf = append(buf[:0], l.queue...)
	clear(l.queue)
	l.queue = l.queue[:0]
	l.mu.Unlock()
	return buf
}

// close stops the listener taking messages and returns those it had not
// handed out.
func (l *listener) close() []item {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	q := l.queue
	l.queue = nil
	return q
}
