package testredis

import (
	"slices"
	"strings"
	"testing"
)

func TestServer(t *testing.T) {
	s := Start(t)
	tests := []struct{ name, cmd, want string }{
		{"status", "SET k1 v1", "+OK"},
		{"bulk", "GET k1", "v1"},
		{"nil bulk", "GET missing", ""},
		{"integer", "EXISTS k1", ":1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Command(tc.cmd)
			if err != nil || strings.TrimSpace(got) != tc.want {
				t.Errorf("%s = %q, %v; want %q", tc.cmd, got, err, tc.want)
			}
		})
	}
	if _, err := s.Command("SET k2 v2"); err != nil {
		t.Fatal(err)
	}
	keys := s.Keys(t)
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"k1", "k2"}) {
		t.Errorf("Keys = %q, want k1 k2", keys)
	}
	s.Stop()
	if _, err := s.Command("PING"); err == nil {
		t.Error("PING answered after Stop")
	}
	s.Start() // same port, no persistence: empty again
	if keys := s.Keys(t); len(keys) != 0 {
		t.Errorf("Keys after a restart = %q, want none", keys)
	}
}
