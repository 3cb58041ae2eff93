// Package sessionseal turns the state a replica needs to serve an MCP
// session into the Mcp-Session-Id the client sees, and back: an
// authenticated, encrypted token, so that any replica holding the keys can
// serve any session without a shared store and without affinity.
// internal/sealedsession is the stage that uses it.
//
// # What is sealed, and why
//
// A [Session]: the backend's session id (aggregating: each backend's, by
// name), the negotiated protocol revision, what the client declared
// (client name and version, its capabilities as raw JSON), the creation
// time and the expiry, and — for stdio backends, whose child lives in one
// process and cannot move — the name of the replica that owns it. With it
// rides a keyed digest of the owning principal: the first 16 bytes of
// HMAC-SHA256 over issuer and subject, never the subject itself, so that
// the binding of a session to its principal is checked from the token at
// every request, survives restarts and needs no store. The digest key is
// derived once per sealing key with HKDF-SHA256 (key separation: the AEAD
// key is not also a MAC key). internal/pseudonym is not reused: its
// pseudonyms change when its own keys rotate, which would drop every
// session, and it would make pseudonymization keys a requirement of
// sessions.
//
// # Format
//
//	token     = "1." key-id "." base64url-nopad( nonce ‖ ciphertext ‖ tag )
//	key-id    = 1*32 ( ALPHA / DIGIT / "-" / "_" )
//	plaintext = format(1) created(8) expires(8) principal(16)
//	            protocol client-name client-version capabilities replica
//	            backend-id count { name id }     ; uvarint-length-prefixed
//
// The header "1.<key-id>." is in the clear so that opening picks the key
// without trial decryption, and it is the AEAD's additional data, so
// neither the version nor the key id can be changed without the tag
// failing. Every character of a token is in [A-Za-z0-9._-], a subset of
// the visible ASCII (0x21–0x7E) the MCP specification allows in a session
// id. A token is at most [MaxTokenLen] characters; [Ring.Seal] refuses
// state that would not fit rather than issue an id a proxy may truncate.
//
// # Cipher
//
// AES-256-GCM from the standard library (hardware-accelerated, constant
// time, FIPS-approved), with a fresh random 96-bit nonce per token
// ([crypto/cipher.NewGCMWithRandomNonce]). Random 96-bit nonces are safe
// for up to 2^32 seals per key (NIST SP 800-38D; the chance of a nonce
// repeating stays below 2^-32). Only a new session seals — opening uses no
// nonce — so even 1,000 new sessions a second would take 136 years to get
// there; rotation (below) resets the count long before. XChaCha20-Poly1305's
// 192-bit nonces would remove the question, but golang.org/x/crypto is not
// a dependency of the module and the bound is not close. Keys are used as
// given: 32 bytes, no derivation per token (the cost the peers that use
// PBKDF2 per session pay in tens of milliseconds).
//
// # Threat model
//
// A client can neither read a token (who its backend session is, the
// replica, the principal digest) nor forge or alter one: any change to
// any byte fails the tag. A client can replay a token it holds, but only
// until its expiry and only as the same principal — [Ring.Open] compares
// the digest of the caller with the sealed one in constant time, so a
// stolen token is useless to anybody else. Revoking one session before its
// expiry needs state and is not offered; removing a key revokes every
// session sealed under it.
//
// Every failure of [Ring.Open] — malformed, unknown key, wrong version,
// tampered, expired, another principal — satisfies errors.Is(err,
// [ErrInvalid]), and callers answer the client the same way for all of them
// (the 404 of an unknown session), so the client learns nothing about why.
// The kind is still there for the operator: errors.Is against
// [ErrMalformed], [ErrUnknownKey], [ErrVersion], [ErrTampered],
// [ErrExpired] and [ErrPrincipal], and [Reason] as a metric label.
//
// # Rotation
//
// A [Ring] holds keys in order; the first seals, all open. To rotate on
// several replicas: (1) add the new key last everywhere and roll out, so
// every replica can open its tokens; (2) move it first and roll out: new
// sessions are sealed under it, old ones keep working; (3) after the
// longest session lifetime, remove the old key: any token still sealed
// under it is refused. Skipping (1) lets a replica not yet updated refuse
// the new tokens during the rollout.
package sessionseal
