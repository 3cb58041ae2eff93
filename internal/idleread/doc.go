// Package idleread bounds the silence of a response body: a Read that
// waits longer than the bound on the backend is ended, the body closed,
// and ErrIdle returned. It is how a backend's timeouts.idle is applied.
package idleread
