// Package guard holds the gateway's protective HTTP stages: panic recovery,
// header and body size limits, and Origin validation with CORS for browser
// clients. Each is a func(http.Handler) http.Handler, answers a rejected
// request itself with a JSON-RPC error body, and notes why in the request
// record so the request is still observed.
package guard
