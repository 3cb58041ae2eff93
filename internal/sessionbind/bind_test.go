package sessionbind

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

var (
	alice     = &identity.Identity{Issuer: "https://idp.example", Subject: "alice"}
	aliceKey  = &identity.Identity{Issuer: identity.APIKeyIssuer, Subject: "alice"} // same subject, other issuer
	bob       = &identity.Identity{Issuer: "https://idp.example", Subject: "bob"}
	anonymous *identity.Identity
)

// backend issues session "s-N" on POST without a session id, 204 on DELETE,
// and 200 otherwise.
func backend() http.Handler {
	n := 0
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case r.Header.Get(mcpwire.HeaderSessionID) == "":
			n++
			w.Header().Set(mcpwire.HeaderSessionID, "s-"+strconv.Itoa(n))
			w.WriteHeader(http.StatusOK)
		default:
			w.WriteHeader(http.StatusOK)
		}
	})
}

func do(h http.Handler, who *identity.Identity, method, sid string) (int, string) {
	req := httptest.NewRequest(method, "/mcp", nil)
	if sid != "" {
		req.Header.Set(mcpwire.HeaderSessionID, sid)
	}
	rec := &record.Record{Identity: who}
	req = req.WithContext(record.NewContext(req.Context(), rec))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code, w.Header().Get(mcpwire.HeaderSessionID)
}

func TestBinding(t *testing.T) {
	type step struct {
		who    *identity.Identity
		method string
		sid    string // "new" uses the id the first step created
		want   int
	}
	tests := []struct {
		name    string
		opts    Options
		creator *identity.Identity
		steps   []step
	}{
		{"creator continues its session", Options{}, alice, []step{{alice, "POST", "new", 200}, {alice, "GET", "new", 200}}},
		{"another principal gets 404", Options{}, alice, []step{{bob, "POST", "new", 404}, {alice, "POST", "new", 200}}},
		{"same subject from another issuer gets 404", Options{}, alice, []step{{aliceKey, "POST", "new", 404}}},
		{"anonymous caller of a principal's session gets 404", Options{}, alice, []step{{anonymous, "POST", "new", 404}}},
		{"principal cannot take over an anonymous session", Options{}, anonymous, []step{{alice, "POST", "new", 404}, {anonymous, "POST", "new", 200}}},
		{"authenticated caller with an unknown id gets 404", Options{}, alice, []step{{alice, "POST", "unknown", 404}}},
		{"anonymous caller with an unknown id gets 404", Options{}, anonymous, []step{{anonymous, "POST", "unknown", 404}}},
		{"anonymous caller of another anonymous caller's session passes", Options{}, anonymous, []step{{anonymous, "GET", "new", 200}}},
		{"anonymous-only: an unknown id passes through", Options{AnonymousOnly: true}, anonymous, []step{{anonymous, "POST", "unknown", 200}}},
		{"anonymous-only: a known id passes", Options{AnonymousOnly: true}, anonymous, []step{{anonymous, "POST", "new", 200}}},
		{"DELETE forgets the binding", Options{}, alice, []step{{alice, "DELETE", "new", 204}, {alice, "POST", "new", 404}}},
		{"another principal cannot DELETE", Options{}, alice, []step{{bob, "DELETE", "new", 404}, {alice, "POST", "new", 200}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(tt.opts).Middleware()(backend())
			code, sid := do(h, tt.creator, "POST", "")
			if code != 200 || sid == "" {
				t.Fatalf("initialize: %d %q", code, sid)
			}
			for i, s := range tt.steps {
				use := s.sid
				if use == "new" {
					use = sid
				}
				if got, _ := do(h, s.who, s.method, use); got != s.want {
					t.Fatalf("step %d (%s %s): status %d, want %d", i, s.method, s.sid, got, s.want)
				}
			}
		})
	}
}

func TestRejectionIsRecorded(t *testing.T) {
	h := New(Options{}).Middleware()(backend())
	_, sid := do(h, alice, "POST", "")
	req := httptest.NewRequest("POST", "/mcp", nil)
	req.Header.Set(mcpwire.HeaderSessionID, sid)
	rec := &record.Record{Identity: bob}
	req = req.WithContext(record.NewContext(req.Context(), rec))
	h.ServeHTTP(httptest.NewRecorder(), req)
	if rec.Reason != record.ReasonSessionNotFound {
		t.Fatalf("reason %q, want %q", rec.Reason, record.ReasonSessionNotFound)
	}
}

func TestIdleBindingsExpire(t *testing.T) {
	now := time.Unix(1000, 0)
	b := New(Options{IdleTimeout: time.Minute, Now: func() time.Time { return now }})
	h := b.Middleware()(backend())
	_, sid := do(h, alice, "POST", "")
	now = now.Add(59 * time.Second)
	if code, _ := do(h, alice, "POST", sid); code != 200 {
		t.Fatalf("within the idle timeout: %d", code)
	}
	now = now.Add(61 * time.Second)
	if code, _ := do(h, alice, "POST", sid); code != 404 {
		t.Fatalf("after the idle timeout: %d, want 404", code)
	}
	if b.Len() != 0 {
		t.Fatalf("%d bindings left", b.Len())
	}
}

func TestBoundedByMaxSessions(t *testing.T) {
	b := New(Options{MaxSessions: 3})
	h := b.Middleware()(backend())
	var sids []string
	for range 5 {
		_, sid := do(h, alice, "POST", "")
		sids = append(sids, sid)
	}
	if b.Len() != 3 {
		t.Fatalf("%d bindings, want 3", b.Len())
	}
	if code, _ := do(h, alice, "POST", sids[0]); code != 404 {
		t.Fatalf("oldest binding still known: %d", code)
	}
	if code, _ := do(h, alice, "POST", sids[4]); code != 200 {
		t.Fatalf("newest binding lost: %d", code)
	}
}

// clock is a settable clock shared with requests on other goroutines.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Unix(1000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// streamingBackend is backend, except that a GET holds its stream open
// until release is closed; opened receives once per GET whose headers are
// out.
func streamingBackend(opened chan<- struct{}, release <-chan struct{}) http.Handler {
	inner := backend()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			inner.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		opened <- struct{}{}
		<-release
	})
}

// TestOpenStreamKeepsBinding: a binding whose GET stream stays open past the
// idle timeout is in use, not idle; the stream's end counts as use, so the
// idle timeout runs from there; and once it has passed, the session is
// refused to its creator and to anonymous callers alike.
func TestOpenStreamKeepsBinding(t *testing.T) {
	clk := newClock()
	opened, release := make(chan struct{}), make(chan struct{})
	b := New(Options{IdleTimeout: time.Minute, Now: clk.Now})
	h := b.Middleware()(streamingBackend(opened, release))
	_, sid := do(h, alice, "POST", "")

	done := make(chan int)
	go func() {
		code, _ := do(h, alice, "GET", sid)
		done <- code
	}()
	select {
	case <-opened:
	case <-time.After(5 * time.Second):
		t.Fatal("the GET stream did not open")
	}
	clk.advance(50 * time.Minute) // the stream stays open all along
	if code, _ := do(h, anonymous, "POST", sid); code != 404 {
		t.Fatalf("anonymous caller on a streaming session: %d, want 404", code)
	}
	if code, _ := do(h, alice, "POST", sid); code != 200 {
		t.Fatalf("creator's POST while its stream is open, 50m in: %d, want 200", code)
	}
	clk.advance(10 * time.Minute)
	close(release)
	if code := <-done; code != 200 {
		t.Fatalf("GET stream: %d", code)
	}
	clk.advance(59 * time.Second)
	if code, _ := do(h, alice, "POST", sid); code != 200 {
		t.Fatalf("59s after the stream ended: %d, want 200 (the stream's end is use)", code)
	}
	clk.advance(61 * time.Second)
	for _, who := range []*identity.Identity{anonymous, alice} {
		if code, _ := do(h, who, "POST", sid); code != 404 {
			t.Fatalf("%v, after the idle timeout: %d, want 404", who, code)
		}
	}
}

// TestProbingDoesNotRefresh: another principal presenting an id neither
// keeps its binding alive nor counts as its use.
func TestProbingDoesNotRefresh(t *testing.T) {
	clk := newClock()
	h := New(Options{IdleTimeout: time.Minute, Now: clk.Now}).Middleware()(backend())
	_, sid := do(h, alice, "POST", "")
	for range 3 {
		clk.advance(30 * time.Second)
		if code, _ := do(h, bob, "POST", sid); code != 404 {
			t.Fatalf("bob: %d, want 404", code)
		}
	}
	if code, _ := do(h, alice, "POST", sid); code != 404 {
		t.Fatalf("alice after 90s without use of her own: %d, want 404", code)
	}
}

// TestEvictionTakesFromTheLargestHolder: at MaxSessions, the principal
// holding the most bindings loses its least recently used one: a principal
// (or the anonymous callers together) opening sessions without end pushes
// out only its own. Among equal holders, the one binding pays.
func TestEvictionTakesFromTheLargestHolder(t *testing.T) {
	mallory := &identity.Identity{Issuer: "https://idp.example", Subject: "mallory"}
	for _, flooder := range []*identity.Identity{mallory, anonymous} {
		name := "anonymous"
		if flooder != nil {
			name = flooder.Subject
		}
		t.Run(name, func(t *testing.T) {
			b := New(Options{MaxSessions: 4})
			h := b.Middleware()(backend())
			_, a := do(h, alice, "POST", "")
			_, bo := do(h, bob, "POST", "")
			var flood []string
			for range 10 {
				_, sid := do(h, flooder, "POST", "")
				flood = append(flood, sid)
			}
			if b.Len() != 4 {
				t.Fatalf("%d bindings, want 4", b.Len())
			}
			for who, sid := range map[*identity.Identity]string{alice: a, bob: bo} {
				if code, _ := do(h, who, "POST", sid); code != 200 {
					t.Errorf("%s's session after the flood: %d, want 200", who.Subject, code)
				}
			}
			if code, _ := do(h, flooder, "POST", flood[0]); code != 404 {
				t.Errorf("flooder's oldest session: %d, want 404 (evicted)", code)
			}
			if code, _ := do(h, flooder, "POST", flood[9]); code != 200 {
				t.Errorf("flooder's newest session: %d, want 200", code)
			}
			// A principal that holds fewer than the largest holder does
			// not pay for its new session.
			carol := &identity.Identity{Issuer: "https://idp.example", Subject: "carol"}
			_, c := do(h, carol, "POST", "")
			for who, sid := range map[*identity.Identity]string{alice: a, bob: bo, carol: c} {
				if code, _ := do(h, who, "POST", sid); code != 200 {
					t.Errorf("%s's session after carol's: %d, want 200", who.Subject, code)
				}
			}
			if code, _ := do(h, flooder, "POST", flood[8]); code != 404 {
				t.Errorf("flooder's second newest session after carol's: %d, want 404 (evicted)", code)
			}
			if b.Len() != 4 {
				t.Fatalf("%d bindings, want 4", b.Len())
			}
		})
	}
}

// TestUnknownIDsAfterRestart: a new Binder (a restarted gateway) knows no
// session. With any credential mode on, an old id fails closed for every
// caller; with anonymous access alone the gateway stays transparent and
// the backend judges the id.
func TestUnknownIDsAfterRestart(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		who  *identity.Identity
		want int
	}{
		{"credentials on: the principal", Options{}, alice, 404},
		{"credentials on: another principal", Options{}, bob, 404},
		{"credentials on: an anonymous caller", Options{}, anonymous, 404},
		{"anonymous only: passed on", Options{AnonymousOnly: true}, anonymous, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := New(tt.opts).Middleware()(backend())
			_, sid := do(old, alice, "POST", "")
			restarted := New(tt.opts).Middleware()(backend())
			for _, m := range []string{"POST", "GET", "DELETE"} {
				if code, _ := do(restarted, tt.who, m, sid); code != tt.want && !(m == "DELETE" && tt.want == 200 && code == 204) {
					t.Errorf("%s with the old id: %d, want %d", m, code, tt.want)
				}
			}
		})
	}
}
