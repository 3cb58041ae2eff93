package mcpwire

// TraceMeta reports whether a relay may write trace context (traceparent,
// tracestate) into the params._meta of a request or notification it sends
// upstream. It is the one rule every relay and the aggregating mode apply;
// the W3C traceparent/tracestate HTTP headers go upstream on every HTTP
// request regardless, so no hop loses the trace when this says no.
//
// method is the message's method; hasMeta reports whether the sender's
// params already hold a "_meta" object; pinned reports whether the peer
// knows the message's era from something outside its body: an HTTP request
// that carries Mcp-Session-Id of a session-era revision (2025-03-26 to
// 2025-11-25), or a stdio connection that a legacy initialize opened.
//
// Dual-era servers tell a 2026-07-28 request from a session-era one by the
// body: the official SDKs (TypeScript v2, Go v1.8) by the
// "io.modelcontextprotocol/protocolVersion" key in _meta (Go also by a
// 2026-07-28 MCP-Protocol-Version header, which a relay passes as sent),
// the conformance suite's reference server by _meta being there at all
// when the request has no session id. So the rule never changes whether a
// message has _meta, and never adds the version key:
//
//   - initialize: never. It selects the era; its _meta, if any, is the
//     client's and stays exactly as sent.
//   - a message whose params carry _meta: yes, into that object. Adding a
//     member keeps both "has _meta" and "has the version key" as they were.
//     Every valid 2026-07-28 request is of this kind: it must carry _meta
//     with the version (the inspect stage refuses one without, -32602).
//   - no _meta, era pinned: yes, creating _meta (and params). Inside a
//     session a server does not classify by the body.
//   - no _meta, era not pinned (a session-era request without a session id,
//     a 2026-07-28 notification, a stdio message outside a legacy session):
//     no. Creating _meta there is what turns a session-era request into one
//     that looks stateless.
func TraceMeta(method string, hasMeta, pinned bool) bool {
	if method == "initialize" {
		return false
	}
	return hasMeta || pinned
}

// PinnedHTTP reports whether an HTTP request's era is pinned by its session
// for TraceMeta: it carries an Mcp-Session-Id and is governed by a
// session-era revision (a 2026-07-28 server ignores session ids).
func PinnedHTTP(sessionID, version string) bool {
	return sessionID != "" && !Stateless(version)
}
