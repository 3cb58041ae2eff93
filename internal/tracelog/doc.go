// Package tracelog joins the gateway's log to its traces: Handler, an
// slog.Handler wrapper, adds trace_id and span_id to every line logged
// inside a traced request, so that a log line leads to its trace and a
// trace to its log lines.
//
// The ids are those of the span in the line's context or, for a line
// logged with only the request's record in its context (observe's
// per-request line, written after the traced stages have returned), of
// the request's first SERVER span, which internal/telemetry keeps on the
// record. Lines outside a request, or with tracing off, carry no ids.
//
// It is not the log's redaction (internal/redact), which cmd/mcpgate
// places in front of it.
package tracelog
