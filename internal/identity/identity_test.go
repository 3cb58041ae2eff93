package identity

import (
	"context"
	"testing"
)

func TestContext(t *testing.T) {
	ctx := context.Background()
	if FromContext(ctx) != nil {
		t.Fatal("empty context has an identity")
	}
	if got := NewContext(ctx, nil); got != ctx || FromContext(got) != nil {
		t.Fatal("a nil identity must leave the context unchanged")
	}
	id := &Identity{Subject: "alice", Issuer: APIKeyIssuer, Method: MethodAPIKey}
	if got := FromContext(NewContext(ctx, id)); got != id {
		t.Fatalf("FromContext = %v, want %v", got, id)
	}
}
