package stdiorelay

import (
	"sync"
	"time"

	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

// conn is the backend side of a client exchange: one child per session, or
// the shared child.
type conn interface {
	// send registers l for the responses to the requests in in (and, when
	// l.sse, for messages related to them), then writes the messages to the
	// child. s is the client session, nil for stateless traffic. meta, when
	// not nil, holds per message the params._meta members to set (the trace
	// context of its CLIENT span).
	send(l *listener, in *inspect.Request, s *session, meta [][]jsonrpc.MetaKV) error
	// forget drops l's registrations once its exchange is over; requests
	// still unanswered are abandoned (and, where the protocol says closing
	// the stream cancels, cancelled).
	forget(l *listener)
	// close stops what the conn owns.
	close()
}

// session is one client session: its streams, what the backend sent while
// no stream was open, and the conn that reaches its backend.
type session struct {
	id      string
	done    chan struct{} // closed when the session ends
	started time.Time
	version string // the protocol revision initialize offered, for metrics
	owner   string // principalOf the client that opened it

	mu       sync.Mutex
	conn     conn        // nil until the backend is attached
	streams  []*listener // open SSE streams, newest last
	backlog  []item      // messages that found no open stream
	lastUsed time.Time
	active   int // exchanges in flight
	ended    bool
}

func newSession(id string) *session {
	now := time.Now()
	return &session{id: id, done: make(chan struct{}), lastUsed: now, started: now}
}

// attach sets the session's conn; it reports false, leaving the conn to
// the caller to stop, when the session ended while its child was starting.
func (s *session) attach(c conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	s.conn = c
	return true
}

// backend returns the session's conn, nil while it is starting.
func (s *session) backend() conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

// route delivers a message that is not tied to one request — a server
// request such as sampling, a log message, a list-changed notification — to
// the newest open stream, or keeps it for the next one. Clients read every
// stream they hold open, so any open stream reaches them.
func (s *session) route(it item) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routeLocked(it)
}

func (s *session) routeLocked(it item) {
	for i := len(s.streams) - 1; i >= 0; i-- {
		if s.streams[i].push(it) {
			return
		}
	}
	if len(s.backlog) < maxBacklog {
		s.backlog = append(s.backlog, it)
	}
}

// addStream opens l for session-wide messages and hands it the backlog.
func (s *session) addStream(l *listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.streams = append(s.streams, l)
	for _, it := range s.backlog {
		l.push(it)
	}
	s.backlog = nil
}

// removeStream closes l to session-wide messages. Those routed to it that
// it never wrote (a POST stream ends with its last response; a GET stream
// when its client leaves) go to another stream or back to the backlog, so
// none is lost.
func (s *session) removeStream(l *listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.streams {
		if x == l {
			s.streams = append(s.streams[:i], s.streams[i+1:]...)
			for _, it := range l.close() {
				if !it.response {
					s.routeLocked(it)
				}
			}
			return
		}
	}
}

func (s *session) acquire() {
	s.mu.Lock()
	s.active++
	s.lastUsed = time.Now()
	s.mu.Unlock()
}

func (s *session) release() {
	s.mu.Lock()
	s.active--
	s.lastUsed = time.Now()
	s.mu.Unlock()
}

// idleSince reports when the session was last used, and whether it is
// idle now (no exchange or stream open).
func (s *session) idleSince() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastUsed, s.active == 0
}

// end marks the session over; it reports false if it already was.
func (s *session) end() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	s.ended = true
	close(s.done)
	return true
}
