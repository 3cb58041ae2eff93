// Package aggregate is mcpgate's aggregating mode: with several backends the
// gateway terminates MCP itself. The public endpoint is the official Go
// SDK's Streamable HTTP handler; each client session gets its own
// *mcp.Server, backed by one *mcp.ClientSession per backend (an HTTP
// session, or a child process for a stdio backend), whose tools, prompts,
// resources and resource templates it offers under prefixed names and to
// which it routes calls under the backend's own names.
//
// Files by concept:
//
//   - naming.go: prefixes, filters, truncation, collisions, resource URIs —
//     the pure rules, unit-tested on their own;
//   - backend.go: one configured backend: how to connect, its health;
//   - lifecycle.go: the relay's lifecycle keys where they hold here
//     (timeouts.idle, restart's back-off); status.go: health for /readyz;
//   - session.go: one client session and its backend connections;
//   - apply.go: putting a backend's lists on the session's server;
//   - forward.go: the handlers that forward calls and server→client requests;
//   - fastpath.go: tools/call relayed by splicing, without the SDK, when
//     that is safe;
//   - probe.go: the start-up check for name collisions;
//   - trace.go: trace context in and out (the SERVER span's context rides in
//     params._meta into the SDK, CLIENT spans' context goes upstream);
//   - handler.go: the http.Handler at the end of the gateway's chain;
//   - watch.go: reads the SDK's responses into the request record;
//   - failures.go: carries a handler's gateway failure from the SDK's
//     goroutine to the request record;
//   - adopt.go: sessions across replicas: what a sealed session id carries
//     (Export), and rebuilding a session from it (Adopt);
//     resume.go: taking over a backend session another replica opened,
//     without a new initialize.
//
// docs/aggregation.md describes the behaviour for operators.
package aggregate
