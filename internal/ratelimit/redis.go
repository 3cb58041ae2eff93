package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Redis is a store shared by every replica: redis_rate's GCRA, one Lua
// script that reads and updates a bucket atomically on the server, with
// the server's clock (replicas' clocks never matter).
type Redis struct {
	client *redis.Client
	lim    *redis_rate.Limiter
}

// RedisOptions tune the Redis store.
type RedisOptions struct {
	// Timeout bounds each command, dial included (default 200ms): a limit
	// check must not hold a request for long when Redis is slow or gone.
	Timeout time.Duration
}

// NewRedis connects to url (redis://host:port/db, rediss:// for TLS). It
// does not wait for the server: an unreachable one is an outage, handled
// by the limiter's fallback.
func NewRedis(url string, o RedisOptions) (*Redis, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: redis url: %w", err)
	}
	t := o.Timeout
	if t <= 0 {
		t = 200 * time.Millisecond
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = t, t, t, t
	// No retries: the fallback is the answer to a failure, and a retry
	// would double the time a request waits on a dead server.
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	// The client identifies itself on connect with CLIENT SETINFO, which
	// older servers reject; nothing here needs it.
	opt.DisableIdentity = true
	quietRedis.Do(func() { redis.SetLogger(discard{}) })
	c := redis.NewClient(opt)
	return &Redis{client: c, lim: redis_rate.NewLimiter(c)}, nil
}

// Allow implements Store.
func (r *Redis) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	res, err := r.lim.Allow(ctx, key, redis_rate.Limit{Rate: l.Rate, Burst: l.Burst, Period: l.Period})
	if err != nil {
		return Result{}, err
	}
	return Result{Allowed: res.Allowed > 0, Remaining: res.Remaining, RetryAfter: max(0, res.RetryAfter)}, nil
}

// Ping implements Pinger.
func (r *Redis) Ping(ctx context.Context) error { return r.client.Ping(ctx).Err() }

// go-redis logs every failed dial; the limiter logs an outage once, which
// is the point. mcpgate has no other Redis client whose logs this silences.
var quietRedis sync.Once

type discard struct{}

func (discard) Printf(context.Context, string, ...any) {}

// Close closes the connections.
func (r *Redis) Close() error { return r.client.Close() }
