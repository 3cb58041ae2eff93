package ratelimit

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestMemoryGCRA(t *testing.T) {
	c := newClock()
	m := NewMemory(c.now)
	ctx := context.Background()
	l := Limit{Rate: 10, Period: time.Second, Burst: 10} // one per 100ms
	for i := range 10 {
		r, _ := m.Allow(ctx, "k", l)
		if !r.Allowed || r.Remaining != 9-i {
			t.Fatalf("request %d of the burst: %+v", i, r)
		}
	}
	r, _ := m.Allow(ctx, "k", l)
	if r.Allowed || r.RetryAfter != 100*time.Millisecond {
		t.Fatalf("past the burst: %+v, want rejected, retry after 100ms", r)
	}
	if r, _ := m.Allow(ctx, "other", l); !r.Allowed {
		t.Fatal("another key shares the bucket")
	}
	c.add(100 * time.Millisecond)
	if r, _ := m.Allow(ctx, "k", l); !r.Allowed {
		t.Fatalf("one emission interval later: %+v", r)
	}
	if r, _ := m.Allow(ctx, "k", l); r.Allowed {
		t.Fatal("two admitted after one interval")
	}
	c.add(time.Second)
	for i := range 10 {
		if r, _ := m.Allow(ctx, "k", l); !r.Allowed {
			t.Fatalf("after a full period, request %d rejected", i)
		}
	}
}

func TestMemoryEvictsIdleKeys(t *testing.T) {
	c := newClock()
	m := NewMemory(c.now)
	ctx := context.Background()
	l := Limit{Rate: 1, Period: time.Second, Burst: 1}
	for i := range 50_000 {
		m.Allow(ctx, fmt.Sprint("k", i), l)
	}
	c.add(2 * time.Second) // every bucket is idle now
	for i := range 50_000 {
		m.Allow(ctx, fmt.Sprint("n", i), l)
	}
	if n := m.Len(); n > 60_000 {
		t.Fatalf("%d keys held; the idle ones were not evicted", n)
	}
}

func TestMemoryBounded(t *testing.T) {
	m := NewMemory(nil)
	m.cap = 2048 // per shard, so the test floods quickly
	ctx := context.Background()
	l := Limit{Rate: 1, Period: time.Hour, Burst: 1} // nothing goes idle
	for i := range 400_000 {
		m.Allow(ctx, fmt.Sprint("k", i), l)
	}
	if n := m.Len(); n > memShards*2048 {
		t.Fatalf("%d keys held, bound %d", n, memShards*2048)
	}
}
