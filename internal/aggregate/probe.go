package aggregate

import (
	"context"
	"errors"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Probe connects every backend once, lists it, and checks that the names
// the client would see do not collide — what start-up must know when
// aggregate.prefix is off. A collision is the error; a backend that cannot
// be reached is only a warning (it is retried for each client session), and
// so is one whose names cannot be checked because of that.
func (a *Aggregator) Probe(ctx context.Context) (warnings []string, err error) {
	s := a.newSession(nil)
	s.setup.Do(func() {}) // no client session: nothing to forward to
	s.caps = &mcp.ClientCapabilities{}
	defer s.close()
	for _, b := range a.backends {
		c, l, derr := s.dialAndList(ctx, b)
		if derr != nil {
			b.failed(derr)
			warnings = append(warnings, fmt.Sprintf("backend %q could not be checked at start-up: %v", b.Name, derr))
			continue
		}
		if oerr := s.offer(c, l); oerr != nil {
			var ce *CollisionError
			if errors.As(oerr, &ce) {
				return warnings, oerr
			}
			warnings = append(warnings, fmt.Sprintf("backend %q: %v", b.Name, oerr))
		}
	}
	return warnings, nil
}
