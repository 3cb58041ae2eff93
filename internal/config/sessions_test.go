package config

import (
	"strings"
	"testing"
	"time"
)

func TestSessionKeys(t *testing.T) {
	long := "c2hvcnQtYnV0LW5vdC10b28tc2hvcnQtYS1sb25nZXIta2V5LXRoYW4tMzItYnl0ZXM=" // 50 bytes
	look := Lookup{Getenv: func(name string) (string, bool) {
		switch name {
		case "K":
			return testKey, true
		case "LONG":
			return long, true
		}
		return "", false
	}}
	tests := []struct {
		name     string
		sessions string
		err      string
		want     Sessions // checked when err is ""
	}{
		{"off by default", "", "", Sessions{IdleTimeout: 30 * time.Minute, MaxLifetime: 24 * time.Hour}},
		{"keys, lifetime and replica", "sessions:\n  keys: [{id: k2, env: K}, {id: k_1, env: K}]\n  maxLifetime: 8h\n  replica: gw-0.example\n", "",
			Sessions{IdleTimeout: 30 * time.Minute, MaxLifetime: 8 * time.Hour, Replica: "gw-0.example"}},
		{"dot in key id", "sessions: {keys: [{id: k.1, env: K}]}\n", "mcpgate.yaml:1: sessions.keys[0].id: must be 1 to 32 letters, digits, '_' or '-'", Sessions{}},
		{"duplicate id", "sessions: {keys: [{id: k1, env: K}, {id: k1, env: K}]}\n", "sessions.keys[1].id: duplicate id (also sessions.keys[0])", Sessions{}},
		{"key longer than 32 bytes", "sessions: {keys: [{id: k1, env: LONG}]}\n", "sessions.keys[0]: the key decodes to 50 bytes; a session key is exactly 32", Sessions{}},
		{"inline key", "sessions: {keys: [{id: k1, secret: " + testKey + "}]}\n", `unknown key "secret"`, Sessions{}},
		{"unset variable", "sessions: {keys: [{id: k1, env: NOPE}]}\n", "sessions.keys[0].env: environment variable NOPE is not set", Sessions{}},
		{"zero lifetime", "sessions: {keys: [{id: k1, env: K}], maxLifetime: 0s}\n", "sessions.maxLifetime: must be greater than 0", Sessions{}},
		{"replica with a space", "sessions: {keys: [{id: k1, env: K}], replica: 'gw 0'}\n", "sessions.replica: must be visible ASCII without spaces", Sessions{}},
		{"replica without keys", "sessions: {replica: gw-0}\n", "sessions.replica: names the replica in sealed session ids: set sessions.keys too", Sessions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("mcpgate.yaml", []byte(tt.sessions+minimalURL), look)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want it to contain %q", err, tt.err)
				}
				if strings.Contains(err.Error(), testKey) || strings.Contains(err.Error(), long) {
					t.Fatalf("error shows the key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := c.Sessions
			if got.IdleTimeout != tt.want.IdleTimeout || got.MaxLifetime != tt.want.MaxLifetime || got.Replica != tt.want.Replica {
				t.Fatalf("sessions %+v, want %+v", got, tt.want)
			}
			if got.Sealed() != (len(got.Keys) > 0) || (strings.Contains(tt.sessions, "keys") && (len(got.Keys) != 2 || got.Keys[0].ID != "k2" || len(got.Keys[0].Secret) != 32)) {
				t.Fatalf("keys %+v", got.Keys)
			}
		})
	}
}
