// Package attribution decides which identity-derived attributes, if any,
// go on the spans of a request: none (off, the default), the principal's
// keyed pseudonym (hashed), or its subject (raw).
//
// Only spans carry them — the inbound SERVER span and every CLIENT span made
// for the request. Metrics never do: a metric series per principal is both
// a cardinality hazard and a durable per-person record, and exemplars would
// smuggle the value past any attribute filter. Requests without an
// authenticated principal get nothing: there is no synthetic subject to
// attribute.
package attribution
