package config

import (
	"crypto/tls"
	"strings"
	"time"
)

// Defaults. docs/configuration.md lists the same values.
const (
	DefaultListen       = "127.0.0.1:8080"
	DefaultPath         = "/mcp"
	DefaultAdminListen  = "127.0.0.1:9464"
	DefaultAPIKeyHeader = "X-API-Key"
	// DefaultBackendName is the name of the backend of the no-file forms.
	DefaultBackendName = "default"
)

// applyDefaults fills every value the file did not set. It is the only
// place defaults live. A key the file set, even to a zero value (admin.pprof:
// false, readBody: 0, admin.listen: ""), is left alone. Backend defaults depend
// on the backend's kind: remote backends get timeouts (and TLS 1.2 for
// https), command backends get isolation, restart and, relayed alone,
// maxSessions.
func applyDefaults(c *Config) {
	unset := func(path string) bool { return !c.isSet(path) }
	str := func(path string, dst *string, v string) {
		if unset(path) {
			*dst = v
		}
	}
	dur := func(path string, dst *time.Duration, v time.Duration) {
		if unset(path) {
			*dst = v
		}
	}
	size := func(path string, dst *int64, v int64) {
		if unset(path) {
			*dst = v
		}
	}
	num := func(path string, dst *int, v int) {
		if unset(path) {
			*dst = v
		}
	}

	str("listen", &c.Listen, DefaultListen)
	str("path", &c.Path, DefaultPath)
	str("admin.listen", &c.Admin.Listen, DefaultAdminListen)
	if unset("admin.pprof") {
		c.Admin.Pprof = true
	}
	size("limits.maxBodyBytes", &c.Limits.MaxBodyBytes, 4<<20)
	size("limits.maxHeaderBytes", &c.Limits.MaxHeaderBytes, 64<<10)
	num("limits.maxBatch", &c.Limits.MaxBatch, 32)
	num("limits.maxDepth", &c.Limits.MaxDepth, 64)
	dur("timeouts.readHeader", &c.Timeouts.ReadHeader, 10*time.Second)
	dur("timeouts.readBody", &c.Timeouts.ReadBody, 30*time.Second)
	dur("timeouts.idle", &c.Timeouts.Idle, 120*time.Second)
	dur("timeouts.shutdown", &c.Timeouts.Shutdown, 30*time.Second)
	dur("sessions.idleTimeout", &c.Sessions.IdleTimeout, 30*time.Minute)
	dur("sessions.maxLifetime", &c.Sessions.MaxLifetime, 24*time.Hour)
	dur("cors.maxAge", &c.CORS.MaxAge, 10*time.Minute)
	str("auth.apiKeyHeader", &c.Auth.APIKeyHeader, DefaultAPIKeyHeader)
	str("log.level", &c.Log.Level, "info")
	str("log.format", &c.Log.Format, "json")
	// A line per successful request costs a write per request and repeats
	// what traces, metrics and the audit log record; failures always
	// deserve one. Trying things without a file, people want to see
	// everything.
	requests := "errors"
	if c.meta != nil && c.meta.noFile {
		requests = "all"
	}
	str("log.requests", &c.Log.Requests, requests)
	str("aggregate.separator", &c.Aggregate.Separator, "_")
	if unset("aggregate.prefix") {
		c.Aggregate.Prefix = true
	}
	num("aggregate.maxSessions", &c.Aggregate.MaxSessions, 100)
	num("aggregate.maxSessionsPerPrincipal", &c.Aggregate.MaxSessionsPerPrincipal, 20)
	dur("aggregate.initializeTimeout", &c.Aggregate.InitializeTimeout, 10*time.Second)
	// auth.mode has no default in a file: Validate reports it missing.
	applyAuthDefaults(c)
	applyTelemetryDefaults(c)
	applyAuditDefaults(c)
	applyRateLimitDefaults(c)

	for i := range c.Backends {
		b := &c.Backends[i]
		p := joinIndex("backends", i) + "."
		if b.URL != "" {
			dur(p+"timeouts.connect", &b.Timeouts.Connect, 10*time.Second)
			dur(p+"timeouts.firstByte", &b.Timeouts.FirstByte, 2*time.Minute)
			dur(p+"timeouts.idle", &b.Timeouts.Idle, 0)
			if len(b.URL) >= 8 && strings.EqualFold(b.URL[:8], "https://") && unset(p+"tls.minVersion") {
				b.TLS.MinVersion = tls.VersionTLS12
			}
		}
		if len(b.Command) > 0 || c.isSet(p+"command") {
			if unset(p + "isolation") {
				b.Isolation = IsolationSession
			}
			// Aggregating, the client sessions are capped by aggregate.*
			// (Validate refuses these keys there).
			if b.Isolation == IsolationSession && len(c.Backends) == 1 {
				num(p+"maxSessions", &b.MaxSessions, 100)
				num(p+"maxSessionsPerPrincipal", &b.MaxSessionsPerPrincipal, max(1, b.MaxSessions/4))
			}
			dur(p+"restart.initialBackoff", &b.Restart.InitialBackoff, 500*time.Millisecond)
			dur(p+"restart.maxBackoff", &b.Restart.MaxBackoff, 30*time.Second)
		}
	}
}
