package telemetry

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// The gateway's own metrics that are not derived from a request record: the
// components that see the events call these. All are safe on a nil
// *Telemetry. backend is always a configured backend name (a bounded set).

// SessionStarted counts a session the gateway now holds for a client of
// backend (mcpgate.sessions.active).
func (t *Telemetry) SessionStarted(backend string) {
	if t == nil {
		return
	}
	t.inst.sessionsActive.Add(context.Background(), 1, metric.WithAttributeSet(attribute.NewSet(keyBackend.String(backend))))
}

// SessionEnded undoes SessionStarted and records the session's lifetime
// (mcp.server.session.duration). version is its protocol revision; reason is
// a record.Reason* when the session ended because something failed, else "".
func (t *Telemetry) SessionEnded(backend, version string, started time.Time, reason string) {
	if t == nil {
		return
	}
	ctx := context.Background()
	t.inst.sessionsActive.Add(ctx, -1, metric.WithAttributeSet(attribute.NewSet(keyBackend.String(backend))))
	var buf [4]attribute.KeyValue
	kv := append(buf[:0], keyBackend.String(backend), keyNetworkTransport.String(transportTCP))
	kv = appendIf(kv, keyMCPProtocolVersion, boundVersion(version))
	kv = appendIf(kv, keyErrorType, boundReason(reason))
	t.inst.session.Record(ctx, time.Since(started).Seconds(), metric.WithAttributeSet(attribute.NewSet(kv...)))
}

// StdioRestart counts a stdio backend process started again after the
// previous one exited (mcpgate.stdio.restarts).
func (t *Telemetry) StdioRestart(backend string) {
	if t == nil {
		return
	}
	t.inst.stdioRestarts.Add(context.Background(), 1, metric.WithAttributeSet(attribute.NewSet(keyBackend.String(backend))))
}

// JWKSFetch counts one fetch of an identity provider's key set
// (mcpgate.jwks.fetches), by outcome: success or failure.
func (t *Telemetry) JWKSFetch(ok bool) {
	if t == nil {
		return
	}
	outcome := "failure"
	if ok {
		outcome = "success"
	}
	t.inst.jwksFetches.Add(context.Background(), 1, metric.WithAttributeSet(attribute.NewSet(keyOutcome.String(outcome))))
}
