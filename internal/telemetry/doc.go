// Package telemetry is the gateway's OpenTelemetry instrumentation: it turns
// the per-request record into spans and metrics named by the MCP semantic
// conventions (semconv v1.41, Development). It imports only the
// OpenTelemetry API; New takes the tracer and meter providers, which
// internal/otelsetup builds from the configuration (any others do: a no-op
// provider turns that signal off).
//
// The request path touches it in four places:
//
//   - Stage, placed right after authn, starts one SERVER span per JSON-RPC
//     message of an admitted request, with the caller's trace context as
//     parent (params._meta first, then the HTTP traceparent; the other one
//     linked), and leaves them on the record so the relays' CLIENT spans
//     become their children.
//   - StartClient starts a CLIENT span per message a relay sends to a
//     backend; its Inject and MetaKVs carry the trace context upstream in
//     W3C headers and in params._meta.
//   - Reporter, an observe reporter, runs when the request has ended. It
//     starts the spans of requests that never reached Stage (rejected ones:
//     a new root, linked to what the caller sent), sets every attribute from
//     the record and ends the spans, and records the metrics.
//   - Catalog learns, from tools/list and prompts/list results, which tool and
//     prompt names each backend offers, so that metrics carry only those.
//
// Attributes are set when the request ends, from the record, so whatever
// order the stages run in, a span is attributed with what the whole request
// learned (the identity included, when the Attribution hook is set). Tool
// arguments, when recorded at all, pass through internal/credmask first.
//
// Besides the request path, the components that see sessions, stdio
// restarts, JWKS fetches and the audit log's losses report them through the
// methods of selfmetrics.go (the rate limiter's store fallbacks through
// RateLimitFallback, ratelimit.go); ServerSpanContext gives the request's span to
// whatever else must join its trace (the audit log, internal/tracelog's log
// lines).
//
// Metrics never see a value a client chose freely: every attribute comes
// from a typed field mapped to a known set (spec methods, known protocol
// revisions, listed tool names, bounded error types) or "_OTHER", each
// instrument has an allow-list (AllowedKeys, which internal/otelsetup
// installs as views; the operation-duration histograms apply theirs where
// their cached attribute sets are built, FencedAtSource), and exemplars are
// off there.
//
// docs/telemetry.md is the reference for every span, attribute and metric.
package telemetry
