package ratelimit

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRules(t *testing.T) {
	c := newClock()
	ctx := context.Background()
	tests := []struct {
		name     string
		rule     Rule
		requests []Request
		want     []bool
	}{
		{"per principal: each principal has its own bucket",
			Rule{Name: "per-user", Per: PerPrincipal, Methods: []string{"tools/call"}, Limit: 2, Window: time.Minute},
			[]Request{{Method: "tools/call", Identity: alice}, {Method: "tools/call", Identity: alice}, {Method: "tools/call", Identity: alice}, {Method: "tools/call", Identity: bob}},
			[]bool{true, true, false, true}},
		{"per principal: methods not listed pass",
			Rule{Name: "per-user", Per: PerPrincipal, Methods: []string{"tools/call"}, Limit: 1, Window: time.Minute},
			[]Request{{Method: "tools/call", Identity: alice}, {Method: "tools/list", Identity: alice}, {Method: "tools/call", Identity: alice}},
			[]bool{true, true, false}},
		{"per principal+tool",
			Rule{Name: "pt", Per: PerPrincipalTool, Methods: []string{"tools/call"}, Limit: 1, Window: time.Minute},
			[]Request{{Method: "tools/call", Target: "a", Identity: alice}, {Method: "tools/call", Target: "b", Identity: alice}, {Method: "tools/call", Target: "a", Identity: alice}, {Method: "tools/call", Target: "a", Identity: bob}},
			[]bool{true, true, false, true}},
		{"per tool: shared by principals",
			Rule{Name: "t", Per: PerTool, Methods: []string{"tools/call"}, Limit: 1, Window: time.Minute},
			[]Request{{Method: "tools/call", Target: "a", Identity: alice}, {Method: "tools/call", Target: "a", Identity: bob}, {Method: "tools/call", Target: "b", Identity: bob}},
			[]bool{true, false, true}},
		{"global, every method",
			Rule{Name: "g", Per: PerGlobal, Methods: []string{"*"}, Limit: 2, Window: time.Minute},
			[]Request{{Method: "tools/call", Identity: alice}, {Method: "ping", Identity: bob}, {Method: "tools/list"}},
			[]bool{true, true, false}},
		{"anonymous callers keyed on the client address",
			Rule{Name: "anon", Per: PerPrincipal, Methods: []string{"tools/call"}, Limit: 1, Window: time.Minute},
			[]Request{{Method: "tools/call", ClientAddr: "192.0.2.1"}, {Method: "tools/call", ClientAddr: "192.0.2.1"}, {Method: "tools/call", ClientAddr: "192.0.2.2"}},
			[]bool{true, false, true}},
		{"an address is not a principal whose subject spells it",
			Rule{Name: "anon", Per: PerPrincipal, Methods: []string{"tools/call"}, Limit: 1, Window: time.Minute},
			[]Request{{Method: "tools/call", ClientAddr: "alice"}, {Method: "tools/call", Identity: alice}},
			[]bool{true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := NewMemory(c.now)
			l, err := New(Options{Rules: []Rule{tt.rule}, Store: nil, Pseudonyms: pseudonyms(t), Now: c.now})
			if err != nil {
				t.Fatal(err)
			}
			l.store = mem
			for i, r := range tt.requests {
				d := l.Check(ctx, r)
				if d.Allowed != tt.want[i] {
					t.Fatalf("request %d: %+v, want allowed=%v", i, d, tt.want[i])
				}
				if !d.Allowed && (d.Rule != tt.rule.Name || d.RetryAfter <= 0) {
					t.Fatalf("rejection %+v names no rule or delay", d)
				}
			}
			for _, k := range mem.keys() {
				for _, leak := range []string{"alice", "bob", "192.0.2"} {
					if strings.Contains(k, leak) {
						t.Fatalf("bucket key %q holds %q", k, leak)
					}
				}
			}
		})
	}
}

func TestSeveralRules(t *testing.T) {
	c := newClock()
	l, err := New(Options{Pseudonyms: pseudonyms(t), Now: c.now, Rules: []Rule{
		{Name: "per-user", Per: PerPrincipal, Methods: []string{"tools/call"}, Limit: 5, Window: time.Minute},
		{Name: "expensive-tool", Per: PerTool, Methods: []string{"tools/call"}, Limit: 1, Window: time.Minute},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if d := l.Check(ctx, Request{Method: "tools/call", Target: "render", Identity: alice}); !d.Allowed || d.Rule != "per-user" {
		t.Fatalf("first: %+v", d)
	}
	d := l.Check(ctx, Request{Method: "tools/call", Target: "render", Identity: bob})
	if d.Allowed || d.Rule != "expensive-tool" || d.RetryAfter != time.Minute {
		t.Fatalf("second: %+v, want rejected by expensive-tool, retry after 1m", d)
	}
	if d := l.Check(ctx, Request{Method: "prompts/get", Identity: bob}); !d.Allowed || d.Rule != "" {
		t.Fatalf("uncovered method: %+v", d)
	}
}

func TestNewRejects(t *testing.T) {
	ok := Rule{Name: "r", Per: PerPrincipal, Methods: []string{"tools/call"}, Limit: 1, Window: time.Second}
	tests := []struct {
		name  string
		rules []Rule
		want  string
	}{
		{"no name", []Rule{{Per: PerPrincipal, Methods: []string{"x"}, Limit: 1, Window: time.Second}}, "no name"},
		{"no per", []Rule{{Name: "r", Methods: []string{"x"}, Limit: 1, Window: time.Second}}, "per is not set"},
		{"no method", []Rule{{Name: "r", Per: PerTool, Limit: 1, Window: time.Second}}, "lists no method"},
		{"zero limit", []Rule{{Name: "r", Per: PerTool, Methods: []string{"x"}, Window: time.Second}}, "limit must be positive"},
		{"zero window", []Rule{{Name: "r", Per: PerTool, Methods: []string{"x"}, Limit: 1}}, "window must be positive"},
		{"duplicate names", []Rule{ok, ok}, "two rules are named"},
		{"more than one a microsecond (divided by zero before)", []Rule{{Name: "r", Per: PerTool, Methods: []string{"x"}, Limit: 1 << 31, Window: time.Second}}, "more than one a microsecond"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Options{Rules: tt.rules, Pseudonyms: pseudonyms(t)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := New(Options{Rules: []Rule{ok}}); err == nil {
		t.Fatal("New without a pseudonymizer succeeded")
	}
	for _, s := range []string{"principal", "principal+tool", "tool", "global"} {
		if p, err := ParsePer(s); err != nil || p.String() != s {
			t.Fatalf("ParsePer(%q) = %v %v", s, p, err)
		}
	}
	for _, s := range []string{"", "local", "open", "closed"} {
		if f, err := ParseFailure(s); err != nil || (s != "" && f.String() != s) {
			t.Fatalf("ParseFailure(%q) = %v %v", s, f, err)
		}
	}
}

func TestStoreFailure(t *testing.T) {
	rule := Rule{Name: "per-user", Per: PerPrincipal, Methods: []string{"tools/call"}, Limit: 10, Window: time.Minute}
	tests := []struct {
		name    string
		failure Failure
		want    int // admitted of 20 during the outage
	}{
		{"local: this replica's share of the limit", FailLocal, 10 / 4},
		{"open: everything", FailOpen, 20},
		{"closed: nothing", FailClosed, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			store := &flaky{inner: NewMemory(c.now)}
			sink := &logSink{}
			var fallbacks []string
			var states []bool
			l, err := New(Options{Rules: []Rule{rule}, Store: store, OnStoreFailure: tt.failure, Replicas: 4,
				Pseudonyms: pseudonyms(t), Now: c.now, Logger: slog.New(sink), ProbeInterval: time.Second,
				OnFallback:   func(r string, f Failure) { fallbacks = append(fallbacks, r+"/"+f.String()) },
				OnStoreState: func(up bool) { states = append(states, up) }})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if d := l.Check(ctx, Request{Method: "tools/call", Identity: alice}); !d.Allowed || d.Fallback {
				t.Fatalf("store up: %+v", d)
			}
			store.down.Store(true)
			admitted := 0
			for range 20 {
				d := l.Check(ctx, Request{Method: "tools/call", Identity: bob})
				if !d.Fallback {
					t.Fatalf("decided by a down store: %+v", d)
				}
				if d.Allowed {
					admitted++
				} else if d.Rule != "per-user" || d.RetryAfter <= 0 {
					t.Fatalf("rejection %+v", d)
				}
			}
			if admitted != tt.want {
				t.Fatalf("%d admitted during the outage, want %d", admitted, tt.want)
			}
			if len(fallbacks) != 20 || fallbacks[0] != "per-user/"+tt.failure.String() {
				t.Fatalf("fallbacks counted: %d (%v)", len(fallbacks), fallbacks[:min(1, len(fallbacks))])
			}
			if n := store.calls.Load(); n != 2 {
				t.Fatalf("the down store was asked %d times within one probe interval, want 2 (before and at the failure)", n)
			}
			if n := sink.count("unreachable"); n != 1 {
				t.Fatalf("outage logged %d times, want once", n)
			}
			// A failed probe is not a new outage.
			c.add(1100 * time.Millisecond)
			l.Check(ctx, Request{Method: "tools/call", Identity: bob})
			if n := sink.count("unreachable"); n != 1 || store.calls.Load() != 3 {
				t.Fatalf("after a failed probe: logged %d, store asked %d", n, store.calls.Load())
			}
			// Recovery: detected at the next probe, logged once, shared again.
			store.down.Store(false)
			c.add(1100 * time.Millisecond)
			if d := l.Check(ctx, Request{Method: "tools/call", Identity: alice}); d.Fallback || !d.Allowed {
				t.Fatalf("after recovery: %+v", d)
			}
			if sink.count("reachable again") != 1 || !l.StoreUp() {
				t.Fatalf("recovery not logged once: %v", sink.msgs)
			}
			if len(states) != 2 || states[0] || !states[1] {
				t.Fatalf("store states %v, want [false true]", states)
			}
			for _, m := range sink.msgs {
				if strings.Contains(m, "alice") || strings.Contains(m, "bob") {
					t.Fatalf("log names a principal: %s", m)
				}
			}
		})
	}
}

// TestOutageLoggedOnceUnderConcurrency: many requests failing at once
// still make one outage, logged once, every one of them counted.
func TestOutageLoggedOnceUnderConcurrency(t *testing.T) {
	store := &flaky{inner: NewMemory(nil)}
	store.down.Store(true)
	sink := &logSink{}
	var fallbacks atomic.Int64
	l, err := New(Options{Store: store, Pseudonyms: pseudonyms(t), Logger: slog.New(sink), ProbeInterval: time.Millisecond,
		OnFallback: func(string, Failure) { fallbacks.Add(1) },
		Rules:      []Rule{{Name: "g", Per: PerGlobal, Methods: []string{"*"}, Limit: 1000, Window: time.Second}}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				l.Check(context.Background(), Request{Method: "ping"})
			}
		}()
	}
	wg.Wait()
	if n := sink.count("unreachable"); n != 1 {
		t.Fatalf("outage logged %d times", n)
	}
	if fallbacks.Load() != 1600 {
		t.Fatalf("%d fallbacks counted, want 1600", fallbacks.Load())
	}
}
