// Package testidp is a fake OpenID Connect provider for tests only: the
// end-to-end tests (e2e) and internal/authn's unit tests share it, so that
// both check the gateway against the same provider.
//
// An [IdP] serves OIDC discovery (/.well-known/openid-configuration) and a
// JWKS (/jwks) over real HTTP on 127.0.0.1, on one port for its whole life
// (a gateway configured with its URL can start while it is down). A test
// publishes and withdraws signing keys ([Key]: RS256, PS256 or ES256) to
// rotate them, switches outages on and off (while down, every connection is
// dropped without an answer, like an unreachable provider), counts the
// discovery and JWKS fetches, and mints tokens: valid ones from [IdP.Claims]
// and [IdP.Token], any claims with [Sign], any payload byte for byte with
// [SignRaw], and tokens no JOSE library makes (alg "none", HMAC keyed with a
// public key) with [RawJWT].
//
// Nothing here is meant for production: keys are generated per test and
// tokens carry whatever the test asks for.
package testidp
