package record

import (
	"crypto/sha256"
	"encoding/hex"
)

// SessionRef is the gateway's one name for a session id outside the
// request path: the first 16 hex digits of its SHA-256. The audit log
// (mcp.sessionRef), spans (mcpgate.session.ref) and log lines ("session")
// all write this and never the id itself, because an Mcp-Session-Id is a
// capability: whoever holds it can act in the session.
//
// It is deliberately unkeyed. MCP session ids are cryptographically
// random, so a 64-bit digest cannot be turned back into one (a guessable
// id would be a weak session whatever the log wrote); and without a key,
// the ref is the same on every replica, across restarts and key
// rotations, and anyone who already holds an id — an investigator with a
// client's log, a backend's own spans — derives it without asking for a
// secret:
//
//	printf %s "$SESSION_ID" | sha256sum | cut -c1-16
func SessionRef(sessionID string) string {
	sum := sha256.Sum256([]byte(sessionID))
	return hex.EncodeToString(sum[:8])
}
