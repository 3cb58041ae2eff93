package sealedsession

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
	"github.com/mcpgate/mcpgate/internal/sessionseal"
)

// Adopter is a backend whose sessions hold state in the replica that
// serves them (the aggregator), and that can rebuild a session from what
// its token carries.
type Adopter interface {
	// Export returns each backend's session id of the live local session
	// sid, to seal; ok is false when sid is not one.
	Export(sid string) (backends []sessionseal.Backend, ok bool)
	// Has reports whether sid is a live local session.
	Has(sid string) bool
	// Adopt makes the sealed session s a live local session of principal
	// id and returns its local id.
	Adopt(ctx context.Context, id *identity.Identity, s *sessionseal.Session) (string, error)
}

// Options configures the stage.
type Options struct {
	Ring     *sessionseal.Ring
	Lifetime time.Duration // a token's expiry after its session's creation
	// Replica is this process's name (sessions.replica).
	Replica string
	// Pinned is set when the backend's sessions cannot move to another
	// replica: their tokens name Replica, and other replicas refuse them.
	Pinned bool
	// Adopter, if set, is asked for each backend's session id when a
	// session is created, and to rebuild sessions this replica does not
	// hold. Nil for a relay, whose sessions are the backend's alone.
	Adopter Adopter
	// MaxAdopted bounds the remembered adoptions (token to local id);
	// default 100000.
	MaxAdopted int
	Log        *slog.Logger
	Now        func() time.Time // nil means time.Now
}

// Stage is the sealed-session stage.
type Stage struct {
	opts Options

	mu       sync.Mutex
	adopted  map[string]string    // token → local session id on this replica
	pending  map[string]*adoption // token → an adoption in progress
	lastWarn atomic.Int64         // unix nanos of the last pinned-session warning
}

type adoption struct {
	done  chan struct{}
	local string
	err   error
}

// New returns the stage.
func New(opts Options) *Stage {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.MaxAdopted <= 0 {
		opts.MaxAdopted = 100000
	}
	return &Stage{opts: opts, adopted: map[string]string{}, pending: map[string]*adoption{}}
}

// Middleware is the stage. It runs after authn: the record holds the
// caller's identity, which must own the session.
func (st *Stage) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := record.FromContext(r.Context())
		issuer, subject := principal(rec.Identity)
		token := r.Header.Get(mcpwire.HeaderSessionID)
		sw := &sealingWriter{ResponseWriter: w, st: st, r: r, rec: rec, issuer: issuer, subject: subject}
		if token != "" {
			local, refused := st.open(r, rec, token, issuer, subject)
			switch refused {
			case refusedUnknown:
				mcpwire.WriteError(w, http.StatusNotFound, rec.RequestID(), mcpwire.CodeSessionNotFound, "session not found")
				return
			case refusedAtCapacity:
				w.Header().Set("Retry-After", retryAfterCapacity)
				mcpwire.WriteError(w, http.StatusServiceUnavailable, rec.RequestID(), mcpwire.CodeGateway, "too many sessions; retry later")
				return
			}
			setOne(r.Header, local)
			sw.token, sw.local = token, local
		}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			// A handler that writes nothing gets net/http's implicit 200,
			// headers as they are: the session id must be replaced first.
			sw.WriteHeader(http.StatusOK)
		}
		if sw.failed {
			return
		}
		if token != "" && r.Method == http.MethodDelete && sw.status >= 200 && sw.status < 300 && st.opts.Adopter != nil {
			st.forget(token)
		}
	})
}

// setOne sets the session id header of h to v, in place when it holds
// one value already (inspect lets a request carry one at most): no
// allocation per request.
func setOne(h http.Header, v string) {
	if vs := h[mcpwire.HeaderSessionID]; len(vs) == 1 {
		vs[0] = v
		return
	}
	h.Set(mcpwire.HeaderSessionID, v)
}

// principal is the identity a session is sealed for; every anonymous
// caller is the same one.
func principal(id *identity.Identity) (issuer, subject string) {
	if id == nil {
		return "", ""
	}
	return id.Issuer, id.Subject
}

// refusal is why open refused a token.
type refusal int

const (
	accepted          refusal = iota
	refusedUnknown            // answered as an unknown session: 404
	refusedAtCapacity         // this replica cannot take one more session now: 503
)

// retryAfterCapacity is the Retry-After of a session this replica could
// not adopt at its session caps, as for a new session at them.
const retryAfterCapacity = "5"

// open returns the local session id token stands for, or records why the
// request is refused.
func (st *Stage) open(r *http.Request, rec *record.Record, token, issuer, subject string) (string, refusal) {
	s, err := st.opts.Ring.Open(token, issuer, subject)
	if err != nil {
		rec.Fail(record.ReasonSessionNotFound, "session token refused: "+sessionseal.Reason(err))
		return "", refusedUnknown
	}
	if s.Replica != "" && s.Replica != st.opts.Replica {
		rec.Fail(record.ReasonSessionNotFound, "session pinned to replica "+s.Replica)
		st.warnPinned(s.Replica)
		return "", refusedUnknown
	}
	if st.opts.Adopter == nil {
		return s.BackendID, accepted
	}
	local, err := st.localOf(r.Context(), rec.Identity, token, &s)
	var capped interface{ SessionLimit() bool }
	switch {
	case errors.As(err, &capped) && capped.SessionLimit():
		rec.Fail(record.ReasonSessionLimit, "session limit reached: the session cannot be resumed on this replica now")
		return "", refusedAtCapacity
	case err != nil:
		rec.Fail(record.ReasonSessionNotFound, "session could not be resumed on this replica: "+err.Error())
		return "", refusedUnknown
	}
	return local, accepted
}

// warnPinned logs, at most once a second, that a pinned session reached
// another replica: the load balancer is not routing by session.
func (st *Stage) warnPinned(owner string) {
	now := st.opts.Now().UnixNano()
	last := st.lastWarn.Load()
	if now-last < int64(time.Second) || !st.lastWarn.CompareAndSwap(last, now) {
		return
	}
	st.opts.Log.Warn("session is pinned to another replica: its backend (a stdio child) lives there; "+
		"route this backend's traffic with Mcp-Session-Id affinity (docs/deployment.md, \"What cannot move\")",
		"replica", st.opts.Replica, "owner", owner)
}

// localOf returns the live local session token stands for, adopting it
// when this replica holds none; concurrent requests of one token share
// one adoption.
func (st *Stage) localOf(ctx context.Context, id *identity.Identity, token string, s *sessionseal.Session) (string, error) {
	ad := st.opts.Adopter
	if ad.Has(s.BackendID) {
		return s.BackendID, nil
	}
	st.mu.Lock()
	if local, ok := st.adopted[token]; ok && ad.Has(local) {
		st.mu.Unlock()
		return local, nil
	}
	if p := st.pending[token]; p != nil {
		st.mu.Unlock()
		select {
		case <-p.done:
			return p.local, p.err
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	p := &adoption{done: make(chan struct{})}
	st.pending[token] = p
	st.mu.Unlock()

	// The adoption outlives a client that gives up: others may wait on it.
	p.local, p.err = ad.Adopt(context.WithoutCancel(ctx), id, s)
	st.mu.Lock()
	delete(st.pending, token)
	if p.err == nil {
		st.rememberLocked(token, p.local)
	}
	st.mu.Unlock()
	close(p.done)
	return p.local, p.err
}

// rememberLocked records an adoption, first dropping those whose session
// has ended when the table is full, then any; st.mu held.
func (st *Stage) rememberLocked(token, local string) {
	if len(st.adopted) >= st.opts.MaxAdopted {
		for t, l := range st.adopted {
			if !st.opts.Adopter.Has(l) {
				delete(st.adopted, t)
			}
		}
		for t := range st.adopted {
			if len(st.adopted) < st.opts.MaxAdopted {
				break
			}
			delete(st.adopted, t)
		}
	}
	st.adopted[token] = local
}

func (st *Stage) forget(token string) {
	st.mu.Lock()
	delete(st.adopted, token)
	st.mu.Unlock()
}

// seal returns the token of a session the backend just created, whose id
// is local: what the initialize request declared, each backend's session
// when aggregating, and this replica's name when the session cannot move.
func (st *Stage) seal(r *http.Request, local, issuer, subject string) (string, error) {
	now := st.opts.Now()
	s := sessionseal.Session{BackendID: local, Created: now, Expires: now.Add(st.opts.Lifetime)}
	if st.opts.Pinned {
		s.Replica = st.opts.Replica
	}
	declared(r, &s, st.opts.Adopter != nil)
	if st.opts.Adopter != nil {
		s.Backends, _ = st.opts.Adopter.Export(local)
	}
	tok, err := st.opts.Ring.Seal(nil, &s, issuer, subject)
	if errors.Is(err, sessionseal.ErrTooLarge) && st.opts.Adopter == nil {
		// A relay needs none of the declaration to serve the session:
		// keep the token within bounds without it.
		s.ClientName, s.ClientVersion, s.Capabilities = "", "", ""
		tok, err = st.opts.Ring.Seal(nil, &s, issuer, subject)
	}
	return string(tok), err
}

// declared copies what the initialize request of r declared into s: the
// revision it asked for (negotiation replayed from it picks the same one),
// its clientInfo and, when withCaps, its capabilities (an aggregated
// session is rebuilt from them; a relay's backend keeps its own).
func declared(r *http.Request, s *sessionseal.Session, withCaps bool) {
	in := inspect.FromContext(r.Context())
	if in == nil || in.Body.Batch || len(in.Body.Messages) != 1 || in.Body.Messages[0].Method != "initialize" {
		return
	}
	m := &in.Body.Messages[0]
	s.Protocol, s.ClientName, s.ClientVersion = m.ProtocolVersion, m.ClientName, m.ClientVersion
	if !withCaps {
		return
	}
	var body struct {
		Params struct {
			Capabilities json.RawMessage `json:"capabilities"`
		} `json:"params"`
	}
	if json.Unmarshal(in.Raw, &body) == nil && len(body.Params.Capabilities) > 0 && string(body.Params.Capabilities) != "null" {
		s.Capabilities = string(body.Params.Capabilities)
	}
}
