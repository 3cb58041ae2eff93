package attribution

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/pseudonym"
)

var key = []byte("0123456789abcdef0123456789abcdef")

func hmacHex(issuer, subject string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(issuer + "\n" + subject))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

func TestAppend(t *testing.T) {
	p, err := pseudonym.New([]pseudonym.Key{{ID: "k1", Secret: key}})
	if err != nil {
		t.Fatal(err)
	}
	alice := &identity.Identity{Issuer: "https://idp.example.com", Subject: "alice", Email: "alice@example.com", Method: identity.MethodOIDC}
	bot := &identity.Identity{Issuer: identity.APIKeyIssuer, Subject: "ci-bot", Method: identity.MethodAPIKey}
	tests := []struct {
		name string
		mode Mode
		id   *identity.Identity
		want []attribute.KeyValue
	}{
		{"off", Off, alice, nil},
		{"raw", Raw, alice, []attribute.KeyValue{attribute.String("user.id", "alice")}},
		{"hashed", Hashed, alice, []attribute.KeyValue{
			attribute.String("user.hash", hmacHex("https://idp.example.com", "alice")),
			attribute.String("mcpgate.user.hash.key_id", "k1"),
		}},
		{"hashed API-key principal", Hashed, bot, []attribute.KeyValue{
			attribute.String("user.hash", hmacHex(identity.APIKeyIssuer, "ci-bot")),
			attribute.String("mcpgate.user.hash.key_id", "k1"),
		}},
		{"raw API-key principal", Raw, bot, []attribute.KeyValue{attribute.String("user.id", "ci-bot")}},
		{"anonymous, raw", Raw, nil, nil},
		{"anonymous, hashed", Hashed, nil, nil},
		{"empty subject", Raw, &identity.Identity{Issuer: "x"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(tt.mode, p)
			if err != nil {
				t.Fatal(err)
			}
			got := a.Append(nil, tt.id)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestHashedNeedsAKey(t *testing.T) {
	if _, err := New(Hashed, nil); err == nil {
		t.Fatal("hashed mode without a key was accepted")
	}
}

func TestParseMode(t *testing.T) {
	for _, s := range []string{"off", "hashed", "raw"} {
		if m, err := ParseMode(s); err != nil || string(m) != s {
			t.Errorf("ParseMode(%q) = %q, %v", s, m, err)
		}
	}
	for _, s := range []string{"", "on", "RAW", "hash"} {
		if _, err := ParseMode(s); err == nil {
			t.Errorf("ParseMode(%q) accepted", s)
		}
	}
}

func TestAppendDoesNotAllocate(t *testing.T) {
	p, _ := pseudonym.New([]pseudonym.Key{{ID: "k1", Secret: key}})
	alice := &identity.Identity{Issuer: "https://idp.example.com", Subject: "alice"}
	for _, mode := range []Mode{Off, Raw, Hashed} {
		a, _ := New(mode, p)
		buf := make([]attribute.KeyValue, 0, 4)
		a.Append(buf, alice) // warm-up: the pseudonym is computed once
		if n := testing.AllocsPerRun(100, func() { a.Append(buf[:0], alice) }); n != 0 {
			t.Errorf("%s: %v allocations per Append", mode, n)
		}
	}
}

func BenchmarkAppend(b *testing.B) {
	p, _ := pseudonym.New([]pseudonym.Key{{ID: "k1", Secret: key}})
	alice := &identity.Identity{Issuer: "https://idp.example.com", Subject: "alice"}
	for _, mode := range []Mode{Off, Raw, Hashed} {
		a, _ := New(mode, p)
		buf := make([]attribute.KeyValue, 0, 4)
		b.Run(string(mode), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				buf = a.Append(buf[:0], alice)
			}
		})
	}
}
