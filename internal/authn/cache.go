package authn

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/mcpgate/mcpgate/internal/identity"
)

// tokenCache remembers verified tokens so that a client's every request
// does not cost a signature verification. It is keyed by the SHA-256 of the
// token — the token itself is never stored — bounded in entries (the oldest
// entry is evicted first), and each entry expires at min(token exp + skew,
// verification time + TTL), so that a key removed from an issuer's JWKS
// stops being honoured within the TTL even for a token verified just
// before. When a refresh shows a key gone, the entries it verified are
// dropped at once.
type tokenCache struct {
	ttl time.Duration

	mu   sync.RWMutex
	m    map[[sha256.Size]byte]*cacheEntry
	ring [][sha256.Size]byte // keys in insertion order, for eviction
	next int
}

type cacheEntry struct {
	id     *identity.Identity
	until  time.Time
	issuer *issuer
	keyID  string // the verifying key (see keyIdentity)
	slot   int    // index in ring
}

// newTokenCache returns nil (no caching) when size or ttl is not positive.
func newTokenCache(size int, ttl time.Duration) *tokenCache {
	if size <= 0 || ttl <= 0 {
		return nil
	}
	return &tokenCache{ttl: ttl, m: make(map[[sha256.Size]byte]*cacheEntry, min(size, 1024)), ring: make([][sha256.Size]byte, size)}
}

// get returns the cached identity for the token hashed to k, or nil.
func (c *tokenCache) get(k *[sha256.Size]byte, now time.Time) *identity.Identity {
	c.mu.RLock()
	e := c.m[*k]
	var id *identity.Identity
	if e != nil && now.Before(e.until) {
		id = e.id
	}
	c.mu.RUnlock()
	return id
}

// put stores e under k if still() — evaluated under the cache lock, so that
// it cannot interleave with swap: an entry verified with a key set that has
// since been replaced is not stored.
func (c *tokenCache) put(k *[sha256.Size]byte, e *cacheEntry, still func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !still() {
		return
	}
	if old := c.m[*k]; old != nil {
		e.slot = old.slot
		c.m[*k] = e
		return
	}
	if victim := c.m[c.ring[c.next]]; victim != nil && victim.slot == c.next {
		delete(c.m, c.ring[c.next])
	}
	c.ring[c.next] = *k
	e.slot = c.next
	c.m[*k] = e
	c.next = (c.next + 1) % len(c.ring)
}

// swap runs store (which replaces iss's key set) and drops the entries that
// were verified by one of the removed keys, atomically with respect to put.
func (c *tokenCache) swap(iss *issuer, removed map[string]bool, store func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	store()
	if len(removed) == 0 {
		return
	}
	for k, e := range c.m {
		if e.issuer == iss && removed[e.keyID] {
			delete(c.m, k)
		}
	}
}

// len returns the number of entries, expired ones included.
func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
