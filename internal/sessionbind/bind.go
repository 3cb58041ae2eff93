package sessionbind

import (
	"container/list"
	"net/http"
	"sync"
	"time"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// Options configures a Binder. Zero fields take the defaults noted.
type Options struct {
	// IdleTimeout forgets a binding unused for this long; default 30m. It
	// should match the sessions' own idle timeout. A binding with a request
	// in flight (an open GET stream, a long POST) is in use, not idle.
	IdleTimeout time.Duration
	// MaxSessions bounds the bindings kept; default 100000. Beyond it the
	// least recently used binding of the principal holding the most is
	// forgotten, so that no principal can push out another's.
	MaxSessions int
	// AnonymousOnly is set when no credential mode is on (auth.mode is
	// anonymous alone): no two callers can be told apart, so a session id
	// the binder does not know is passed on for the backend to judge, and
	// the gateway stays transparent. Otherwise (the zero value) an unknown
	// id is refused to every caller, anonymous ones included.
	AnonymousOnly bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Binder is the session-binding stage.
type Binder struct {
	opts Options

	mu     sync.Mutex
	byID   map[string]*list.Element // in its owner's lru; Value is *binding
	owners map[string]*owner
	// byCount holds the owners by how many bindings they have, and most is
	// the largest count held: eviction takes from an owner in
	// byCount[most] without scanning every owner.
	byCount map[int]map[*owner]struct{}
	most    int
	total   int
}

// owner is one principal's bindings, most recently used at the front.
type owner struct {
	key string
	lru *list.List
}

type binding struct {
	id       string
	owner    *owner
	lastUsed time.Time
	inUse    int // requests in flight with this id
}

// New returns a Binder.
func New(opts Options) *Binder {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 30 * time.Minute
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = 100000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Binder{
		opts:    opts,
		byID:    map[string]*list.Element{},
		owners:  map[string]*owner{},
		byCount: map[int]map[*owner]struct{}{},
	}
}

// ownerOf is the binding key of a principal: issuer + "\n" + subject; ""
// for a request without one (every anonymous caller is the same owner).
func ownerOf(id *identity.Identity) string {
	if id == nil {
		return ""
	}
	return id.Issuer + "\n" + id.Subject
}

// Middleware is the stage. It runs after authn, so the record holds the
// request's identity, if any.
//
// A request with a session id is let through when the id is bound to the
// same principal (an anonymous caller's session to any anonymous caller).
// When the id is bound to another principal, or is not bound at all, it is
// answered 404: the gateway saw every session of its callers being created,
// so an id it does not know is nobody's it may admit — a binding it
// forgot (idle, evicted, lost in a restart) fails closed. Only with
// AnonymousOnly are unknown ids passed on. Sessions are bound when a
// response carries a new Mcp-Session-Id, and forgotten on a successful
// DELETE. While a request with the id is in flight the binding does not
// expire, and its end counts as use.
func (b *Binder) Middleware() func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := record.FromContext(r.Context())
			who := ownerOf(rec.Identity)
			sid := r.Header.Get(mcpwire.HeaderSessionID)
			if sid != "" {
				ok, held := b.acquire(sid, who)
				if !ok {
					rec.Fail(record.ReasonSessionNotFound, "session id not bound to this principal")
					mcpwire.WriteError(w, http.StatusNotFound, rec.RequestID(), mcpwire.CodeSessionNotFound, "session not found")
					return
				}
				if held {
					defer b.release(sid)
				}
			}
			bw := &bindingWriter{ResponseWriter: w, b: b, owner: who, sent: sid}
			next.ServeHTTP(bw, r)
			if r.Method == http.MethodDelete && sid != "" && bw.status >= 200 && bw.status < 300 {
				b.forget(sid)
			}
		})
	}
}

// acquire reports whether a request of principal who may use session sid
// (ok) and, when the id is bound to who, marks the binding in use
// (refreshed) until release (held). Another principal's request touches nothing:
// probing an id neither keeps it alive nor moves it up.
func (b *Binder) acquire(sid, who string) (ok, held bool) {
	now := b.opts.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	e, known := b.byID[sid]
	if known {
		if bd := e.Value.(*binding); bd.inUse == 0 && now.Sub(bd.lastUsed) > b.opts.IdleTimeout {
			b.removeLocked(e)
			known = false
		}
	}
	if !known {
		return b.opts.AnonymousOnly, false
	}
	bd := e.Value.(*binding)
	if bd.owner.key != who {
		return false, false
	}
	bd.inUse++
	bd.lastUsed = now
	bd.owner.lru.MoveToFront(e)
	return true, true
}

// release ends a use acquire began; the end of a request (a GET stream
// closing after an hour) is use too.
func (b *Binder) release(sid string) {
	now := b.opts.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.byID[sid]
	if !ok {
		return // forgotten meanwhile (DELETE, eviction)
	}
	bd := e.Value.(*binding)
	if bd.inUse > 0 {
		bd.inUse--
	}
	bd.lastUsed = now
	bd.owner.lru.MoveToFront(e)
}

func (b *Binder) bind(sid, key string) {
	now := b.opts.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.byID[sid]; ok {
		// A backend re-issuing a live id must not move it to another owner.
		bd := e.Value.(*binding)
		bd.lastUsed = now
		bd.owner.lru.MoveToFront(e)
		return
	}
	o := b.owners[key]
	if o == nil {
		o = &owner{key: key, lru: list.New()}
		b.owners[key] = o
	}
	b.setCountLocked(o, o.lru.Len()+1)
	b.byID[sid] = o.lru.PushFront(&binding{id: sid, owner: o, lastUsed: now})
	b.total++
	for b.total > b.opts.MaxSessions {
		// The principal holding the most gives up its least recently
		// used binding: a principal opening sessions without end only
		// ever pushes out its own. Among equals, the one binding now
		// pays, so that the choice never depends on map order.
		top := o
		if top.lru.Len() < b.most {
			for o := range b.byCount[b.most] {
				top = o
				break
			}
		}
		b.removeLocked(top.lru.Back())
	}
}

func (b *Binder) forget(sid string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.byID[sid]; ok {
		b.removeLocked(e)
	}
}

// removeLocked drops a binding; b.mu held.
func (b *Binder) removeLocked(e *list.Element) {
	bd := e.Value.(*binding)
	o := bd.owner
	b.setCountLocked(o, o.lru.Len()-1)
	o.lru.Remove(e)
	delete(b.byID, bd.id)
	b.total--
	if o.lru.Len() == 0 {
		delete(b.owners, o.key)
	}
}

// setCountLocked moves o from the bucket of its current count to that of n
// (n = current ± 1), keeping most the largest non-empty bucket; b.mu held.
func (b *Binder) setCountLocked(o *owner, n int) {
	if cur := o.lru.Len(); cur > 0 {
		delete(b.byCount[cur], o)
		if len(b.byCount[cur]) == 0 {
			delete(b.byCount, cur)
		}
	}
	if n > 0 {
		if b.byCount[n] == nil {
			b.byCount[n] = map[*owner]struct{}{}
		}
		b.byCount[n][o] = struct{}{}
	}
	for b.most > 0 && len(b.byCount[b.most]) == 0 {
		b.most--
	}
	b.most = max(b.most, n)
}

// Len returns the number of bindings held.
func (b *Binder) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

// bindingWriter binds a session id the moment its response headers go out,
// before the client can use the id.
type bindingWriter struct {
	http.ResponseWriter
	b      *Binder
	owner  string
	sent   string // the session id the request carried
	status int
}

func (w *bindingWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
		if sid := w.Header().Get(mcpwire.HeaderSessionID); sid != "" && sid != w.sent && code < 300 {
			w.b.bind(sid, w.owner)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *bindingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

func (w *bindingWriter) Flush() {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *bindingWriter) FlushError() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *bindingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
