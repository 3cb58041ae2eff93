package ratelimit_test

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/pseudonym"
	"github.com/mcpgate/mcpgate/internal/ratelimit"
)

func Example() {
	p, _ := pseudonym.New([]pseudonym.Key{{ID: "k1", Secret: bytes.Repeat([]byte{1}, 32)}})
	l, err := ratelimit.New(ratelimit.Options{
		Pseudonyms: p,
		Rules: []ratelimit.Rule{
			{Name: "per-user", Per: ratelimit.PerPrincipal, Methods: []string{"tools/call"}, Limit: 2, Window: time.Minute},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	alice := &identity.Identity{Subject: "alice", Issuer: "https://idp.example.com"}
	for range 3 {
		d := l.Check(context.Background(), ratelimit.Request{Method: "tools/call", Target: "search", Identity: alice})
		fmt.Println(d.Allowed, d.Rule, d.RetryAfter.Round(time.Second))
	}
	// Output:
	// true per-user 0s
	// true per-user 0s
	// false per-user 30s
}
