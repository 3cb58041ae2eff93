// Package testredis is for tests only: it runs a real redis-server (the
// Debian package) on a free loopback port, without persistence, for the
// tests of the shared rate limits in internal/ratelimit, internal/gateway
// and e2e. A test that needs one is skipped when redis-server is not
// installed — except where MCPGATE_REQUIRE_REDIS=1 (set by .ci/run, which
// installs it), so that CI can never count a skipped Redis test as a pass.
//
// It talks to the server in Redis's inline protocol over a plain TCP
// connection, so that a test's view of the server never goes through the
// client the code under test uses.
package testredis
