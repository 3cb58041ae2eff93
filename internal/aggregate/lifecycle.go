package aggregate

import (
	"fmt"
	"net/http"
	"time"

	"github.com/mcpgate/mcpgate/internal/idleread"
)

// The lifecycle keys a backend has in relay mode hold here too, where the
// aggregator can honour them: timeouts.idle bounds the silence of the
// backend's responses (idleTransport), restart spaces out the
// reconnections (restart of a stdio backend's child) within a client
// session (Backend.InitialBackoff, MaxBackoff; session.go). What it cannot
// honour — isolation: shared, per-backend session caps — the configuration
// refuses with several backends (internal/config).

// idleTransport bounds the silence of the responses to POSTs through rt
// by d (idleread); d ≤ 0: rt unchanged. onIdle, when not nil, is told.
func idleTransport(rt http.RoundTripper, d time.Duration, onIdle func()) http.RoundTripper {
	if d <= 0 {
		return rt
	}
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		if err != nil || req.Method != http.MethodPost {
			return resp, err
		}
		resp.Body = idleread.New(resp.Body, d, onIdle)
		return resp, nil
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// idleFor returns what ends c's backend session when one of its responses
// stays silent past the backend's IdleTimeout; nil without one.
func (s *session) idleFor(c *conn) func() {
	d := c.b.IdleTimeout
	if d <= 0 || c.b.client == nil {
		return nil
	}
	return func() { s.down(c, fmt.Errorf("a response was silent for %s: %w", d, idleread.ErrIdle)) }
}
