package aggregate

import (
	"net/http"
	"time"

	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// Idle sessions are closed here rather than by the SDK's SessionTimeout:
// fast-path calls (fastpath.go) never reach the SDK, so its timer would
// expire a session that is in steady use.

// touch marks the request's session in use until done is called: a POST
// keeps it busy (as the SDK counts); a GET stream, which may stay open for
// the session's whole life, only counts as use when it opens.
func (a *Aggregator) touch(r *http.Request) (done func()) {
	sid := r.Header.Get(mcpwire.HeaderSessionID)
	if sid == "" || a.opts.SessionTimeout <= 0 {
		return func() {}
	}
	s := a.sessionByID(sid)
	if s == nil {
		return func() {}
	}
	s.lastUsed.Store(time.Now().UnixNano())
	if r.Method != http.MethodPost {
		return func() {}
	}
	s.busy.Add(1)
	return func() {
		s.lastUsed.Store(time.Now().UnixNano())
		s.busy.Add(-1)
	}
}

// reapIdle closes, every tick, the sessions with no POST in flight and no
// request for SessionTimeout, and those that have not sent
// notifications/initialized within InitializeTimeout of being opened (a
// client that initializes and goes away would otherwise hold a slot and its
// backend sessions, stdio children included, for SessionTimeout), until
// stop closes.
func (a *Aggregator) reapIdle(stop <-chan struct{}) {
	every := a.opts.InitializeTimeout / 4
	if a.opts.SessionTimeout > 0 {
		every = min(every, a.opts.SessionTimeout/4)
	}
	t := time.NewTicker(min(max(every, 10*time.Millisecond), time.Minute))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			var idle, uninit []*session
			a.mu.Lock()
			for s := range a.sessions {
				switch {
				case !s.initialized.Load() && now.Sub(s.opened) > a.opts.InitializeTimeout:
					uninit = append(uninit, s)
				case a.opts.SessionTimeout > 0 && s.busy.Load() == 0 && now.Sub(time.Unix(0, s.lastUsed.Load())) > a.opts.SessionTimeout:
					idle = append(idle, s)
				}
			}
			a.mu.Unlock()
			for _, s := range idle {
				a.log.Debug("closing an idle client session", "session", record.SessionRef(s.ss.ID()))
				a.expire(s)
			}
			for _, s := range uninit {
				a.log.Info("closing a client session that never sent notifications/initialized", "initialize_timeout", a.opts.InitializeTimeout)
				a.expire(s)
			}
		}
	}
}

// expire closes s, expired in this replica. With Options.Handoff that is
// only this replica's copy: the client may be busy with the session on
// another (a load balancer without affinity spreads its requests, and the
// notifications/initialized of a session opened here may be what another
// replica adopted it for), whose copy holds the same backend sessions. So
// the copy is dropped as Close drops it, without ending them; the
// backends' own idle timeouts end them once no replica uses them, and the
// client's DELETE, wherever it lands, ends them before that.
func (a *Aggregator) expire(s *session) {
	if a.opts.Handoff {
		s.detached.Store(true)
	}
	_ = s.ss.Close() // Wait returns: the session's cleanup runs
}
