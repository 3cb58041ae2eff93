package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/mcpgate/mcpgate/internal/aggregate"
	"github.com/mcpgate/mcpgate/internal/config"
	"github.com/mcpgate/mcpgate/internal/telemetry"
)

// newAggregator builds the aggregating backend: several backends behind
// one MCP endpoint (docs/aggregation.md).
func newAggregator(cfg *config.Config, log *slog.Logger, tel *telemetry.Telemetry) (*aggregate.Aggregator, error) {
	bs := make([]aggregate.Backend, 0, len(cfg.Backends))
	for i := range cfg.Backends {
		b := &cfg.Backends[i]
		ab := aggregate.Backend{
			Name:   b.Name,
			Filter: aggregate.Filter{Include: b.Include, Exclude: b.Exclude},
		}
		if b.IsCommand() {
			ab.Command, ab.Dir, ab.InheritEnv = b.Argv(), b.Dir, b.InheritEnv
			// A child that exited is started again by the reconnection,
			// spaced out as restart says.
			ab.InitialBackoff, ab.MaxBackoff = b.Restart.InitialBackoff, b.Restart.MaxBackoff
			for k, v := range b.Env {
				ab.Env = append(ab.Env, k+"="+v)
			}
		} else {
			u, headers, tlsConf, err := remoteBackend(b)
			if err != nil {
				return nil, err
			}
			ab.URL, ab.Headers, ab.TLS = u, headers, tlsConf
			ab.ConnectTimeout, ab.FirstByteTimeout, ab.IdleTimeout = b.Timeouts.Connect, b.Timeouts.FirstByte, b.Timeouts.Idle
		}
		bs = append(bs, ab)
	}
	return aggregate.New(aggregate.Options{
		Backends:                bs,
		Naming:                  aggregate.Naming{Separator: cfg.Aggregate.Separator, Prefix: cfg.Aggregate.Prefix},
		Stateless:               cfg.Aggregate.Stateless,
		SessionTimeout:          cfg.Sessions.IdleTimeout,
		MaxSessions:             cfg.Aggregate.MaxSessions,
		MaxSessionsPerPrincipal: cfg.Aggregate.MaxSessionsPerPrincipal,
		InitializeTimeout:       cfg.Aggregate.InitializeTimeout,
		MaxBodyBytes:            cfg.Limits.MaxBodyBytes,
		Version:                 Version,
		Telemetry:               tel,
		Logger:                  log,
		// Sealed, a session this replica drops (shutdown) goes on in
		// another: its backend sessions must outlive this process.
		Handoff: cfg.Sessions.Sealed(),
	})
}

// probeNames checks, with aggregate.prefix off, that the backends' names do
// not collide, so that a configuration that cannot work fails at start-up
// rather than in every client session. Backends that cannot be reached now
// are only warned about.
func probeNames(ag *aggregate.Aggregator, cfg *config.Config, log *slog.Logger) error {
	if cfg.Aggregate.Prefix {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	warnings, err := ag.Probe(ctx)
	for _, w := range warnings {
		log.Warn(w)
	}
	if err != nil {
		return fmt.Errorf("aggregate: %w", err) // New closes ag
	}
	return nil
}
