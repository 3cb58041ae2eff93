package stdiorelay

import (
	"net/http"
	"sync"
	"time"

	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/record"
)

// statelessConn is one principal's child for stateless (2026-07-28)
// traffic under session isolation. Sending every principal's stateless
// requests to the one shared child would let them share a server's state
// (its logging level, subscriptions, whatever a tool keeps in memory),
// which is exactly what session isolation promises they do not.
//
// The gateway does not initialize the child: a 2026-07-28 server takes each
// stateless request on its own, with the revision and client capabilities
// in its params._meta, and treats an initialize as the start of a
// session-era connection instead. A session-era server answers a stateless
// request as it would without initialize (typically -32601 for
// server/discover), which is the answer the client needs to fall back to a
// session. The conn is a sharedConn because one principal may run several
// stateless clients at once, whose request ids must not collide.
type statelessConn struct {
	owner    string
	conn     *sharedConn
	lastUsed time.Time // guarded by Relay.mu, as is active
	active   int
}

// statelessExchange relays a stateless POST to the principal's child,
// starting it (within the session limits) when there is none.
func (r *Relay) statelessExchange(w http.ResponseWriter, req *http.Request, in *inspect.Request) {
	rec := record.FromContext(req.Context())
	sc, err := r.acquireStateless(principalOf(rec))
	if err != nil {
		r.startFailed(w, rec, in, err)
		return
	}
	defer r.releaseStateless(sc)
	r.exchange(w, req, in, nil, sc.conn, false)
}

// acquireStateless returns owner's stateless conn, counting the caller as
// active on it so the janitor leaves it alone. Its child starts on the
// first send (sharedConn.running), spaced by the session children's
// back-off.
func (r *Relay) acquireStateless(owner string) (*statelessConn, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sc := r.stateless[owner]
	if sc == nil {
		if err := r.reserveLocked(owner); err != nil {
			return nil, err
		}
		sc = &statelessConn{
			owner: owner,
			// A stateless client has no stream a list-changed
			// notification could reach: there is nothing to broadcast to.
			conn: newSharedConn(r.opts.Command, r.log.With("child", "stateless"), r.backoff,
				func(item) {}, func() { r.opts.Telemetry.StdioRestart(r.opts.Name) }),
		}
		r.stateless[owner] = sc
	}
	sc.active++
	sc.lastUsed = time.Now()
	return sc, nil
}

func (r *Relay) releaseStateless(sc *statelessConn) {
	r.mu.Lock()
	sc.active--
	sc.lastUsed = time.Now()
	r.mu.Unlock()
}

// reapStateless stops the stateless children idle since before cutoff (all
// of them when cutoff is zero, at Close), and waits until they are gone.
func (r *Relay) reapStateless(cutoff time.Time) {
	r.mu.Lock()
	var idle []*statelessConn
	for owner, sc := range r.stateless {
		if cutoff.IsZero() || sc.active == 0 && sc.lastUsed.Before(cutoff) {
			idle = append(idle, sc)
			delete(r.stateless, owner)
			r.releaseLocked(owner)
		}
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, sc := range idle {
		wg.Go(sc.conn.close)
	}
	wg.Wait()
}
