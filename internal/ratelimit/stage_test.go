package ratelimit

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/record"
)

// call is one request through the stage: the messages of its body, who
// sends it and from where.
type call struct {
	ops   []record.Op
	who   *identity.Identity
	addr  string
	batch bool
}

func toolCall(id, tool string) record.Op {
	return record.Op{Kind: record.OpRequest, Method: "tools/call", ID: id, Name: tool}
}

// serve runs c through a stage of l in front of a backend that counts what
// reaches it.
func serve(t *testing.T, l *Limiter, c call, reached *int) (*httptest.ResponseRecorder, *record.Record) {
	t.Helper()
	rec := &record.Record{Identity: c.who, ClientAddr: cmpOr(c.addr, "192.0.2.1"), Batch: c.batch}
	copy(rec.NewOps(len(c.ops)), c.ops)
	h := l.Stage()(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		*reached++
		w.WriteHeader(http.StatusOK)
	}))
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	r = r.WithContext(record.NewContext(r.Context(), rec))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w, rec
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func newStageLimiter(t *testing.T, clk *clock, rules ...Rule) *Limiter {
	t.Helper()
	l, err := New(Options{Rules: rules, Pseudonyms: pseudonyms(t), Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestStage: each kind of rule admits its limit for its bucket and rejects
// the next request with 429, keyed as its per says.
func TestStage(t *testing.T) {
	perUser := Rule{Name: "per-user", Per: PerPrincipal, Methods: []string{"tools/call"}, Limit: 2, Window: time.Minute}
	perUserTool := Rule{Name: "per-user-tool", Per: PerPrincipalTool, Methods: []string{"tools/call"}, Limit: 2, Window: time.Minute}
	perTool := Rule{Name: "per-tool", Per: PerTool, Methods: []string{"tools/call"}, Limit: 2, Window: time.Minute}
	global := Rule{Name: "everything", Per: PerGlobal, Methods: []string{"*"}, Limit: 2, Window: time.Minute}
	var (
		aliceSearch = call{ops: []record.Op{toolCall("1", "search")}, who: alice}
		aliceFetch  = call{ops: []record.Op{toolCall("1", "fetch")}, who: alice}
		bobSearch   = call{ops: []record.Op{toolCall("1", "search")}, who: bob}
		anonA       = call{ops: []record.Op{toolCall("1", "search")}, addr: "198.51.100.7"}
		anonB       = call{ops: []record.Op{toolCall("1", "search")}, addr: "198.51.100.8"}
		list        = call{ops: []record.Op{{Kind: record.OpRequest, Method: "tools/list", ID: "1"}}, who: alice}
	)
	tests := []struct {
		name string
		rule Rule
		// calls are sent in order; want says which were admitted.
		calls []call
		want  []bool
	}{
		{"per principal: alice's quota is hers", perUser,
			[]call{aliceSearch, aliceFetch, aliceSearch, bobSearch, bobSearch, bobSearch},
			[]bool{true, true, false, true, true, false}},
		{"per principal: another method is not covered", perUser,
			[]call{list, list, list}, []bool{true, true, true}},
		{"principal x tool: each tool its own bucket", perUserTool,
			[]call{aliceSearch, aliceSearch, aliceSearch, aliceFetch, bobSearch},
			[]bool{true, true, false, true, true}},
		{"tool: shared by every caller", perTool,
			[]call{aliceSearch, bobSearch, anonA, aliceFetch},
			[]bool{true, true, false, true}},
		{"global: one bucket for every method", global,
			[]call{aliceSearch, list, bobSearch},
			[]bool{true, true, false}},
		{"anonymous callers keyed on their address", perUser,
			[]call{anonA, anonA, anonA, anonB},
			[]bool{true, true, false, true}},
		{"an anonymous address never shares a principal's bucket", perUser,
			[]call{aliceSearch, aliceSearch, {ops: aliceSearch.ops, addr: "192.0.2.1"}},
			[]bool{true, true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newStageLimiter(t, newClock(), tt.rule)
			reached := 0
			admitted := 0
			for i, c := range tt.calls {
				w, rec := serve(t, l, c, &reached)
				got := w.Code == http.StatusOK
				if got != tt.want[i] {
					t.Fatalf("call %d: status %d, want admitted %v", i, w.Code, tt.want[i])
				}
				if got {
					admitted++
				}
				wantDecision, wantRule := record.RateLimitLimited, tt.rule.Name
				switch {
				case !tt.rule.covers(c.ops[0].Method):
					wantDecision, wantRule = record.RateLimitNone, ""
				case got:
					wantDecision = record.RateLimitAllowed
				}
				if rl := rec.Ops[0].RateLimit; rl.Decision != wantDecision || rl.RuleName([]string{tt.rule.Name}) != wantRule {
					t.Fatalf("call %d: recorded %+v (%s), want %s by %s", i, rl, rl.Decision, wantDecision, tt.rule.Name)
				}
			}
			if reached != admitted {
				t.Fatalf("%d requests reached the backend, %d were admitted", reached, admitted)
			}
		})
	}
}

// TestStageRejection: a rejected request is a 429 with Retry-After in
// whole seconds rounded up, a JSON-RPC error with the request's id and the
// delay in the message and in error.data, the reason on the record; a
// batch gets one such error per request, with each id, and none of it
// reaches the backend.
func TestStageRejection(t *testing.T) {
	// One a minute, burst 1: the second call waits 60s, minus the 0.5s the
	// clock moved.
	rule := Rule{Name: "per-user", Per: PerPrincipal, Methods: []string{"tools/call"}, Limit: 1, Window: time.Minute}
	type errBody struct {
		ID    json.RawMessage `json:"id"`
		Error struct {
			Code    int64  `json:"code"`
			Message string `json:"message"`
			Data    struct {
				RetryAfterMs int64  `json:"retryAfterMs"`
				Rule         string `json:"rule"`
			} `json:"data"`
		} `json:"error"`
	}
	tests := []struct {
		name    string
		second  call
		wantIDs []string // ids of the errors; one without an array for a single request
		batch   bool
		// wantOps is each message's decision after the rejection.
		wantOps []record.RateLimitDecision
	}{
		{"a single request", call{ops: []record.Op{toolCall(`"req-7"`, "search")}, who: alice},
			[]string{`"req-7"`}, false, []record.RateLimitDecision{record.RateLimitLimited}},
		{"a batch: every request answered, notifications not", call{batch: true, who: alice, ops: []record.Op{
			{Kind: record.OpRequest, Method: "tools/list", ID: "3"},
			{Kind: record.OpNotification, Method: "notifications/progress"},
			toolCall("4", "search"),
			toolCall("5", "search"),
		}}, []string{"3", "4", "5"}, true, []record.RateLimitDecision{
			record.RateLimitNone, record.RateLimitNone, record.RateLimitLimited, record.RateLimitNone}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			l := newStageLimiter(t, clk, rule)
			reached := 0
			if w, _ := serve(t, l, call{ops: []record.Op{toolCall("1", "search")}, who: alice}, &reached); w.Code != http.StatusOK {
				t.Fatalf("first call: %d", w.Code)
			}
			clk.add(500 * time.Millisecond)
			w, rec := serve(t, l, tt.second, &reached)
			if reached != 1 {
				t.Fatalf("the rejected request reached the backend (%d requests did)", reached)
			}
			if w.Code != http.StatusTooManyRequests {
				t.Fatalf("status %d, want 429", w.Code)
			}
			if got := w.Header().Get("Retry-After"); got != "60" {
				t.Errorf("Retry-After %q, want 60 (59.5s rounded up)", got)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var errs []errBody
			body := w.Body.Bytes()
			if tt.batch {
				if err := json.Unmarshal(body, &errs); err != nil {
					t.Fatalf("batch answer %s: %v", body, err)
				}
			} else {
				errs = make([]errBody, 1)
				if err := json.Unmarshal(body, &errs[0]); err != nil {
					t.Fatalf("answer %s: %v", body, err)
				}
			}
			if len(errs) != len(tt.wantIDs) {
				t.Fatalf("%d errors, want %d: %s", len(errs), len(tt.wantIDs), body)
			}
			for i, e := range errs {
				if string(e.ID) != tt.wantIDs[i] {
					t.Errorf("error %d: id %s, want %s", i, e.ID, tt.wantIDs[i])
				}
				if e.Error.Code != CodeRateLimited || e.Error.Message != `rate limited by rule "per-user": retry after 60s` {
					t.Errorf("error %d: %+v", i, e.Error)
				}
				if e.Error.Data.RetryAfterMs != 59500 || e.Error.Data.Rule != "per-user" {
					t.Errorf("error %d: data %+v, want retryAfterMs 59500, rule per-user", i, e.Error.Data)
				}
			}
			if rec.Reason != record.ReasonRateLimited || !strings.Contains(rec.Detail, "per-user") {
				t.Errorf("record reason %q detail %q", rec.Reason, rec.Detail)
			}
			for i, want := range tt.wantOps {
				if got := rec.Ops[i].RateLimit.Decision; got != want {
					t.Errorf("op %d: decision %s, want %s", i, got, want)
				}
			}
		})
	}
}

// TestStageRetryAfterAtLeastOneSecond: a delay under a second is
// Retry-After: 1, never 0 (which invites an immediate retry).
func TestStageRetryAfterAtLeastOneSecond(t *testing.T) {
	l := newStageLimiter(t, newClock(), Rule{Name: "fast", Per: PerGlobal, Methods: []string{"*"}, Limit: 10, Window: time.Second, Burst: 1})
	reached := 0
	c := call{ops: []record.Op{toolCall("1", "x")}}
	serve(t, l, c, &reached)
	w, _ := serve(t, l, c, &reached)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("status %d Retry-After %q, want 429 and 1", w.Code, w.Header().Get("Retry-After"))
	}
}

// TestStageFallbackDecisions: with the store down, decisions say so.
func TestStageFallbackDecisions(t *testing.T) {
	store := &flaky{inner: NewMemory(nil)}
	store.down.Store(true)
	l, err := New(Options{Rules: []Rule{{Name: "u", Per: PerPrincipal, Methods: []string{"tools/call"}, Limit: 1, Window: time.Minute}},
		Store: store, Pseudonyms: pseudonyms(t), Logger: slog.New(&logSink{})})
	if err != nil {
		t.Fatal(err)
	}
	reached := 0
	c := call{ops: []record.Op{toolCall("1", "x")}, who: alice}
	_, rec := serve(t, l, c, &reached)
	if got := rec.Ops[0].RateLimit.Decision; got != record.RateLimitAllowedFallback {
		t.Errorf("first: %s, want allowed_fallback", got)
	}
	w, rec := serve(t, l, c, &reached)
	if got := rec.Ops[0].RateLimit.Decision; got != record.RateLimitLimitedFallback || w.Code != http.StatusTooManyRequests {
		t.Errorf("second: %s %d, want limited_fallback 429", got, w.Code)
	}
}

// BenchmarkStage is the stage's cost per admitted tools/call with a local
// per-principal rule (pseudonym, bucket, decision).
func BenchmarkStage(b *testing.B) {
	l, err := New(Options{Rules: []Rule{{Name: "per-user", Per: PerPrincipal, Methods: []string{"tools/call"}, Limit: 1 << 30, Window: time.Hour}},
		Pseudonyms: pseudonyms(b)})
	if err != nil {
		b.Fatal(err)
	}
	h := l.Stage()(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	rec := &record.Record{Identity: alice, ClientAddr: "192.0.2.1"}
	rec.NewOps(1)[0] = toolCall("1", "search")
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	r = r.WithContext(record.NewContext(r.Context(), rec))
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(nil, r)
	}
	if rec.Ops[0].RateLimit.Decision != record.RateLimitAllowed {
		b.Fatal("not admitted")
	}
}
