// Package jsonrpc parses MCP's JSON-RPC 2.0 messages once, strictly, and
// rewrites them by splicing bytes at the offsets that parse found.
//
// Strict means the gateway and whatever backend reads the same bytes can never
// disagree about what a message says: member names are matched exactly, two
// members of one object whose names are equal ignoring case are rejected
// (Go's encoding/json would match them case-insensitively and keep the last),
// invalid UTF-8 and unpaired surrogate escapes are rejected, and nesting is
// bounded.
//
// Parsing is one hand-written forward pass (scan.go for the JSON grammar,
// parse.go for the JSON-RPC shape and the MCP members). It allocates no
// scanner state (that is pooled), and at most one string per message: all
// decoded strings of a message share one allocation, and the method names
// and protocol versions of the specification are interned.
//
// Rewriting never re-encodes a message: helpers such as
// Message.AppendSetMetaEdits return Edits (byte ranges and their new bytes),
// and Splice copies the body with the edits applied, so every byte the
// gateway did not mean to change reaches the backend as the client sent it.
package jsonrpc
