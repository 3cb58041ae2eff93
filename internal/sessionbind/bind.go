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
	// should match the sessions' own idle timeout.
	IdleTimeout time.Duration
	// MaxSessions bounds the bindings kept; the least recently used are
	// forgotten first. Default 100000.
	MaxSessions int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Binder is the session-binding stage.
type Binder struct {
	opts Options

	mu    sync.Mutex
	byID  map[string]*list.Element
	order *list.List // of *binding, most recently used at the front
}

type binding struct {
	id       string
	owner    string // issuer + "\n" + subject; "" for an unauthenticated creator
	lastUsed time.Time
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
	return &Binder{opts: opts, byID: map[string]*list.Element{}, order: list.New()}
}

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
// same principal. When the id is bound to another principal, or — for an
// authenticated request — is not bound at all, it is answered 404: the
// gateway saw every session of its principals being created, so an id it
// does not know is not theirs. Unauthenticated requests with unknown ids
// pass, so that with anonymous access the gateway stays transparent.
// Sessions are bound when a response carries a new Mcp-Session-Id, and
// forgotten on a successful DELETE.
func (b *Binder) Middleware() func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := record.FromContext(r.Context())
			owner := ownerOf(rec.Identity)
			sid := r.Header.Get(mcpwire.HeaderSessionID)
			if sid != "" {
				bound, known := b.owner(sid)
				if (known && bound != owner) || (!known && owner != "") {
					rec.Fail(record.ReasonSessionNotFound, "session id not bound to this principal")
					mcpwire.WriteError(w, http.StatusNotFound, requestID(rec), mcpwire.CodeSessionNotFound, "session not found")
					return
				}
			}
			bw := &bindingWriter{ResponseWriter: w, b: b, owner: owner, sent: sid}
			next.ServeHTTP(bw, r)
			if r.Method == http.MethodDelete && sid != "" && bw.status >= 200 && bw.status < 300 {
				b.forget(sid)
			}
		})
	}
}

// owner reports the principal a session is bound to, refreshing its use.
func (b *Binder) owner(sid string) (string, bool) {
	now := b.opts.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.byID[sid]
	if !ok {
		return "", false
	}
	bd := e.Value.(*binding)
	if now.Sub(bd.lastUsed) > b.opts.IdleTimeout {
		b.order.Remove(e)
		delete(b.byID, sid)
		return "", false
	}
	bd.lastUsed = now
	b.order.MoveToFront(e)
	return bd.owner, true
}

func (b *Binder) bind(sid, owner string) {
	now := b.opts.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.byID[sid]; ok {
		// A backend re-issuing a live id must not move it to another owner.
		e.Value.(*binding).lastUsed = now
		b.order.MoveToFront(e)
		return
	}
	b.byID[sid] = b.order.PushFront(&binding{id: sid, owner: owner, lastUsed: now})
	for b.order.Len() > b.opts.MaxSessions {
		oldest := b.order.Back()
		b.order.Remove(oldest)
		delete(b.byID, oldest.Value.(*binding).id)
	}
}

func (b *Binder) forget(sid string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.byID[sid]; ok {
		b.order.Remove(e)
		delete(b.byID, sid)
	}
}

// Len returns the number of bindings held.
func (b *Binder) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.order.Len()
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

// requestID is the id of the request the record holds when it is a single
// request, else nil: an error about the whole HTTP request answers that
// request, as the JSON-RPC and MCP specifications want its id echoed.
func requestID(rec *record.Record) []byte {
	if len(rec.Ops) != 1 || rec.Ops[0].Kind != "request" || rec.Ops[0].ID == "" {
		return nil
	}
	return []byte(rec.Ops[0].ID)
}
