package sealedsession

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
	"github.com/mcpgate/mcpgate/internal/sessionseal"
)

var (
	alice = &identity.Identity{Issuer: "https://idp.example", Subject: "alice"}
	bob   = &identity.Identity{Issuer: "https://idp.example", Subject: "bob"}
	k1    = sessionseal.Key{ID: "k1", Secret: bytes.Repeat([]byte{1}, sessionseal.KeyBytes)}
	k2    = sessionseal.Key{ID: "k2", Secret: bytes.Repeat([]byte{2}, sessionseal.KeyBytes)}
)

const ping = `{"jsonrpc":"2.0","id":3,"method":"ping"}`

const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",` +
	`"clientInfo":{"name":"probe","version":"1.2"},"capabilities":{"sampling":{},"roots":{"listChanged":true}}}}`

func ring(t *testing.T, now func() time.Time, keys ...sessionseal.Key) *sessionseal.Ring {
	t.Helper()
	r, err := sessionseal.New(keys, &sessionseal.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// backend is a relayed server: it issues "b-N" to a request without a
// session id, echoes the id of one with it, and records the ids it saw.
type backend struct {
	mu   sync.Mutex
	n    int
	seen []string
	id   func(n int) string // the id it issues; nil: "b-N"
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	sid := r.Header.Get(mcpwire.HeaderSessionID)
	b.seen = append(b.seen, sid)
	if sid == "" {
		b.n++
		sid = "b-" + strconv.Itoa(b.n)
		if b.id != nil {
			sid = b.id(b.n)
		}
	}
	w.Header().Set(mcpwire.HeaderSessionID, sid)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{}}`))
}

func (b *backend) last() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seen[len(b.seen)-1]
}

type result struct {
	code int
	sid  string
	body string
	rec  *record.Record
}

// do sends one request as who through stage st in front of h, with body
// parsed as inspect would.
func do(t *testing.T, h http.Handler, who *identity.Identity, method, sid, body string) result {
	t.Helper()
	req := httptest.NewRequest(method, "/mcp", strings.NewReader(body))
	if sid != "" {
		req.Header.Set(mcpwire.HeaderSessionID, sid)
	}
	rec := &record.Record{Identity: who}
	ctx := record.NewContext(req.Context(), rec)
	if body != "" {
		parsed, err := jsonrpc.Parse([]byte(body), jsonrpc.Limits{MaxDepth: 64, MaxBatch: 32})
		if err != nil {
			t.Fatal(err)
		}
		ctx = inspect.NewContext(ctx, &inspect.Request{Raw: []byte(body), Body: parsed})
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req.WithContext(ctx))
	return result{code: w.Code, sid: w.Header().Get(mcpwire.HeaderSessionID), body: w.Body.String(), rec: rec}
}

func newStage(r *sessionseal.Ring, replica string, pinned bool, log *slog.Logger, now func() time.Time) *Stage {
	return New(Options{Ring: r, Lifetime: time.Hour, Replica: replica, Pinned: pinned, Log: log, Now: now})
}

func TestSealAndOpen(t *testing.T) {
	r := ring(t, nil, k1)
	be := &backend{}
	h := newStage(r, "gw-0", false, nil, nil).Middleware(be)

	init := do(t, h, alice, http.MethodPost, "", initialize)
	if init.code != http.StatusOK || !strings.HasPrefix(init.sid, "1.k1.") {
		t.Fatalf("initialize: %d, session id %q; want 200 and a token sealed under k1", init.code, init.sid)
	}
	if init.rec.SessionID != init.sid {
		t.Fatalf("record's session id %q, want the token the client holds (its ref names the session in spans and audit)", init.rec.SessionID)
	}
	s, err := r.Open(init.sid, alice.Issuer, alice.Subject)
	if err != nil {
		t.Fatal(err)
	}
	if s.BackendID != "b-1" || s.Protocol != "2025-11-25" || s.ClientName != "probe" || s.ClientVersion != "1.2" || s.Replica != "" {
		t.Fatalf("sealed %+v", s)
	}
	if s.Capabilities != "" {
		t.Fatalf("a relay's token carries the capabilities %q: only an aggregated session is rebuilt from them", s.Capabilities)
	}
	if got := s.Expires.Sub(s.Created); got != time.Hour {
		t.Fatalf("lifetime %v, want the configured 1h", got)
	}

	// A later request reaches the backend with its own id, and the
	// client gets its token back, never the backend's id.
	next := do(t, h, alice, http.MethodPost, init.sid, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	if next.code != http.StatusOK || be.last() != "b-1" || next.sid != init.sid {
		t.Fatalf("second request: %d, backend saw %q, client got %q", next.code, be.last(), next.sid)
	}
}

func TestRefusals(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	r := ring(t, clock, k1)
	be := &backend{}
	h := newStage(r, "gw-0", false, nil, clock).Middleware(be)
	token := do(t, h, alice, http.MethodPost, "", initialize).sid
	tampered := []byte(token)
	tampered[len(tampered)-3] ^= 'A' ^ 'B'
	if tampered[len(tampered)-3] == token[len(token)-3] {
		tampered[len(tampered)-3] = 'C'
	}
	other := do(t, newStage(ring(t, clock, k2), "gw-0", false, nil, clock).Middleware(&backend{}), alice, http.MethodPost, "", initialize).sid

	tests := []struct {
		name   string
		who    *identity.Identity
		sid    string
		later  time.Duration
		detail string
	}{
		{"another principal", bob, token, 0, "session token refused: principal"},
		{"anonymous caller", nil, token, 0, "session token refused: principal"},
		{"tampered", alice, string(tampered), 0, "session token refused: tampered"},
		{"expired", alice, token, time.Hour, "session token refused: expired"},
		{"a key this ring lacks", alice, other, 0, "session token refused: unknown_key"},
		{"a backend id, not a token", alice, "b-1", 0, "session token refused: "},
		{"empty-looking token", alice, "1.k1.", 0, "session token refused: malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now = time.Now().Add(tt.later)
			defer func() { now = time.Now() }()
			calls := len(be.seen)
			got := do(t, h, tt.who, http.MethodPost, tt.sid, `{"jsonrpc":"2.0","id":7,"method":"tools/list"}`)
			if got.code != http.StatusNotFound {
				t.Fatalf("status %d, want 404", got.code)
			}
			var msg struct {
				ID    json.RawMessage `json:"id"`
				Error struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(got.body), &msg); err != nil || msg.Error.Code != mcpwire.CodeSessionNotFound || msg.Error.Message != "session not found" {
				t.Fatalf("body %s: want the JSON-RPC error of an unknown session", got.body)
			}
			if len(be.seen) != calls {
				t.Fatal("a refused request reached the backend")
			}
			if got.rec.Reason != record.ReasonSessionNotFound || !strings.HasPrefix(got.rec.Detail, tt.detail) {
				t.Fatalf("record reason %q detail %q, want %q, %q…", got.rec.Reason, got.rec.Detail, record.ReasonSessionNotFound, tt.detail)
			}
		})
	}
}

// Two replicas with the same keys serve each other's relayed sessions,
// and a key ring rotated in steps keeps every session alive until its key
// is removed.
func TestReplicasAndRotation(t *testing.T) {
	be := &backend{}
	a := newStage(ring(t, nil, k1), "gw-a", false, nil, nil).Middleware(be)
	b := newStage(ring(t, nil, k1), "gw-b", false, nil, nil).Middleware(be)
	old := do(t, a, alice, http.MethodPost, "", initialize).sid
	if got := do(t, b, alice, http.MethodPost, old, ping); got.code != http.StatusOK || be.last() != "b-1" {
		t.Fatalf("replica b: %d, backend saw %q", got.code, be.last())
	}

	steps := []struct {
		name     string
		keys     []sessionseal.Key
		oldCode  int
		newSeals string
	}{
		{"new key added last", []sessionseal.Key{k1, k2}, http.StatusOK, "1.k1."},
		{"new key first", []sessionseal.Key{k2, k1}, http.StatusOK, "1.k2."},
		{"old key removed", []sessionseal.Key{k2}, http.StatusNotFound, "1.k2."},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			h := newStage(ring(t, nil, s.keys...), "gw-a", false, nil, nil).Middleware(be)
			if got := do(t, h, alice, http.MethodPost, old, ping); got.code != s.oldCode {
				t.Fatalf("session sealed under k1: %d, want %d", got.code, s.oldCode)
			}
			if got := do(t, h, alice, http.MethodPost, "", initialize).sid; !strings.HasPrefix(got, s.newSeals) {
				t.Fatalf("new session %q, want it sealed with prefix %q", got, s.newSeals)
			}
		})
	}
}

func TestPinnedToReplica(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	r := ring(t, nil, k1)
	be := &backend{}
	owner := newStage(r, "gw-a", true, nil, nil).Middleware(be)
	other := newStage(r, "gw-b", true, log, nil).Middleware(be)

	token := do(t, owner, alice, http.MethodPost, "", initialize).sid
	if s, err := r.Open(token, alice.Issuer, alice.Subject); err != nil || s.Replica != "gw-a" {
		t.Fatalf("pinned token %+v, %v: want replica gw-a", s, err)
	}
	if got := do(t, owner, alice, http.MethodPost, token, ping); got.code != http.StatusOK {
		t.Fatalf("owner replica: %d", got.code)
	}
	for range 3 {
		got := do(t, other, alice, http.MethodPost, token, ping)
		if got.code != http.StatusNotFound || got.rec.Detail != "session pinned to replica gw-a" {
			t.Fatalf("other replica: %d %q, want 404 naming the owner", got.code, got.rec.Detail)
		}
	}
	if n := strings.Count(logs.String(), "Mcp-Session-Id affinity"); n != 1 {
		t.Fatalf("%d warnings for 3 refusals within a second, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "owner=gw-a") || !strings.Contains(logs.String(), "replica=gw-b") {
		t.Fatalf("warning lacks the replicas: %s", logs.String())
	}
}

func TestBackendIDNeverLeaks(t *testing.T) {
	r := ring(t, nil, k1)
	tests := []struct {
		name    string
		backend http.Handler
		code    int
	}{
		{"error naming another session", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set(mcpwire.HeaderSessionID, "b-secret")
			w.WriteHeader(http.StatusNotFound)
		}), http.StatusNotFound},
		{"handler that writes nothing", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set(mcpwire.HeaderSessionID, "b-secret")
		}), http.StatusOK},
		{"id too long to seal", &backend{id: func(int) string { return strings.Repeat("x", 3000) }}, http.StatusBadGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := do(t, newStage(r, "gw-0", false, nil, nil).Middleware(tt.backend), alice, http.MethodPost, "", initialize)
			sealed := got.sid == "" || strings.HasPrefix(got.sid, "1.k1.")
			if got.code != tt.code || !sealed || (got.code != http.StatusOK && got.sid != "") || strings.Contains(got.body, "b-secret") || strings.Contains(got.body, "xxx") {
				t.Fatalf("%d, session id %q, body %q; want %d with no session id but a token", got.code, got.sid, got.body, tt.code)
			}
		})
	}
}

// capped is an error at the session caps, as the aggregator marks it.
type capped struct{}

func (capped) Error() string      { return "too many sessions" }
func (capped) SessionLimit() bool { return true }

// fakeAdopter holds local sessions "l-N"; Adopt makes a new one.
type fakeAdopter struct {
	mu      sync.Mutex
	live    map[string]bool
	n       int
	adopts  atomic.Int32
	fail    error
	release chan struct{} // Adopt waits on it when set
}

func (f *fakeAdopter) Export(sid string) ([]sessionseal.Backend, bool) {
	if !f.Has(sid) {
		return nil, false
	}
	return []sessionseal.Backend{{Name: "one", ID: "one-" + sid}, {Name: "two", ID: "two-" + sid}}, true
}

func (f *fakeAdopter) Has(sid string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.live[sid]
}

func (f *fakeAdopter) Adopt(_ context.Context, _ *identity.Identity, s *sessionseal.Session) (string, error) {
	f.adopts.Add(1)
	if f.release != nil {
		<-f.release
	}
	if f.fail != nil {
		return "", f.fail
	}
	if len(s.Backends) != 2 || s.Capabilities == "" {
		return "", errors.New("token lacks the backends or the capabilities")
	}
	return f.create(), nil
}

func (f *fakeAdopter) create() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	id := "l-" + strconv.Itoa(f.n)
	f.live[id] = true
	return id
}

// server is the aggregator's handler: a new session on initialize, the
// id echoed otherwise; 404 for ids that are not live.
func (f *fakeAdopter) server(seen *atomic.Value) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sid := r.Header.Get(mcpwire.HeaderSessionID)
		seen.Store(sid)
		if sid == "" {
			sid = f.create()
		} else if !f.Has(sid) {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set(mcpwire.HeaderSessionID, sid)
		if r.Method == http.MethodDelete {
			f.mu.Lock()
			delete(f.live, sid)
			f.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		}
	})
}

func TestAdoption(t *testing.T) {
	r := ring(t, nil, k1)
	fa, fb := &fakeAdopter{live: map[string]bool{}}, &fakeAdopter{live: map[string]bool{}, release: make(chan struct{})}
	var seenA, seenB atomic.Value
	a := New(Options{Ring: r, Lifetime: time.Hour, Replica: "gw-a", Adopter: fa}).Middleware(fa.server(&seenA))
	b := New(Options{Ring: r, Lifetime: time.Hour, Replica: "gw-b", Adopter: fb}).Middleware(fb.server(&seenB))

	token := do(t, a, alice, http.MethodPost, "", initialize).sid
	s, err := r.Open(token, alice.Issuer, alice.Subject)
	if err != nil {
		t.Fatal(err)
	}
	if s.Replica != "" || len(s.Backends) != 2 || s.Backends[0].ID != "one-l-1" || s.Capabilities != `{"sampling":{},"roots":{"listChanged":true}}` {
		t.Fatalf("sealed %+v: want the backends' ids and the capabilities, no replica", s)
	}
	if got := do(t, a, alice, http.MethodPost, token, ping); got.code != http.StatusOK || seenA.Load() != "l-1" || fa.adopts.Load() != 0 {
		t.Fatalf("own replica: %d, saw %v, %d adoptions", got.code, seenA.Load(), fa.adopts.Load())
	}

	// Eight requests at once on the other replica: one adoption.
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Go(func() { codes[i] = do(t, b, alice, http.MethodPost, token, ping).code })
	}
	for fb.adopts.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others queue behind it
	close(fb.release)
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Fatalf("request %d on the adopting replica: %d", i, c)
		}
	}
	if n := fb.adopts.Load(); n != 1 || seenB.Load() != "l-1" {
		t.Fatalf("%d adoptions, backend saw %v; want one adoption into l-1", n, seenB.Load())
	}
	if got := do(t, b, alice, http.MethodPost, token, ping); got.code != http.StatusOK || got.sid != token || fb.adopts.Load() != 1 {
		t.Fatalf("after adoption: %d, id %q, %d adoptions", got.code, got.sid, fb.adopts.Load())
	}
	if got := do(t, b, alice, http.MethodDelete, token, ""); got.code != http.StatusNoContent {
		t.Fatalf("DELETE: %d", got.code)
	}
	fb.fail = errors.New("backend down")
	got := do(t, b, alice, http.MethodPost, token, ping)
	if got.code != http.StatusNotFound || !strings.Contains(got.rec.Detail, "backend down") {
		t.Fatalf("failed adoption: %d %q, want 404 with the cause recorded", got.code, got.rec.Detail)
	}
	fb.fail = fmt.Errorf("adopt: %w", capped{})
	got = do(t, b, alice, http.MethodPost, token, ping)
	if got.code != http.StatusServiceUnavailable || got.rec.Reason != record.ReasonSessionLimit {
		t.Fatalf("adoption at the session cap: %d %q, want 503 session_limit", got.code, got.rec.Reason)
	}
}
