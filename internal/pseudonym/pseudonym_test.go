package pseudonym

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

// Published test vectors: docs/user-attribution.md lists the same. Each key
// is 32 bytes given here in base64. The expected values were computed
// outside Go (Python's hmac module), so they check the definition, not this
// code against itself.
var vectors = []struct {
	name, key, issuer, subject, want string
}{
	{"oidc subject", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "https://idp.example.com", "alice", "906be0321adf295837adb400013546ff"},
	{"same subject, other issuer", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "https://other-idp.example.com", "alice", "daa7618beb8689132c3ccda54e33978a"},
	{"api key principal", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "urn:mcpgate:apikey", "ci-bot", "911a51f0dd7e6d907eb32500eda96b2c"},
	{"other key", "//79/Pv6+fj39vX08/Lx8O/u7ezr6uno5+bl5OPi4eA=", "https://idp.example.com", "alice", "65738760aeb2afeb30fe52f4b8ebf4ce"},
	{"unicode subject", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "https://idp.example.com", "zoë@example.com", "63de6de26ce5cada9e50034bdf9bad43"},
}

// reference computes the pseudonym straight from the definition, apart from
// the package's pooled, memoized path.
func reference(t *testing.T, key, issuer, subject string) string {
	t.Helper()
	k, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(issuer + "\n" + subject))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

func TestVectors(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			secret, err := ParseKey(v.key)
			if err != nil {
				t.Fatal(err)
			}
			p, err := New([]Key{{ID: "k1", Secret: secret}})
			if err != nil {
				t.Fatal(err)
			}
			got, id := p.Hash(v.issuer, v.subject)
			if want := reference(t, v.key, v.issuer, v.subject); got != want {
				t.Fatalf("Hash = %s, definition gives %s", got, want)
			}
			if got != v.want {
				t.Fatalf("Hash = %s, published vector %s", got, v.want)
			}
			if id != "k1" || len(got) != HashLen || strings.ToLower(got) != got {
				t.Fatalf("id %q, hash %q", id, got)
			}
			// Memoized answer equals a fresh one.
			if again, _ := p.Hash(v.issuer, v.subject); again != got {
				t.Fatalf("second Hash = %s", again)
			}
		})
	}
}

func TestIssuerSeparatesSubjects(t *testing.T) {
	p := mustNew(t, "k1")
	a, _ := p.Hash("https://a.example", "alice")
	b, _ := p.Hash("https://b.example", "alice")
	// "a\nb" + "c" and "a" + "b\nc" must not collide either: the separator
	// cannot appear in an issuer URL.
	if a == b {
		t.Fatal("same subject at two issuers got one pseudonym")
	}
}

func TestRotation(t *testing.T) {
	k1, k2 := NewKey(), NewKey()
	s1, _ := ParseKey(k1)
	s2, _ := ParseKey(k2)
	old, _ := New([]Key{{ID: "k1", Secret: s1}})
	rotated, _ := New([]Key{{ID: "k2", Secret: s2}, {ID: "k1", Secret: s1}})
	before, _ := old.Hash("iss", "alice")
	after, id := rotated.Hash("iss", "alice")
	if id != "k2" || after == before {
		t.Fatalf("after rotation: id %s hash %s (before %s)", id, after, before)
	}
	all := rotated.All("iss", "alice")
	if len(all) != 2 || all[0] != (Pseudonym{"k2", after}) || all[1] != (Pseudonym{"k1", before}) {
		t.Fatalf("All = %+v", all)
	}
}

func TestParseKey(t *testing.T) {
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = byte(250 - i) // yields + and / in standard base64
	}
	std := base64.StdEncoding.EncodeToString(raw)
	tests := []struct {
		name, in, err string
	}{
		{"standard", std, ""},
		{"standard unpadded", strings.TrimRight(std, "="), ""},
		{"URL alphabet", base64.URLEncoding.EncodeToString(raw), ""},
		{"URL unpadded", base64.RawURLEncoding.EncodeToString(raw), ""},
		{"surrounding whitespace and newline", "  " + std + "\n", ""},
		{"empty", "  \n", "empty"},
		{"not base64", "not a key!", "not base64"},
		{"too short", base64.StdEncoding.EncodeToString(raw[:31]), "31 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseKey(tt.in)
			if tt.err == "" {
				if err != nil || string(b) != string(raw) {
					t.Fatalf("ParseKey: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v, want it to contain %q", err, tt.err)
			}
			if strings.Contains(err.Error(), tt.in) && strings.TrimSpace(tt.in) != "" {
				t.Fatalf("error repeats the key material: %v", err)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	good, _ := ParseKey(NewKey())
	tests := []struct {
		name string
		keys []Key
	}{
		{"no keys", nil},
		{"no id", []Key{{Secret: good}}},
		{"duplicate id", []Key{{ID: "a", Secret: good}, {ID: "a", Secret: good}}},
		{"short key", []Key{{ID: "a", Secret: good[:16]}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.keys); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestHashDoesNotAllocate(t *testing.T) {
	p := mustNew(t, "k1")
	p.Hash("https://idp.example.com", "alice") // warm-up: computes and memoizes
	if n := testing.AllocsPerRun(100, func() { p.Hash("https://idp.example.com", "alice") }); n != 0 {
		t.Fatalf("%v allocations per Hash after warm-up", n)
	}
}

func mustNew(t testing.TB, id string) *Pseudonymizer {
	t.Helper()
	s, err := ParseKey(NewKey())
	if err != nil {
		t.Fatal(err)
	}
	p, err := New([]Key{{ID: id, Secret: s}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func BenchmarkHash(b *testing.B) {
	p := mustNew(b, "k1")
	b.Run("memoized", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p.Hash("https://idp.example.com", "alice")
		}
	})
	b.Run("computed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p.compute(0, "https://idp.example.com", "alice")
		}
	})
}
