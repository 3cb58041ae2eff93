// Package childproc starts and stops the local stdio MCP servers of both
// gateway modes (the stdio relay and the aggregator's command backends), so
// that they share one lifecycle: a minimal environment, their own process
// group, stderr logged line by line, and a stop that closes stdin, then
// signals the whole group with SIGTERM and finally SIGKILL.
//
// The environment is an allow-list (BaseEnv, then what the operator names
// in inheritEnv, then the backend's own env): a child must not see the
// gateway's keys, its telemetry ingest headers or another backend's token.
package childproc
