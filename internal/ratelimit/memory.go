package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// Result is a store's answer for one key.
type Result struct {
	Allowed    bool
	Remaining  int           // requests admitted right away after this one
	RetryAfter time.Duration // when rejected: how long until one is admitted
}

// Store decides for one bucket key.
type Store interface {
	Allow(ctx context.Context, key string, l Limit) (Result, error)
}

// Memory is an in-process GCRA store. A bucket is one timestamp (its
// theoretical arrival time); a key whose timestamp has passed is idle —
// indistinguishable from an absent key — and is evicted when its shard
// grows. Past MaxKeys in all, arbitrary keys are evicted, so memory stays
// bounded under a flood of distinct callers (at the cost of forgetting some
// buckets then). Safe for concurrent use.
type Memory struct {
	now    func() time.Time
	seed   maphash.Seed
	shards [memShards]memShard
	cap    int // per shard
}

const memShards = 64

// MaxKeys bounds the keys a Memory store holds.
const MaxKeys = 1 << 20

type memShard struct {
	mu        sync.Mutex
	m         map[string]int64 // key → TAT, unix nanoseconds
	nextSweep int
}

// NewMemory returns a memory store; now nil means time.Now.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, seed: maphash.MakeSeed(), cap: MaxKeys / memShards}
}

// Allow implements Store with the same arithmetic as redis_rate's script,
// so a bucket behaves the same in either store.
func (m *Memory) Allow(_ context.Context, key string, l Limit) (Result, error) {
	now := m.now().UnixNano()
	interval := max(1, int64(l.Period)/int64(l.Rate)) // Rule.Validate keeps it ≥ 1µs
	burstOffset := interval * int64(l.Burst)
	sh := &m.shards[maphash.String(m.seed, key)%memShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	tat, ok := sh.m[key]
	if !ok || tat < now {
		tat = now
	}
	newTat := tat + interval
	allowAt := newTat - burstOffset
	diff := now - allowAt
	if diff < 0 {
		return Result{RetryAfter: time.Duration(-diff)}, nil
	}
	if !ok {
		m.insert(sh, now)
	}
	sh.m[key] = newTat
	return Result{Allowed: true, Remaining: int(diff / interval)}, nil
}

// insert makes room for one more key in sh.
func (m *Memory) insert(sh *memShard, now int64) {
	if sh.m == nil {
		sh.m = map[string]int64{}
		sh.nextSweep = 1024
	}
	if len(sh.m) < sh.nextSweep {
		return
	}
	for k, tat := range sh.m {
		if tat <= now {
			delete(sh.m, k)
		}
	}
	if len(sh.m) >= m.cap {
		// Over the bound: forget arbitrary buckets, down to three quarters
		// so that the next sweep is a quarter of the bound away.
		for k := range sh.m {
			if len(sh.m) < m.cap*3/4 {
				break
			}
			delete(sh.m, k)
		}
	}
	// Sweep again when the shard has doubled, so sweeping stays amortized
	// O(1) per insert even when no key is idle.
	sh.nextSweep = min(max(1024, 2*len(sh.m)), m.cap)
}

// Len returns the number of keys held.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		m.shards[i].mu.Lock()
		n += len(m.shards[i].m)
		m.shards[i].mu.Unlock()
	}
	return n
}
