// Package credmask finds credentials in data the gateway did not write —
// a tool call's arguments, a backend's error message, a captured request
// or response body — and masks them before that data is recorded in a
// span or an audit event.
//
// It knows credentials by their names and by their shapes: SensitiveKey
// tells whether a JSON member's name (api_key, X-Api-Key, refreshToken,
// clientSecret, …) marks its value as a secret; MaskString replaces the
// credentials that announce themselves in free text (JWTs, Bearer and
// Basic credentials, PEM private keys, mcpgate API keys) by markers and
// bounds the text's length; RedactJSON does both to a JSON value and keeps
// the result valid JSON of a bounded size.
//
// It is not the log redaction of internal/redact, which replaces the
// configuration's own secrets (the values of ${env:…} and ${file:…}
// references) in every log line: that one knows the secrets exactly,
// this one only recognizes what looks like one.
package credmask
