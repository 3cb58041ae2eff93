package ratelimit

import (
	"context"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcpgate/mcpgate/internal/testredis"
)

func newRedisLimiter(t testing.TB, url string, o Options) *Limiter {
	t.Helper()
	// A loaded CI machine can be slow to answer; a refusal is immediate.
	store, err := NewRedis(url, RedisOptions{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	o.Store = store
	o.Pseudonyms = pseudonyms(t)
	l, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestRedisSharedAcrossReplicasAndOutage: two limiters (two replicas)
// sharing one Redis admit N in all, not 2N; with Redis killed each falls
// back to its share locally, every fallback counted and the outage logged
// once; with Redis back, the limit is shared again.
func TestRedisSharedAcrossReplicasAndOutage(t *testing.T) {
	srv := testredis.Start(t)
	const n = 20
	rule := Rule{Name: "per-user", Per: PerPrincipal, Methods: []string{"tools/call"}, Limit: n, Window: time.Hour}
	var fallbacks atomic.Int64
	sinks := [2]*logSink{{}, {}}
	var replicas [2]*Limiter
	for i := range replicas {
		replicas[i] = newRedisLimiter(t, srv.URL(), Options{Rules: []Rule{rule}, Replicas: 2,
			OnFallback: func(string, Failure) { fallbacks.Add(1) }, Logger: slog.New(sinks[i]),
			ProbeInterval: 200 * time.Millisecond})
	}
	ctx := context.Background()
	req := Request{Method: "tools/call", Identity: alice}
	admitted := 0
	for i := range 3 * n {
		d := replicas[i%2].Check(ctx, req)
		if d.Fallback {
			t.Fatalf("request %d decided by the fallback with Redis up", i)
		}
		if d.Allowed {
			admitted++
		} else if d.RetryAfter <= 0 || d.Rule != "per-user" {
			t.Fatalf("rejection %+v", d)
		}
	}
	if admitted != n {
		t.Fatalf("two replicas admitted %d, want %d in all", admitted, n)
	}

	// Redis killed mid-run.
	srv.Stop()
	admitted = 0
	for i := range 3 * n {
		d := replicas[i%2].Check(ctx, Request{Method: "tools/call", Identity: bob})
		if !d.Fallback {
			t.Fatalf("request %d during the outage not marked as a fallback", i)
		}
		if d.Allowed {
			admitted++
		}
	}
	if admitted != n { // each replica its share n/2
		t.Fatalf("during the outage the replicas admitted %d, want %d (n/2 each)", admitted, n)
	}
	if got := fallbacks.Load(); got != 3*n {
		t.Fatalf("%d fallbacks counted, want %d", got, 3*n)
	}
	for i, s := range sinks {
		if c := s.count("unreachable"); c != 1 {
			t.Fatalf("replica %d logged the outage %d times, want once", i, c)
		}
	}

	// Restarted (empty: no persistence): shared again once a probe gets
	// through (go-redis itself redials a refused server once a second).
	srv.Start()
	poller := *alice
	poller.Subject = "poller"
	for i := range replicas {
		deadline := time.Now().Add(5 * time.Second)
		for replicas[i].Check(ctx, Request{Method: "tools/call", Identity: &poller}).Fallback {
			if time.Now().After(deadline) {
				t.Fatalf("replica %d still falls back 5s after Redis returned", i)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if sinks[i].count("reachable again") != 1 || sinks[i].count("unreachable") != 1 {
			t.Fatalf("replica %d did not log the outage and recovery once each: %v", i, sinks[i].msgs)
		}
	}
	admitted = 0
	for i := range 3 * n {
		if d := replicas[i%2].Check(ctx, Request{Method: "tools/call", Identity: bob}); d.Allowed {
			admitted++
		}
	}
	if admitted != n {
		t.Fatalf("after recovery the replicas admitted %d, want %d in all", admitted, n)
	}

	// The store holds pseudonyms, never subjects.
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), DisableIdentity: true})
	defer c.Close()
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys %v %v", keys, err)
	}
	p := pseudonyms(t)
	hb, _ := p.Hash(bob.Issuer, bob.Subject)
	hp, _ := p.Hash(poller.Issuer, poller.Subject)
	slices.Sort(keys)
	want := []string{"rate:mcpgate:rl:per-user:p:" + hb, "rate:mcpgate:rl:per-user:p:" + hp}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Fatalf("keys %q, want %q", keys, want)
	}
}

func TestRedisUnreachableAtStart(t *testing.T) {
	srv := testredis.Start(t)
	srv.Stop() // a port nothing listens on
	l := newRedisLimiter(t, srv.URL(), Options{OnStoreFailure: FailClosed, Logger: slog.New(&logSink{}),
		Rules: []Rule{{Name: "g", Per: PerGlobal, Methods: []string{"*"}, Limit: 5, Window: time.Second}}})
	if d := l.Check(context.Background(), Request{Method: "ping"}); d.Allowed || !d.Fallback || d.RetryAfter <= 0 {
		t.Fatalf("closed with Redis down: %+v", d)
	}
}

func BenchmarkCheck(b *testing.B) {
	rules := []Rule{
		{Name: "per-user", Per: PerPrincipal, Methods: []string{"tools/call"}, Limit: 1 << 19, Window: time.Second},
		{Name: "per-user-tool", Per: PerPrincipalTool, Methods: []string{"tools/call"}, Limit: 1 << 19, Window: time.Second},
	}
	req := Request{Method: "tools/call", Target: "search", Identity: alice}
	b.Run("store=memory", func(b *testing.B) {
		l, err := New(Options{Rules: rules, Pseudonyms: pseudonyms(b)})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if !l.Check(ctx, req).Allowed {
				b.Fatal("rejected")
			}
		}
	})
	b.Run("store=redis", func(b *testing.B) {
		srv := testredis.Start(b)
		l := newRedisLimiter(b, srv.URL(), Options{Rules: rules})
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if d := l.Check(ctx, req); !d.Allowed || d.Fallback {
				b.Fatalf("%+v", d)
			}
		}
	})
}
