// Package gateway assembles mcpgate from its configuration: the backend
// relay, the one chain of stages in front of it, the public and admin
// listeners, and the start and graceful stop of all of them.
package gateway
