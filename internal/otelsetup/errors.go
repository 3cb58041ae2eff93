package otelsetup

import (
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
)

// errorLogEvery and errorLogBurst limit exporter error logging: an
// unreachable collector fails every export, and the log must not become the
// next outage.
const (
	errorLogEvery = time.Minute
	errorLogBurst = 5
)

// setErrorHandler routes OpenTelemetry's internal errors (failed exports,
// mostly) to log, at most errorLogBurst per errorLogEvery; the rest are
// counted and reported with the next line that gets through.
func setErrorHandler(log *slog.Logger) {
	otel.SetErrorHandler(&limitedErrorLog{log: log, now: time.Now})
}

type limitedErrorLog struct {
	log *slog.Logger
	now func() time.Time

	mu         sync.Mutex
	window     time.Time
	n          int
	suppressed int
}

func (l *limitedErrorLog) Handle(err error) {
	l.mu.Lock()
	now := l.now()
	if now.Sub(l.window) >= errorLogEvery {
		l.window, l.n = now, 0
	}
	if l.n >= errorLogBurst {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	l.n++
	suppressed := l.suppressed
	l.suppressed = 0
	l.mu.Unlock()
	if suppressed > 0 {
		l.log.Warn("telemetry export error", "error", err, "suppressed_since_last", suppressed)
		return
	}
	l.log.Warn("telemetry export error", "error", err)
}
