// Package httprelay relays MCP's Streamable HTTP transport to one remote
// backend: a reverse proxy that streams SSE through event by event, strips
// what must not reach a backend (the caller's credentials, spoofable
// forwarding and identity headers, baggage), maps backend failures to
// JSON-RPC errors, and watches the responses that end each operation without
// holding the stream. The forwarding itself is the package's own
// (forward.go), not httputil.ReverseProxy: the request sent upstream is
// built once from the client's, and the response copied through pooled
// buffers.
package httprelay
