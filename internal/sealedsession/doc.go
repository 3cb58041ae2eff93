// Package sealedsession is the session stage when session keys are
// configured: the Mcp-Session-Id a client sees is a token sealed by
// internal/sessionseal, holding what any replica needs to serve the
// session — the backend's session id, the owner's digest, what the client
// declared, an expiry. The stage opens the token of every request (checking
// that the caller owns it), hands the backend its own session id, and
// replaces each session id a backend issues with its token. It keeps no
// state for relayed sessions, so a request may land on any replica and a
// restart loses nothing.
//
// Sessions whose state lives in one process — a stdio child, an aggregated
// session its replica cannot hand over — are pinned: their token names the
// replica, and another replica refuses them with the 404 of an unknown
// session and a log line telling the operator to route them with affinity.
// An aggregating backend that can rebuild a session from its token (an
// [Adopter]) is not pinned: a replica that does not hold the session adopts
// it on its first request.
//
// Every refusal — malformed, tampered, expired, another principal's,
// sealed under a removed key, pinned elsewhere — is the same 404 the
// in-memory binding (internal/sessionbind) answers for an unknown id, so
// a client learns nothing about why; the request record carries the kind.
package sealedsession
