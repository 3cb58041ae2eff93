package gateway

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/mcpgate/mcpgate/internal/config"
	"github.com/mcpgate/mcpgate/internal/pseudonym"
	"github.com/mcpgate/mcpgate/internal/ratelimit"
	"github.com/mcpgate/mcpgate/internal/telemetry"
)

// rateLimits is the gateway's rate limiter and the Redis store it owns
// (nil for the memory store); both nil without rules.
type rateLimits struct {
	limiter *ratelimit.Limiter
	redis   *ratelimit.Redis
}

// storeCheckTimeout bounds the start-up check of the Redis store (each
// command has the store's own, shorter, time-out).
const storeCheckTimeout = 2 * time.Second

// newRateLimits builds the limiter of cfg.RateLimits. An unreachable Redis
// does not stop the gateway from starting: the outage begins at once —
// logged once by the limiter, onStoreFailure deciding meanwhile — and ends
// with the first probe Redis answers.
func newRateLimits(cfg *config.Config, pseudonyms *pseudonym.Pseudonymizer, tel *telemetry.Telemetry, log *slog.Logger) (*rateLimits, error) {
	rc := &cfg.RateLimits
	if !rc.RateLimited() {
		return &rateLimits{}, nil
	}
	rules := make([]ratelimit.Rule, len(rc.Rules))
	for i, r := range rc.Rules {
		per, err := ratelimit.ParsePer(r.Per)
		if err != nil {
			return nil, err
		}
		rules[i] = ratelimit.Rule{Name: r.Name, Per: per, Methods: r.Methods, Limit: r.Limit, Window: r.Window, Burst: r.Burst}
	}
	if pseudonyms == nil {
		// Validate allows this only when no rule keys on a principal: the
		// limiter wants a key all the same, and a key of this process
		// alone is as good as any for keys it never computes.
		var err error
		if pseudonyms, err = ephemeralPseudonyms(); err != nil {
			return nil, err
		}
	}
	failure, err := ratelimit.ParseFailure(rc.OnStoreFailure)
	if err != nil {
		return nil, err
	}
	rl := &rateLimits{}
	opts := ratelimit.Options{
		Rules:          rules,
		OnStoreFailure: failure,
		Replicas:       rc.Replicas,
		Pseudonyms:     pseudonyms,
		OnFallback:     func(rule string, f ratelimit.Failure) { tel.RateLimitFallback(rule, f.String()) },
		Logger:         log,
	}
	if rc.Store == config.RateLimitStoreRedis {
		if rl.redis, err = ratelimit.NewRedis(rc.Redis.URL, ratelimit.RedisOptions{}); err != nil {
			// The URL may hold a password from a reference.
			return nil, cfg.RedactError(fmt.Errorf("rateLimits.redis: %w", err))
		}
		opts.Store = rl.redis
	}
	if rl.limiter, err = ratelimit.New(opts); err != nil {
		rl.close()
		return nil, err
	}
	if rl.redis != nil {
		ctx, cancel := context.WithTimeout(context.Background(), storeCheckTimeout)
		defer cancel()
		if rl.limiter.CheckStore(ctx) == nil {
			log.Info("rate-limit store reachable", "store", "redis", "rules", len(rules))
		}
	}
	return rl, nil
}

func ephemeralPseudonyms() (*pseudonym.Pseudonymizer, error) {
	secret := make([]byte, pseudonym.MinKeyBytes)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	return pseudonym.New([]pseudonym.Key{{ID: "ephemeral", Secret: secret}})
}

// stage is the ratelimit stage; a pass-through without rules.
func (rl *rateLimits) stage() func(http.Handler) http.Handler {
	if rl.limiter == nil {
		return passThrough
	}
	return rl.limiter.Stage()
}

// close releases the Redis client's connections.
func (rl *rateLimits) close() {
	if rl != nil && rl.redis != nil {
		_ = rl.redis.Close()
	}
}

// ruleNames are the configured rules' names in order: a message's
// decision names its rule by index (record.RateLimit), and telemetry and
// the audit log read the names from here.
func ruleNames(cfg *config.Config) []string {
	names := make([]string, len(cfg.RateLimits.Rules))
	for i, r := range cfg.RateLimits.Rules {
		names[i] = r.Name
	}
	return names
}
