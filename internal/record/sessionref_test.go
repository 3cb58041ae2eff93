package record

import "testing"

// TestSessionRef pins the ref to the documented shell recipe
// (printf %s ID | sha256sum | cut -c1-16), which investigators and the
// e2e tests compute independently.
func TestSessionRef(t *testing.T) {
	tests := []struct{ name, id, want string }{
		{"hex id", "9f1c0d2e", "4ae7178dfe7ab34e"},
		{"uuid", "123e4567-e89b-12d3-a456-426614174000", "986c0dc956dc822b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SessionRef(tc.id); got != tc.want {
				t.Errorf("SessionRef(%q) = %q, want %q", tc.id, got, tc.want)
			}
		})
	}
}
