package observe

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/record"
)

// A Reporter is told about each request once it has ended. It runs on the
// request's goroutine after the response is complete, so it must be quick
// and must not block on I/O (queue instead).
type Reporter interface {
	Report(ctx context.Context, rec *record.Record)
}

// ReporterFunc adapts a function to Reporter.
type ReporterFunc func(ctx context.Context, rec *record.Record)

// Report calls f.
func (f ReporterFunc) Report(ctx context.Context, rec *record.Record) { f(ctx, rec) }

// Options configure the observe stage. Zero fields take the defaults noted.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// TrustedProxies are the peers whose X-Forwarded-For names the
	// request's client (Record.ClientAddr); empty means the client is
	// always the TCP peer.
	TrustedProxies []netip.Prefix
}

// New returns the observe stage. now is the clock (time.Now when nil).
func New(now func() time.Time, reporters ...Reporter) func(http.Handler) http.Handler {
	return NewWithOptions(Options{Now: now}, reporters...)
}

// NewWithOptions returns the observe stage configured by opts.
func NewWithOptions(opts Options, reporters ...Reporter) func(http.Handler) http.Handler {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	trusted := opts.TrustedProxies
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := &record.Record{
				Start:       now(),
				HTTPMethod:  r.Method,
				Proto:       protoVersion(r),
				TraceParent: r.Header.Get("Traceparent"),
				TraceState:  r.Header.Get("Tracestate"),
			}
			rec.ClientAddr, rec.ClientPort = clientAddr(r.RemoteAddr, r.Header, trusted)
			// An authn stage placed outside observe has already run: take
			// its identity, so attribution does not depend on stage order.
			rec.Identity = identity.FromContext(r.Context())
			ctx := record.NewContext(r.Context(), rec)
			rw := &responseWriter{ResponseWriter: w, rec: rec}
			defer func() {
				if rec.Status == 0 {
					// The handler wrote nothing; net/http will send 200.
					rec.Status = http.StatusOK
				}
				for _, rep := range reporters {
					rep.Report(ctx, rec)
				}
			}()
			next.ServeHTTP(rw, r.WithContext(ctx))
		})
	}
}

func peer(addr string) (host string, port int) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0
	}
	port, _ = strconv.Atoi(p)
	return host, port
}

// protoVersion is network.protocol.version: "1.1", "2", "3".
func protoVersion(r *http.Request) string {
	switch {
	case r.ProtoMajor == 1 && r.ProtoMinor == 1:
		return "1.1"
	case r.ProtoMajor == 2:
		return "2"
	case r.ProtoMajor == 1 && r.ProtoMinor == 0:
		return "1.0"
	case r.ProtoMajor == 3:
		return "3"
	}
	return ""
}

// responseWriter records the status and the bytes written. It keeps
// Flush reachable (directly and through Unwrap) because SSE relaying
// depends on it.
type responseWriter struct {
	http.ResponseWriter
	rec *record.Record
}

func (w *responseWriter) WriteHeader(code int) {
	if w.rec.Status == 0 && code >= 200 {
		w.rec.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.rec.Status == 0 {
		w.rec.Status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.rec.BytesOut += int64(n)
	return n, err
}

func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError flushes through http.ResponseController, so that a writer
// below that flushes only via its own Unwrap is still reached, and its
// error comes back to a caller using http.ResponseController.
func (w *responseWriter) FlushError() error {
	if w.rec.Status == 0 {
		w.rec.Status = http.StatusOK
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Logger returns a Reporter that writes one log line per request: Info for
// requests that succeeded, Warn for failures — requests the gateway
// rejected, HTTP errors, and JSON-RPC errors from the backend. With
// failuresOnly, successful requests get no line.
func Logger(log *slog.Logger, failuresOnly bool) Reporter {
	return ReporterFunc(func(ctx context.Context, rec *record.Record) {
		level := slog.LevelInfo
		if rec.Failed() {
			level = slog.LevelWarn
		} else if failuresOnly {
			return
		}
		if !log.Enabled(ctx, level) {
			return
		}
		attrs := make([]slog.Attr, 0, 20)
		attrs = append(attrs,
			slog.String("http.method", rec.HTTPMethod),
			slog.Int("status", rec.Status),
			slog.Float64("duration_ms", float64(time.Since(rec.Start).Microseconds())/1000),
			slog.String("client", rec.ClientAddr),
		)
		if len(rec.Ops) > 0 {
			op := &rec.Ops[0]
			attrs = append(attrs, slog.String("mcp.method", op.Method))
			if op.ID != "" {
				attrs = append(attrs, slog.String("jsonrpc.id", op.ID))
			}
			if op.Name != "" {
				attrs = append(attrs, slog.String("name", op.Name))
			}
			if op.URI != "" {
				attrs = append(attrs, slog.String("uri", op.URI))
			}
			if op.Error.Valid {
				attrs = append(attrs, slog.Int64("rpc.error.code", op.Error.Code), slog.String("rpc.error.message", op.Error.Message))
			}
			if op.ToolError {
				attrs = append(attrs, slog.Bool("tool_error", true))
			}
		}
		if rec.Batch {
			attrs = append(attrs, slog.Int("batch", len(rec.Ops)))
		}
		if rec.ProtocolVersion != "" {
			attrs = append(attrs, slog.String("mcp.protocol.version", rec.ProtocolVersion))
		}
		if rec.ClientName != "" {
			attrs = append(attrs, slog.String("mcp.client.name", rec.ClientName))
		}
		if rec.Backend != "" {
			attrs = append(attrs, slog.String("backend", rec.Backend))
		}
		if rec.SSE {
			attrs = append(attrs, slog.Int("sse.events", rec.StreamEvents))
		}
		attrs = append(attrs, slog.Int64("bytes.in", rec.BytesIn), slog.Int64("bytes.out", rec.BytesOut))
		if rec.Reason != "" {
			attrs = append(attrs, slog.String("reason", string(rec.Reason)))
			if rec.Detail != "" {
				attrs = append(attrs, slog.String("detail", rec.Detail))
			}
		}
		log.LogAttrs(ctx, level, "request", attrs...)
	})
}
