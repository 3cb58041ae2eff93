package attribution

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/pseudonym"
)

// Mode is how spans name the principal.
type Mode string

const (
	Off    Mode = "off"    // no identity-derived attribute (default)
	Hashed Mode = "hashed" // user.hash and mcpgate.user.hash.key_id
	Raw    Mode = "raw"    // user.id = the subject
)

// Attribute keys. user.id and user.hash are the registry's (Development);
// the key id is ours.
const (
	KeyUserID    = attribute.Key("user.id")
	KeyUserHash  = attribute.Key("user.hash")
	KeyHashKeyID = attribute.Key("mcpgate.user.hash.key_id")
)

// ParseMode accepts off, hashed or raw.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Off, Hashed, Raw:
		return m, nil
	}
	return "", fmt.Errorf("unknown user attribution %q (valid: off, hashed, raw)", s)
}

// Attributor appends a request's attribution attributes to a span's.
type Attributor struct {
	mode Mode
	p    *pseudonym.Pseudonymizer
}

// New returns an Attributor; hashed mode needs p, and refuses to work
// without it rather than fall back to something weaker.
func New(mode Mode, p *pseudonym.Pseudonymizer) (*Attributor, error) {
	switch mode {
	case Off, Raw:
		return &Attributor{mode: mode}, nil
	case Hashed:
		if p == nil {
			return nil, errors.New("userAttribution hashed needs a pseudonymization key: add pseudonymization.keys (mcpgate keygen makes one)")
		}
		return &Attributor{mode: mode, p: p}, nil
	}
	return nil, fmt.Errorf("unknown user attribution %q", mode)
}

// Mode returns the attributor's mode.
func (a *Attributor) Mode() Mode { return a.mode }

// Append appends the attributes naming id to dst: nothing when attribution
// is off or there is no authenticated principal. It does not allocate once
// the principal's pseudonym is known (and dst has room).
func (a *Attributor) Append(dst []attribute.KeyValue, id *identity.Identity) []attribute.KeyValue {
	if a == nil || id == nil || id.Subject == "" {
		return dst
	}
	switch a.mode {
	case Raw:
		return append(dst, KeyUserID.String(id.Subject))
	case Hashed:
		h, keyID := a.p.Hash(id.Issuer, id.Subject)
		return append(dst, KeyUserHash.String(h), KeyHashKeyID.String(keyID))
	}
	return dst
}
