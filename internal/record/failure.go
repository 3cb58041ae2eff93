package record

import (
	"net/http"
	"strconv"

	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

// BackendError is the gateway's error for a backend that failed it (could
// not be reached, timed out, broke mid-stream): the JSON-RPC error
// (mcpwire.CodeGateway) the client gets in place of the backend's answer,
// and the reason the record gets for it. Relays pass it as a Go error and
// record it with Record.FailBackend where it happens; nothing reads the
// reason back out of the message.
type BackendError struct {
	Backend string // the backend's name, as configured
	Reason  Reason // ReasonUpstreamUnavailable, ReasonUpstreamTimeout or ReasonUpstreamError
	// What the backend did, for the message: "unreachable", "timed out",
	// "is restarting; retry later".
	What string
	Err  error // the cause, for the log; nil when there is none
}

// Error is the message the client reads: `backend "name" what`.
func (e *BackendError) Error() string {
	return "backend " + strconv.Quote(e.Backend) + " " + e.What
}

// Code is the error's JSON-RPC code.
func (e *BackendError) Code() int64 { return mcpwire.CodeGateway }

func (e *BackendError) Unwrap() error { return e.Err }

// AppendJSON appends the JSON-RPC error response answering id (nil: a null
// id).
func (e *BackendError) AppendJSON(dst, id []byte) []byte {
	return mcpwire.AppendError(dst, id, e.Code(), e.Error())
}

// Write answers the HTTP request with the error, at status, for id.
func (e *BackendError) Write(w http.ResponseWriter, status int, id []byte) {
	mcpwire.WriteError(w, status, id, e.Code(), e.Error())
}
