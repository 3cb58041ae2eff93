package ratelimit

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Per is what a rule keys its buckets on.
type Per uint8

const (
	PerPrincipal     Per = iota + 1 // one bucket per principal
	PerPrincipalTool                // per principal and tool (or other target)
	PerTool                         // per tool, shared by every principal
	PerGlobal                       // one bucket for everything the rule covers
)

// ParsePer parses a rule's per: principal, principal+tool, tool, global.
func ParsePer(s string) (Per, error) {
	switch s {
	case "principal":
		return PerPrincipal, nil
	case "principal+tool":
		return PerPrincipalTool, nil
	case "tool":
		return PerTool, nil
	case "global":
		return PerGlobal, nil
	}
	return 0, fmt.Errorf("ratelimit: per %q: want principal, principal+tool, tool or global", s)
}

func (p Per) String() string {
	switch p {
	case PerPrincipal:
		return "principal"
	case PerPrincipalTool:
		return "principal+tool"
	case PerTool:
		return "tool"
	case PerGlobal:
		return "global"
	}
	return "invalid"
}

// Rule is one rateLimits.rules entry: at most Limit requests per Window for
// each bucket, with bursts of up to Burst (default Limit). GCRA spaces the
// requests out: after a burst, one request is admitted every Window/Limit.
type Rule struct {
	Name    string
	Per     Per
	Methods []string // the MCP methods it covers; "*" covers every request
	Limit   int
	Window  time.Duration
	Burst   int // 0: Limit
}

// Validate checks r.
func (r Rule) Validate() error {
	switch {
	case r.Name == "":
		return errors.New("ratelimit: a rule has no name")
	case r.Per < PerPrincipal || r.Per > PerGlobal:
		return fmt.Errorf("ratelimit: rule %q: per is not set", r.Name)
	case len(r.Methods) == 0:
		return fmt.Errorf("ratelimit: rule %q lists no method (use \"*\" for every method)", r.Name)
	case r.Limit <= 0:
		return fmt.Errorf("ratelimit: rule %q: limit must be positive", r.Name)
	case r.Window <= 0:
		return fmt.Errorf("ratelimit: rule %q: window must be positive", r.Name)
	case r.Window/time.Duration(r.Limit) < time.Microsecond:
		return fmt.Errorf("ratelimit: rule %q: %d per %v is more than one a microsecond", r.Name, r.Limit, r.Window)
	case r.Burst < 0:
		return fmt.Errorf("ratelimit: rule %q: burst must not be negative", r.Name)
	}
	return nil
}

func (r Rule) covers(method string) bool {
	return slices.Contains(r.Methods, method) || slices.Contains(r.Methods, "*")
}

// Limit is a GCRA limit: Rate requests per Period, bursts of Burst.
type Limit struct {
	Rate   int
	Period time.Duration
	Burst  int
}

func (r Rule) limit() Limit {
	b := r.Burst
	if b == 0 {
		b = r.Limit
	}
	return Limit{Rate: r.Limit, Period: r.Window, Burst: b}
}

// share is the part of l one of replicas enforces alone: rounded down (so
// that the replicas together never admit more than the shared limit), but
// at least one.
func (l Limit) share(replicas int) Limit {
	if replicas <= 1 {
		return l
	}
	return Limit{Rate: max(1, l.Rate/replicas), Period: l.Period, Burst: max(1, l.Burst/replicas)}
}
