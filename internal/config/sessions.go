package config

import (
	"regexp"

	"github.com/mcpgate/mcpgate/internal/sessionseal"
)

// sessionKeyIDRE is sessionseal's key id: no '.', which separates a
// token's fields.
var sessionKeyIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// maxReplicaLen bounds sessions.replica: it rides in sealed tokens, which
// are bounded too (sessionseal.MaxTokenLen); a DNS name fits.
const maxReplicaLen = 253

func (v *validator) sessions(s *Sessions) {
	v.keyList("sessions.keys", s.Keys, sessionKeyIDRE, "letters, digits, '_' or '-'", "every session id carries it in the clear")
	for i, k := range s.Keys {
		// A nil secret was already reported by the decoder (missing file,
		// variable or encoding).
		if k.Secret != nil && len(k.Secret) != sessionseal.KeyBytes {
			v.errorf(joinIndex("sessions.keys", i), "the key decodes to %d bytes; a session key is exactly %d (make one with `mcpgate keygen`)", len(k.Secret), sessionseal.KeyBytes)
		}
	}
	v.positiveDuration("sessions.maxLifetime", s.MaxLifetime)
	if len(s.Replica) > maxReplicaLen {
		v.errorf("sessions.replica", "must be at most %d characters, got %d", maxReplicaLen, len(s.Replica))
	}
	for _, c := range []byte(s.Replica) {
		if c <= ' ' || c > '~' {
			v.errorf("sessions.replica", "must be visible ASCII without spaces (a host or pod name), got %q", s.Replica)
			break
		}
	}
	if len(s.Keys) == 0 && s.Replica != "" {
		v.errorf("sessions.replica", "names the replica in sealed session ids: set sessions.keys too, or remove it")
	}
}
