package stdiorelay

import (
	"sync"
	"time"
)

// healthyRun is how long a child must live for its exit not to count as a
// failed start.
const healthyRun = 10 * time.Second

// backoff spaces out the starts of a command that keeps failing: after n
// consecutive failures the next start waits initial·2^(n-1), capped at max.
type backoff struct {
	initial, max time.Duration
	now          func() time.Time

	mu       sync.Mutex
	failures int
	next     time.Time
}

func newBackoff(initial, max time.Duration) *backoff {
	if initial <= 0 {
		initial = 500 * time.Millisecond
	}
	if max <= 0 {
		max = 30 * time.Second
	}
	if max < initial { // a cap below the first wait would silently shorten it
		max = initial
	}
	return &backoff{initial: initial, max: max, now: time.Now}
}

// wait returns how long until a start is allowed (zero: now).
func (b *backoff) wait() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if d := b.next.Sub(b.now()); d > 0 {
		return d
	}
	return 0
}

func (b *backoff) failed() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures++
	// Doubling step by step up to the cap: a shift by the failure count
	// can overflow into a short, positive wait after many failures.
	d := b.initial
	for i := 1; i < b.failures && d < b.max; i++ {
		if d > b.max/2 {
			d = b.max
			break
		}
		d *= 2
	}
	d = min(d, b.max)
	b.next = b.now().Add(d)
}

func (b *backoff) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures = 0
	b.next = time.Time{}
}

func (b *backoff) attempts() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failures
}

// unavailableError says the backend cannot be started now; retry later.
type unavailableError struct{ retryAfter time.Duration }

func (e *unavailableError) Error() string {
	return "backend is restarting after repeated failures; retry in " + e.retryAfter.Round(time.Second).String()
}
