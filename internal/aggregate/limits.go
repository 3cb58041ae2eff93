package aggregate

import (
	"net/http"
	"sync"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// Every client session opens a session with every backend — a child
// process for each stdio backend — so client sessions are capped: in all
// (Options.MaxSessions) and per principal (Options.MaxSessionsPerPrincipal;
// every anonymous caller together is one principal). A request that would
// open one more is answered 503 with Retry-After, as the relay answers
// beyond its maxSessions. A session holds its slot from the request that
// opens it until it ends; one that never says notifications/initialized
// is closed after Options.InitializeTimeout (idle.go).

// retryAfterSessions is the Retry-After of a refused session, in seconds
// (the relay's).
const retryAfterSessions = "5"

// sessionSlots counts the client sessions open or opening.
type sessionSlots struct {
	max, perPrincipal int // 0: no cap

	mu    sync.Mutex
	open  int
	byWho map[string]int
}

// slot is one session's place in sessionSlots, freed once.
type slot struct {
	slots *sessionSlots
	who   string
	once  sync.Once
}

func principalKey(id *identity.Identity) string {
	if id == nil {
		return ""
	}
	return id.Issuer + "\n" + id.Subject
}

// tryTake reserves a slot for a session of principal key who, or returns
// nil at a cap, telling whether the cap was the principal's own
// (perPrincipal) rather than the total.
func (ss *sessionSlots) tryTake(who string) (sl *slot, perPrincipal bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.perPrincipal > 0 && ss.byWho[who] >= ss.perPrincipal {
		return nil, true
	}
	if ss.max > 0 && ss.open >= ss.max {
		return nil, false
	}
	ss.open++
	ss.byWho[who]++
	return &slot{slots: ss, who: who}, false
}

// takeSlot reserves a slot for a new or adopted session of id. With
// Options.Handoff (sealed sessions), a session this replica holds is a
// copy of what its token carries, rebuilt on demand: behind a balancer
// without affinity every replica holds copies of sessions the client uses
// elsewhere, or ended elsewhere (a DELETE reaches one replica), which
// would fill the caps with sessions nobody uses here. So at a cap the
// least recently used copy with no request in flight — of the principal,
// at its own cap — is dropped (its backend sessions left open) to make
// room; only when every copy in scope is busy is the request refused.
func (a *Aggregator) takeSlot(id *identity.Identity) *slot {
	who := principalKey(id)
	for range 3 { // another request may take the room made first
		sl, own := a.slots.tryTake(who)
		// Only where requests in flight are counted (touch) is a copy
		// known to be idle.
		if sl != nil || !a.opts.Handoff || a.opts.SessionTimeout <= 0 || !a.dropIdleCopy(who, own) {
			return sl
		}
	}
	return nil
}

// dropIdleCopy drops the least recently used started session with no
// request in flight, of principal who when own, and reports whether there
// was one.
func (a *Aggregator) dropIdleCopy(who string, own bool) bool {
	var victim *session
	a.mu.Lock()
	for s := range a.sessions {
		if s.ss == nil || s.busy.Load() > 0 || own && principalKey(s.identity) != who {
			continue
		}
		if victim == nil || s.lastUsed.Load() < victim.lastUsed.Load() {
			victim = s
		}
	}
	a.mu.Unlock()
	if victim == nil {
		return false
	}
	a.log.Debug("dropping this replica's idle copy of a sealed session to make room", "session", record.SessionRef(victim.ss.ID()))
	victim.detached.Store(true)
	victim.slot.free() // now, for the request waiting; its end frees it again, a no-op
	go victim.ss.Close()
	return true
}

// free gives the slot back; later calls do nothing. A nil slot (a session
// that took none: Probe's) is fine.
func (sl *slot) free() {
	if sl == nil {
		return
	}
	sl.once.Do(func() {
		ss := sl.slots
		ss.mu.Lock()
		defer ss.mu.Unlock()
		ss.open--
		if ss.byWho[sl.who]--; ss.byWho[sl.who] <= 0 {
			delete(ss.byWho, sl.who)
		}
	})
}

// OpenSessions reports the client sessions open or opening, for tests and
// the operator.
func (a *Aggregator) OpenSessions() int {
	a.slots.mu.Lock()
	defer a.slots.mu.Unlock()
	return a.slots.open
}

// refuseSession answers a request that would open a session beyond a cap.
func refuseSession(w http.ResponseWriter, rec *record.Record, in *inspect.Request) {
	rec.Fail(record.ReasonSessionLimit, "session limit reached")
	w.Header().Set("Retry-After", retryAfterSessions)
	mcpwire.WriteError(w, http.StatusServiceUnavailable, rec.RequestID(), mcpwire.CodeGateway, "too many sessions; retry later")
}

// claim hands a session the slot its opening request took; settleSlot, when
// that request is over, frees the slot of a session that never started
// (the SDK refused the request, or closed the session before its first
// message was handled) and makes sure it never starts later.
func (s *session) claim(sl *slot) { s.slot = sl }

func (s *session) settleSlot() {
	s.life.Lock()
	started := s.began
	if !started {
		s.abandoned = true
	}
	s.life.Unlock()
	if !started {
		s.slot.free()
	}
}

// begin reports whether the session may start (connect its backends): not
// once settleSlot gave its slot up.
func (s *session) begin() bool {
	s.life.Lock()
	defer s.life.Unlock()
	if s.abandoned {
		return false
	}
	s.began = true
	return true
}
