// Package ratelimit admits or rejects requests against rules keyed by
// principal, principal and tool, tool, or nothing (global), with the
// generic cell rate algorithm (GCRA) in memory or, shared by every
// replica, in Redis.
//
// Keys never hold an identity: a principal is the keyed pseudonym of
// (issuer, subject) (internal/pseudonym), an anonymous caller the keyed
// pseudonym of its client address, in memory and in the store alike.
//
// When the store cannot be reached the limiter falls back as
// onStoreFailure says (local: each replica enforces its share of the limit
// in memory; open; closed), counts every request so decided through a
// hook, logs the outage once when it begins and once when it ends, and
// probes the store at most once per probe interval meanwhile, so that an
// outage costs requests no time-outs.
//
// Limiter.Stage is the request-path stage (after sessions and authz):
// it checks each request message against the rules, records the decision
// on the message (record.Op.RateLimit) and answers a rejected request
// itself with HTTP 429, Retry-After and a JSON-RPC error per request.
package ratelimit
