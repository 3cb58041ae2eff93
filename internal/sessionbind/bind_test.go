package sessionbind

import (
	"net/http"
	"net/http/httptest"
	"strconv"
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
		creator *identity.Identity
		steps   []step
	}{
		{"creator continues its session", alice, []step{{alice, "POST", "new", 200}, {alice, "GET", "new", 200}}},
		{"another principal gets 404", alice, []step{{bob, "POST", "new", 404}, {alice, "POST", "new", 200}}},
		{"same subject from another issuer gets 404", alice, []step{{aliceKey, "POST", "new", 404}}},
		{"anonymous caller of a principal's session gets 404", alice, []step{{anonymous, "POST", "new", 404}}},
		{"principal cannot take over an anonymous session", anonymous, []step{{alice, "POST", "new", 404}, {anonymous, "POST", "new", 200}}},
		{"authenticated caller with an unknown id gets 404", alice, []step{{alice, "POST", "unknown", 404}}},
		{"anonymous caller with an unknown id passes through", anonymous, []step{{anonymous, "POST", "unknown", 200}}},
		{"DELETE forgets the binding", alice, []step{{alice, "DELETE", "new", 204}, {alice, "POST", "new", 404}}},
		{"another principal cannot DELETE", alice, []step{{bob, "DELETE", "new", 404}, {alice, "POST", "new", 200}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(Options{}).Middleware()(backend())
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
