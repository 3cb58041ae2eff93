package sessionseal_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/mcpgate/mcpgate/internal/sessionseal"
)

func Example() {
	secret := make([]byte, sessionseal.KeyBytes)
	_, _ = rand.Read(secret)
	ring, err := sessionseal.New([]sessionseal.Key{{ID: "2026-12", Secret: secret}}, nil)
	if err != nil {
		panic(err)
	}

	// At initialize: seal what any replica needs into the session id.
	now := time.Now()
	s := sessionseal.Session{BackendID: "backend-42", Protocol: "2025-06-18", Created: now, Expires: now.Add(time.Hour)}
	tok, err := ring.Seal(nil, &s, "https://idp.example.com", "alice")
	if err != nil {
		panic(err)
	}

	// At every later request, on any replica.
	got, err := ring.Open(string(tok), "https://idp.example.com", "alice")
	fmt.Println(got.BackendID, got.Protocol, err)

	// Another principal presenting the same token: the 404 of an unknown
	// session for the client, the reason for the log.
	_, err = ring.Open(string(tok), "https://idp.example.com", "mallory")
	fmt.Println(errors.Is(err, sessionseal.ErrInvalid), sessionseal.Reason(err))
	// Output:
	// backend-42 2025-06-18 <nil>
	// true principal
}
