package audit

import (
	"net/http"

	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// Guard returns the stage that refuses requests while the audit log cannot
// record them, when failClosed is on: it answers 503 with a JSON-RPC error
// and Retry-After, and records the reason audit_unavailable, so the
// refusal itself is audited (and its write probes whether the sink has
// recovered). Place it before routing, after authn. With failClosed off it
// adds nothing to the chain: a failing sink is then reported (Healthy,
// Errors, the log) but requests are served.
func (l *Logger) Guard() func(http.Handler) http.Handler {
	if !l.opts.FailClosed {
		return func(next http.Handler) http.Handler { return next }
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			err := l.Healthy()
			if err == nil {
				next.ServeHTTP(w, r)
				return
			}
			var id []byte
			if rec := record.FromContext(r.Context()); rec != nil {
				rec.Fail(record.ReasonAuditUnavailable, err.Error())
				id = rec.RequestID()
			}
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Cache-Control", "no-store")
			mcpwire.WriteError(w, http.StatusServiceUnavailable, id, mcpwire.CodeGateway,
				"audit log unavailable; request not served")
		})
	}
}
