// Package mcpwire holds the facts of MCP's Streamable HTTP transport that
// several stages share: header names, protocol revisions, and how the gateway
// writes a JSON-RPC error as an HTTP response.
package mcpwire
