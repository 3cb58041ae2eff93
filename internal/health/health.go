package health

import "time"

// Backend is one backend's health as /readyz shows it.
type Backend struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // http or stdio
	// Sessions counts the client sessions the gateway holds with the
	// backend; nil when the gateway does not track them (a relayed HTTP
	// backend: its sessions are the backend's own, relayed unchanged).
	Sessions  *int      `json:"sessions,omitempty"`
	LastError string    `json:"lastError,omitempty"`
	LastErrAt time.Time `json:"lastErrorAt,omitzero"`
	LastOK    time.Time `json:"lastConnectedAt,omitzero"`
}

// Count returns a pointer to n, for Backend.Sessions.
func Count(n int) *int { return &n }
