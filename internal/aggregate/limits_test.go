package aggregate

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/observe"
	"github.com/mcpgate/mcpgate/internal/record"
)

// whoHeader names the principal of a test request (absent: anonymous).
const whoHeader = "X-Test-Subject"

// frontWho serves agg behind observe, inspect and an authn stand-in that
// takes the principal from whoHeader.
func frontWho(t *testing.T, agg *Aggregator) string {
	t.Helper()
	authn := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if sub := r.Header.Get(whoHeader); sub != "" {
				record.FromContext(r.Context()).Identity = &identity.Identity{Subject: sub, Issuer: "urn:test"}
			}
			next.ServeHTTP(w, r)
		})
	}
	srv := httptest.NewServer(observe.New(nil)(inspect.New(inspect.Options{})(authn(agg))))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = agg.Close(t.Context()) })
	return srv.URL
}

// initAs sends an initialize as who ("" anonymous) and returns the answer.
func initAs(t *testing.T, url, who string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(initializeBody))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if who != "" {
		req.Header.Set(whoHeader, who)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	return resp
}

// initialized sends notifications/initialized on sid as who.
func initialized(t *testing.T, url, sid, who string) {
	t.Helper()
	c := &rawClient{t: t, url: url, client: http.DefaultClient, who: who}
	if resp := c.post(sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("notifications/initialized: HTTP %d", resp.StatusCode)
	}
}

func deleteSession(t *testing.T, url, sid, who string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, url, nil)
	req.Header.Set(mcpwire.HeaderSessionID, sid)
	req.Header.Set(mcpwire.HeaderProtocolVersion, "2025-06-18")
	if who != "" {
		req.Header.Set(whoHeader, who)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("DELETE: HTTP %d", resp.StatusCode)
	}
}

// TestSessionCaps: beyond MaxSessions in all, or MaxSessionsPerPrincipal
// for one principal (the anonymous callers together being one), a request
// that would open a session gets 503 with Retry-After and a JSON-RPC error
// carrying its id; a session that ends gives its place back.
func TestSessionCaps(t *testing.T) {
	type step struct {
		who    string // "" anonymous
		want   int    // status of the initialize
		delete int    // > 0: first delete the session the step-th step opened (1-based)
	}
	tests := []struct {
		name              string
		max, perPrincipal int
		steps             []step
	}{
		{"global cap", 3, 10, []step{
			{"alice", 200, 0}, {"bob", 200, 0}, {"carol", 200, 0},
			{"dave", 503, 0}, {"alice", 503, 0},
			{"dave", 200, 2}, // bob's session ended: room for one
		}},
		{"per-principal cap", 10, 2, []step{
			{"alice", 200, 0}, {"alice", 200, 0}, {"alice", 503, 0},
			{"bob", 200, 0},
			{"", 200, 0}, {"", 200, 0}, {"", 503, 0}, // every anonymous caller is one principal
			{"alice", 200, 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestBackend(t, "a", []string{"echo"}, nil)
			b := newTestBackend(t, "b", []string{"echo"}, nil)
			agg := newAggregator(t, Options{Backends: []Backend{a.backend(t), b.backend(t)}, MaxSessions: tt.max, MaxSessionsPerPrincipal: tt.perPrincipal})
			url := frontWho(t, agg)
			sids := make([]string, len(tt.steps))
			open := 0
			for i, st := range tt.steps {
				if st.delete > 0 {
					deleteSession(t, url, sids[st.delete-1], tt.steps[st.delete-1].who)
					open--
					deadline := time.Now().Add(5 * time.Second)
					for agg.OpenSessions() != open && time.Now().Before(deadline) {
						time.Sleep(10 * time.Millisecond)
					}
				}
				resp := initAs(t, url, st.who)
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != st.want {
					t.Fatalf("step %d (%q): HTTP %d, want %d: %s", i+1, st.who, resp.StatusCode, st.want, body)
				}
				switch st.want {
				case 200:
					sids[i] = resp.Header.Get(mcpwire.HeaderSessionID)
					initialized(t, url, sids[i], st.who)
					open++
				case 503:
					if ra := resp.Header.Get("Retry-After"); ra != "5" {
						t.Errorf("step %d: Retry-After %q, want 5", i+1, ra)
					}
					if !strings.Contains(string(body), `"id":1`) || !strings.Contains(string(body), "too many sessions") {
						t.Errorf("step %d: body %s, want a JSON-RPC error for id 1", i+1, body)
					}
				}
				if got := agg.OpenSessions(); got != open {
					t.Errorf("step %d: %d sessions counted, want %d", i+1, got, open)
				}
			}
			if st := agg.Statuses(); st[0].Sessions != open || st[1].Sessions != open {
				t.Errorf("backend sessions %d and %d, want %d each (refused requests open none)", st[0].Sessions, st[1].Sessions, open)
			}
		})
	}
}

// TestSessionCapUnderConcurrency: concurrent initializes beyond the cap
// never open more sessions than it allows, and requests that open none
// (refused, malformed) give their slot back.
func TestSessionCapUnderConcurrency(t *testing.T) {
	a := newTestBackend(t, "a", []string{"echo"}, nil)
	b := newTestBackend(t, "b", []string{"echo"}, nil)
	agg := newAggregator(t, Options{Backends: []Backend{a.backend(t), b.backend(t)}, MaxSessions: 3})
	url := frontWho(t, agg)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := range 12 {
		wg.Go(func() {
			resp := initAs(t, url, string(rune('a'+i)))
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[200] != 3 || codes[503] != 9 {
		t.Fatalf("answers %v, want 3 × 200 and 9 × 503", codes)
	}
	if n := agg.OpenSessions(); n != 3 {
		t.Fatalf("%d sessions counted, want 3", n)
	}
	// A POST without a session that the SDK refuses (no Accept for
	// streams) opens nothing and holds nothing.
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(initializeBody))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	if n := agg.OpenSessions(); n != 3 {
		t.Fatalf("%d sessions counted after a refused request, want 3", n)
	}
}

// TestUninitializedSessionsReaped: a session whose client never sends
// notifications/initialized is closed after InitializeTimeout, with its
// backend sessions and its slot; an initialized one stays.
func TestUninitializedSessionsReaped(t *testing.T) {
	a := newTestBackend(t, "a", []string{"echo"}, nil)
	b := newTestBackend(t, "b", []string{"echo"}, nil)
	agg := newAggregator(t, Options{Backends: []Backend{a.backend(t), b.backend(t)}, InitializeTimeout: 300 * time.Millisecond})
	url := frontWho(t, agg)
	good := initAs(t, url, "alice")
	initialized(t, url, good.Header.Get(mcpwire.HeaderSessionID), "alice")
	for range 3 {
		if resp := initAs(t, url, "mallory"); resp.StatusCode != 200 {
			t.Fatalf("initialize: HTTP %d", resp.StatusCode)
		}
	}
	if n := agg.OpenSessions(); n != 4 {
		t.Fatalf("%d sessions, want 4", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for agg.OpenSessions() != 1 || agg.Statuses()[0].Sessions != 1 || agg.Statuses()[1].Sessions != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions, backend sessions %+v: want the initialized one only", agg.OpenSessions(), agg.Statuses())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	c := &rawClient{t: t, url: url, client: http.DefaultClient, who: "alice"}
	if resp := c.post(good.Header.Get(mcpwire.HeaderSessionID), `{"jsonrpc":"2.0","id":2,"method":"ping"}`); resp.StatusCode != 200 {
		t.Fatalf("the initialized session after the bound: HTTP %d", resp.StatusCode)
	}
}

// TestHandoffCapsDropIdleCopies: with Handoff (sealed sessions) a session
// this replica holds is a copy it can rebuild from the token, so at a cap
// the least recently used idle copy is dropped — without ending its
// backend sessions — and the new session opens; a copy with a request in
// flight is never dropped, so with every copy busy the cap still refuses.
func TestHandoffCapsDropIdleCopies(t *testing.T) {
	be := newCounterBackend(t, "a")
	agg := newAggregator(t, Options{Backends: []Backend{be.backend(t)}, MaxSessionsPerPrincipal: 2,
		SessionTimeout: time.Hour, Handoff: true})
	url := frontWho(t, agg)
	var sids []string
	for range 2 {
		resp := initAs(t, url, "alice")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("initialize: %d", resp.StatusCode)
		}
		sids = append(sids, resp.Header.Get(mcpwire.HeaderSessionID))
		initialized(t, url, sids[len(sids)-1], "alice")
	}
	if resp := initAs(t, url, "alice"); resp.StatusCode != http.StatusOK {
		t.Fatalf("initialize at the cap with idle copies: %d, want 200 (the oldest copy dropped)", resp.StatusCode)
	}
	deadline := time.Now().Add(5 * time.Second)
	for agg.Has(sids[0]) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if agg.Has(sids[0]) || !agg.Has(sids[1]) {
		t.Fatalf("copies held: first %v, second %v; want the least recently used dropped", agg.Has(sids[0]), agg.Has(sids[1]))
	}
	if _, deletes, _ := be.stats(); deletes != 0 {
		t.Fatalf("dropping a copy sent the backend %d DELETEs: its session must stay for the other replicas", deletes)
	}

	// Every copy busy: nothing to drop.
	for _, s := range agg.sessionsOf("alice") {
		s.busy.Add(1)
		defer s.busy.Add(-1)
	}
	if resp := initAs(t, url, "alice"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("initialize at the cap with every copy busy: %d, want 503", resp.StatusCode)
	}
}

// sessionsOf returns the started sessions of subject sub (issuer
// urn:test), for tests.
func (a *Aggregator) sessionsOf(sub string) []*session {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*session
	for s := range a.sessions {
		if s.identity != nil && s.identity.Subject == sub {
			out = append(out, s)
		}
	}
	return out
}
