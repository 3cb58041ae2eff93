// Package sessionbind binds each MCP session to the principal that created
// it. A session id is a bearer capability: whoever presents it continues the
// session. Once authentication is on, a session created by one principal
// must not be usable by another, so a request presenting a session id that
// belongs to someone else is answered exactly like one presenting an unknown
// id — 404 — and reveals nothing about the session.
package sessionbind
