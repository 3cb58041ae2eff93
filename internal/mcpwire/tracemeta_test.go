package mcpwire

import "testing"

// TestTraceMeta is the rule's table (docs/telemetry.md, "Where trace context
// goes upstream"). Regression for issue 12: the relays used to add _meta to
// every request, initialize included.
func TestTraceMeta(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		hasMeta bool
		pinned  bool
		want    bool
	}{
		{"initialize without _meta, no session", "initialize", false, false, false},
		{"initialize with the client's _meta", "initialize", true, false, false},
		{"initialize with a session id (re-initialize)", "initialize", false, true, false},
		{"initialize with _meta and a session id", "initialize", true, true, false},
		{"in-session request without _meta", "tools/call", false, true, true},
		{"in-session notification without _meta", "notifications/initialized", false, true, true},
		{"in-session request with _meta", "tools/list", true, true, true},
		{"sessionless session-era request without _meta", "tools/list", false, false, false},
		{"sessionless session-era notification without _meta", "notifications/initialized", false, false, false},
		{"sessionless request with the client's _meta", "ping", true, false, true},
		{"2026-07-28 request (always has _meta)", "tools/call", true, false, true},
		{"2026-07-28 notification without _meta", "notifications/cancelled", false, false, false},
		{"server/discover with _meta", "server/discover", true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TraceMeta(tt.method, tt.hasMeta, tt.pinned); got != tt.want {
				t.Errorf("TraceMeta(%q, hasMeta=%v, pinned=%v) = %v, want %v", tt.method, tt.hasMeta, tt.pinned, got, tt.want)
			}
		})
	}
}

func TestPinnedHTTP(t *testing.T) {
	tests := []struct {
		name, sid, version string
		want               bool
	}{
		{"session id, 2025-11-25", "abc", Version20251125, true},
		{"session id, no version header (2025-03-26)", "abc", "", true},
		{"no session id", "", Version20251125, false},
		{"session id on a 2026-07-28 request (ignored by the server)", "abc", Version20260728, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PinnedHTTP(tt.sid, tt.version); got != tt.want {
				t.Errorf("PinnedHTTP(%q, %q) = %v, want %v", tt.sid, tt.version, got, tt.want)
			}
		})
	}
}
