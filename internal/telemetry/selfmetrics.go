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

// AuditCounters are the audit log's running totals.
type AuditCounters struct {
	Dropped func() int64 // events dropped because the queue was full
	Lost    func() int64 // events lost to a failed write
	Errors  func() int64 // sink failures: open, write, flush, fsync, close
	// Folded counts rejected events folded into summaries under a flood;
	// nil when the log does not fold.
	Folded func() int64
}

// ObserveAudit reports the audit log's losses: mcpgate.audit.dropped by
// error.type (queue_full, write_failed) and mcpgate.audit.errors; and
// mcpgate.audit.rejected.folded, what it summarized rather than wrote.
func (t *Telemetry) ObserveAudit(c AuditCounters) error {
	if t == nil || t.meter == nil {
		return nil
	}
	queueFull := metric.WithAttributeSet(attribute.NewSet(keyErrorType.String("queue_full")))
	writeFailed := metric.WithAttributeSet(attribute.NewSet(keyErrorType.String("write_failed")))
	_, err := t.meter.Int64ObservableCounter(MetricAuditDropped, metric.WithUnit("{event}"),
		metric.WithDescription("Audit events not written: dropped when the queue was full, or lost to a failed write."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(c.Dropped(), queueFull)
			o.Observe(c.Lost(), writeFailed)
			return nil
		}))
	if err != nil {
		return err
	}
	_, err = t.meter.Int64ObservableCounter(MetricAuditErrors, metric.WithUnit("{error}"),
		metric.WithDescription("Audit sink failures: open, write, flush, fsync or close errors."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(c.Errors())
			return nil
		}))
	if err != nil || c.Folded == nil {
		return err
	}
	_, err = t.meter.Int64ObservableCounter(MetricAuditFolded, metric.WithUnit("{event}"),
		metric.WithDescription("Rejected requests whose audit events were folded into rejected_summary events under a flood, instead of written in full."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(c.Folded())
			return nil
		}))
	return err
}
