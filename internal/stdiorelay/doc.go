// Package stdiorelay serves MCP's Streamable HTTP transport in front of a
// local server that speaks MCP over stdio (newline-delimited JSON-RPC on the
// child's stdin and stdout).
//
// By default every client session gets its own child process (isolation
// "session"), started on initialize and stopped on DELETE, expiry or
// shutdown: a server's requests to its client (sampling, elicitation, roots),
// its logging level and its subscriptions then belong to exactly one session,
// which no shared process could guarantee. Isolation "shared" runs one child
// for every client, remapping JSON-RPC ids and progress tokens so that
// concurrent clients never collide. Stateless (2026-07-28) traffic goes to
// that shared child under isolation "shared", and otherwise to a child per
// principal (see statelessConn). Children start through childproc, as the
// aggregator's command backends do.
package stdiorelay
