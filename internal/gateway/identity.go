package gateway

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpgate/mcpgate/internal/attribution"
	"github.com/mcpgate/mcpgate/internal/audit"
	"github.com/mcpgate/mcpgate/internal/config"
	"github.com/mcpgate/mcpgate/internal/pseudonym"
	"github.com/mcpgate/mcpgate/internal/record"
	"github.com/mcpgate/mcpgate/internal/telemetry"
)

// principals holds what names principals outside authentication: the
// pseudonymizer shared by span attribution and the audit log, the span
// attributor, and the audit log.
type principals struct {
	pseudonyms *pseudonym.Pseudonymizer // nil without pseudonymization keys
	attributor *attribution.Attributor
	audit      *audit.Logger   // nil when the audit log is off
	auditRep   *audit.Reporter // nil when the audit log is off
}

func newPrincipals(cfg *config.Config) (*principals, error) {
	p := &principals{}
	var err error
	if len(cfg.Pseudonymization.Keys) > 0 {
		if p.pseudonyms, err = pseudonym.New(cfg.Pseudonymization.PseudonymKeys()); err != nil {
			return nil, fmt.Errorf("pseudonymization: %w", err)
		}
	}
	mode, err := attribution.ParseMode(cfg.Telemetry.UserAttribution)
	if err != nil {
		return nil, err
	}
	if p.attributor, err = attribution.New(mode, p.pseudonyms); err != nil {
		return nil, err
	}
	return p, nil
}

// spanAttribution is telemetry's attribution hook: identity-derived
// attributes for spans only, read from the record when each span ends.
func (p *principals) spanAttribution() telemetry.Attribution {
	if p.attributor.Mode() == attribution.Off {
		return nil
	}
	a := p.attributor
	return func(dst []attribute.KeyValue, rec *record.Record) []attribute.KeyValue {
		return a.Append(dst, rec.Identity)
	}
}

// openAudit starts the audit log when it is enabled. A sink that cannot be
// opened stops the gateway from starting: serving unaudited would break
// what the operator asked for.
func (p *principals) openAudit(cfg *config.Config, log *slog.Logger, rateLimitRules []string) error {
	a := &cfg.Audit
	if !a.Enabled {
		return nil
	}
	l, err := audit.New(audit.Options{
		Sink:          a.Sink,
		FailClosed:    a.FailClosed,
		Fsync:         audit.Fsync(a.Fsync),
		FsyncInterval: a.FsyncInterval,
		QueueSize:     a.QueueSize,
		Logger:        log,
		// audit.rejectedPerSecond 0 writes every rejected event.
		RejectedPerSecond: cmp.Or(a.RejectedPerSecond, -1),
	})
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	opts := audit.ReportOptions{
		Principal: audit.PrincipalMode(a.Principal),
		Capture: audit.CaptureOptions{
			Requests:  a.Capture.Requests,
			Responses: a.Capture.Responses,
			MaxBytes:  int(a.Capture.MaxBytes),
		},
		// The SERVER span of each message joins the event to its trace,
		// sampled or not.
		SpanContext: func(_ context.Context, rec *record.Record, op int) trace.SpanContext {
			return telemetry.ServerSpanContext(rec, op)
		},
		RateLimitRules: rateLimitRules,
	}
	if p.pseudonyms != nil {
		opts.Hash = p.pseudonyms.Hash
	}
	rep, err := l.Reporter(opts)
	if err != nil {
		_ = l.Close(context.Background())
		return fmt.Errorf("audit: %w", err)
	}
	p.audit, p.auditRep = l, rep
	return nil
}

// auditGuard is the stage refusing requests while a fail-closed audit log
// cannot record them; it passes everything when the log is off.
func (p *principals) auditGuard() func(http.Handler) http.Handler {
	if p.audit == nil {
		return passThrough
	}
	return p.audit.Guard()
}

// auditCapture is the stage capturing bodies for the audit log, when
// capture is on.
func (p *principals) auditCapture() func(http.Handler) http.Handler {
	if p.auditRep == nil {
		return passThrough
	}
	return p.auditRep.Capture()
}

func passThrough(next http.Handler) http.Handler { return next }

// startupWarnings says when attribution is on but cannot show anything.
func (p *principals) startupWarnings(cfg *config.Config, tracesExporter string) []string {
	if p.attributor.Mode() == attribution.Off {
		return nil
	}
	var w []string
	if len(cfg.Auth.Mode) == 1 && cfg.Auth.Anonymous() {
		w = append(w, fmt.Sprintf("telemetry.userAttribution is %s but auth.mode is anonymous only: no request has a principal to attribute", p.attributor.Mode()))
	}
	if tracesExporter == "none" || tracesExporter == "" {
		w = append(w, fmt.Sprintf("telemetry.userAttribution is %s but no traces are exported (telemetry.traces.exporter none): attribution appears only on spans", p.attributor.Mode()))
	}
	return w
}
