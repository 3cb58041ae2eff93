package sessionseal

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func secret(b byte) []byte { return bytes.Repeat([]byte{b}, KeyBytes) }

func newRing(t testing.TB, now *time.Time, keys ...Key) *Ring {
	t.Helper()
	r, err := New(keys, &Options{Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// full sets every field.
func full() Session {
	return Session{
		BackendID:     "backend-session-7f3a",
		Backends:      []Backend{{Name: "github", ID: "gh-1"}, {Name: "files", ID: ""}, {Name: "search", ID: "s-3"}},
		Protocol:      "2025-06-18",
		ClientName:    "claude-code",
		ClientVersion: "1.2.3",
		Capabilities:  `{"roots":{"listChanged":true},"sampling":{},"elicitation":{}}`,
		Replica:       "mcpgate-0",
		Created:       t0,
		Expires:       t0.Add(time.Hour),
	}
}

func seal(t testing.TB, r *Ring, s Session, issuer, subject string) string {
	t.Helper()
	tok, err := r.Seal(nil, &s, issuer, subject)
	if err != nil {
		t.Fatal(err)
	}
	return string(tok)
}

func TestRoundTrip(t *testing.T) {
	now := t0
	r := newRing(t, &now, Key{ID: "k1", Secret: secret(1)})
	for _, tc := range []struct {
		name string
		s    Session
	}{
		{"every field", full()},
		{"relay, nothing declared", Session{BackendID: "abc", Created: t0, Expires: t0.Add(time.Minute)}},
		{"no backend session", Session{Protocol: "2025-03-26", Created: t0, Expires: t0.Add(time.Minute)}},
		{"aggregating only", Session{Backends: []Backend{{"a", "1"}, {"b", "2"}}, Created: t0, Expires: t0.Add(time.Minute)}},
		{"non-ASCII and separators", Session{BackendID: "id.with.dots\x00and\nnewline", ClientName: "клиент", Created: t0, Expires: t0.Add(time.Minute)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := seal(t, r, tc.s, "https://idp.example", "alice")
			got, err := r.Open(tok, "https://idp.example", "alice")
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			want := tc.s
			want.KeyID = "k1"
			want.Created, want.Expires = want.Created.Local(), want.Expires.Local()
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Open = %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestSealAppends(t *testing.T) {
	now := t0
	r := newRing(t, &now, Key{ID: "k1", Secret: secret(1)})
	s := full()
	out, err := r.Seal([]byte("prefix:"), &s, "i", "s")
	if err != nil {
		t.Fatal(err)
	}
	tok, ok := strings.CutPrefix(string(out), "prefix:")
	if !ok {
		t.Fatalf("Seal dropped dst: %q", out)
	}
	if _, err := r.Open(tok, "i", "s"); err != nil {
		t.Fatal(err)
	}
	// A fresh nonce per seal: the same state never gives the same token.
	if again := seal(t, r, s, "i", "s"); again == tok {
		t.Error("two seals of the same session gave the same token")
	}
}

func TestRotation(t *testing.T) {
	now := t0
	old := Key{ID: "2026-11", Secret: secret(1)}
	next := Key{ID: "2026-12", Secret: secret(2)}
	before := newRing(t, &now, old)
	tok := seal(t, before, full(), "i", "alice")
	for _, tc := range []struct {
		name string
		keys []Key
		want error // nil: opens
	}{
		{"new key added last", []Key{old, next}, nil},
		{"new key moved first", []Key{next, old}, nil},
		{"old key removed", []Key{next}, ErrUnknownKey},
		{"a foreign ring with the same id", []Key{{ID: "2026-11", Secret: secret(9)}}, ErrTampered},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRing(t, &now, tc.keys...)
			s, err := r.Open(tok, "i", "alice")
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				if s.KeyID != old.ID {
					t.Errorf("KeyID = %q, want %q", s.KeyID, old.ID)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !errors.Is(err, tc.want) {
				t.Fatalf("Open error = %v, want ErrInvalid and %v", err, tc.want)
			}
		})
	}
	// After the move, new tokens are sealed under the new key.
	after := newRing(t, &now, next, old)
	if tok := seal(t, after, full(), "i", "alice"); !strings.HasPrefix(tok, "1.2026-12.") {
		t.Errorf("sealed under the wrong key: %s", tok)
	}
}

func TestOpenRefuses(t *testing.T) {
	now := t0
	k1, k2 := Key{ID: "k1", Secret: secret(1)}, Key{ID: "k2", Secret: secret(2)}
	r := newRing(t, &now, k1, k2)
	tok := seal(t, r, full(), "iss", "alice")
	const header = len("1.k1.")
	payload := len(tok) - header
	// flip replaces the character at i with another of the alphabet.
	flip := func(i int) string {
		b := []byte(tok)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for _, tc := range []struct {
		name    string
		token   string
		subject string
		at      time.Time
		want    error
	}{
		{"version", "2" + tok[1:], "alice", t0, ErrVersion},
		{"no version field", tok[2:], "alice", t0, ErrVersion},
		{"no separator", strings.ReplaceAll(tok, ".", ""), "alice", t0, ErrMalformed},
		{"key id swapped to another held key", "1.k2." + tok[header:], "alice", t0, ErrTampered},
		{"unknown key id", "1.k3." + tok[header:], "alice", t0, ErrUnknownKey},
		{"key id charset", "1.k!." + tok[header:], "alice", t0, ErrMalformed},
		{"nonce byte", flip(header + 3), "alice", t0, ErrTampered},
		{"ciphertext byte", flip(header + 16 + payload/3), "alice", t0, ErrTampered},
		{"tag byte", flip(len(tok) - 5), "alice", t0, ErrTampered},
		{"stray bits in the last character", tok[:len(tok)-1] + string(tok[len(tok)-1]^1), "alice", t0, nil},
		{"appended character", tok + "A", "alice", t0, nil},
		{"newline inside", tok[:header+4] + "\n" + tok[header+4:], "alice", t0, ErrMalformed},
		{"padding", tok + "=", "alice", t0, ErrMalformed},
		{"only the header", tok[:header], "alice", t0, ErrMalformed},
		{"too long", tok + strings.Repeat("A", MaxTokenLen), "alice", t0, ErrMalformed},
		{"empty", "", "alice", t0, ErrMalformed},
		{"expired at the instant", tok, "alice", t0.Add(time.Hour), ErrExpired},
		{"expired later", tok, "alice", t0.Add(48 * time.Hour), ErrExpired},
		{"another principal", tok, "bob", t0, ErrPrincipal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now = tc.at
			defer func() { now = t0 }()
			_, err := r.Open(tc.token, "iss", tc.subject)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Open error = %v, want ErrInvalid", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Open error = %v, want kind %v", err, tc.want)
			}
			if Reason(err) == "" {
				t.Errorf("Reason(%v) is empty", err)
			}
		})
	}
	now = t0.Add(time.Hour - time.Second)
	if _, err := r.Open(tok, "iss", "alice"); err != nil {
		t.Errorf("a second before expiry: %v", err)
	}
}

// TestEveryTruncation: no prefix of a token opens.
func TestEveryTruncation(t *testing.T) {
	now := t0
	r := newRing(t, &now, Key{ID: "k1", Secret: secret(1)})
	tok := seal(t, r, full(), "i", "s")
	for n := range len(tok) {
		if _, err := r.Open(tok[:n], "i", "s"); !errors.Is(err, ErrInvalid) {
			t.Fatalf("prefix of %d characters: err = %v", n, err)
		}
	}
}

func TestPrincipalBinding(t *testing.T) {
	now := t0
	r := newRing(t, &now, Key{ID: "k1", Secret: secret(1)})
	tok := seal(t, r, full(), "ab", "c")
	for _, tc := range []struct{ name, issuer, subject string }{
		{"issuer and subject shifted", "a", "bc"},
		{"concatenated as subject", "", "abc"},
		{"other issuer, same subject", "xy", "c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := r.Open(tok, tc.issuer, tc.subject); !errors.Is(err, ErrPrincipal) {
				t.Errorf("err = %v, want ErrPrincipal", err)
			}
		})
	}
}

func TestSealRefuses(t *testing.T) {
	now := t0
	r := newRing(t, &now, Key{ID: "k1", Secret: secret(1)})
	for _, tc := range []struct {
		name   string
		mutate func(*Session)
		want   error // nil: any error
	}{
		{"expiry before creation", func(s *Session) { s.Expires = s.Created.Add(-time.Second) }, nil},
		{"expiry in the past", func(s *Session) { s.Created, s.Expires = t0.Add(-2*time.Hour), t0.Add(-time.Hour) }, nil},
		{"no expiry", func(s *Session) { s.Expires = time.Time{} }, nil},
		{"capabilities not JSON", func(s *Session) { s.Capabilities = `{"roots":` }, nil},
		{"duplicate backend", func(s *Session) { s.Backends = append(s.Backends, Backend{Name: "github", ID: "x"}) }, nil},
		{"oversize capabilities", func(s *Session) { s.Capabilities = `"` + strings.Repeat("x", MaxTokenLen) + `"` }, ErrTooLarge},
		{"oversize backends", func(s *Session) {
			for i := range 100 {
				s.Backends = append(s.Backends, Backend{Name: strings.Repeat("n", 10) + string(rune('a'+i%26)) + strings.Repeat("z", i/26), ID: "0123456789abcdef"})
			}
		}, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := full()
			tc.mutate(&s)
			out, err := r.Seal([]byte("x"), &s, "i", "s")
			if err == nil {
				t.Fatal("Seal succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			if string(out) != "x" {
				t.Errorf("Seal appended on error: %q", out)
			}
		})
	}
}

// TestMaxTokenLen: the largest state that fits gives a token of at most
// MaxTokenLen that opens; one byte more is refused.
func TestMaxTokenLen(t *testing.T) {
	now := t0
	r := newRing(t, &now, Key{ID: strings.Repeat("k", MaxKeyIDLen), Secret: secret(1)})
	s := full()
	var last string
	for n := 0; ; n++ {
		s.Capabilities = `"` + strings.Repeat("x", n) + `"`
		tok, err := r.Seal(nil, &s, "i", "s")
		if errors.Is(err, ErrTooLarge) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		last = string(tok)
	}
	if len(last) > MaxTokenLen || len(last) < MaxTokenLen-4 {
		t.Fatalf("largest token is %d characters, want at most %d and close to it", len(last), MaxTokenLen)
	}
	if _, err := r.Open(last, "i", "s"); err != nil {
		t.Fatalf("largest token does not open: %v", err)
	}
}

// TestTokenCharset: a token is a valid Mcp-Session-Id (visible ASCII),
// and in fact only [A-Za-z0-9._-].
func TestTokenCharset(t *testing.T) {
	now := t0
	r := newRing(t, &now, Key{ID: "Key_2026-12", Secret: secret(1)})
	for i := range 200 {
		s := full()
		s.BackendID = strings.Repeat("\xff", i)
		tok := seal(t, r, s, "i", "s")
		for j := 0; j < len(tok); j++ {
			c := tok[j]
			if c < 0x21 || c > 0x7e || !(isIDChar(c) || c == '.') {
				t.Fatalf("token %q has %q at %d", tok, c, j)
			}
		}
	}
}

func TestNewRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys []Key
	}{
		{"no keys", nil},
		{"empty id", []Key{{ID: "", Secret: secret(1)}}},
		{"id too long", []Key{{ID: strings.Repeat("k", MaxKeyIDLen+1), Secret: secret(1)}}},
		{"id with a dot", []Key{{ID: "k.1", Secret: secret(1)}}},
		{"id with a space", []Key{{ID: "k 1", Secret: secret(1)}}},
		{"duplicate id", []Key{{ID: "k", Secret: secret(1)}, {ID: "k", Secret: secret(2)}}},
		{"short secret", []Key{{ID: "k", Secret: secret(1)[:16]}}},
		{"long secret", []Key{{ID: "k", Secret: append(secret(1), 0)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.keys, nil); err == nil {
				t.Fatal("New succeeded")
			} else if strings.Contains(err.Error(), "\x01\x01") {
				t.Errorf("error shows key material: %v", err)
			}
		})
	}
	if _, err := New([]Key{{ID: strings.Repeat("k", MaxKeyIDLen), Secret: secret(1)}, {ID: "b", Secret: secret(2)}}, nil); err != nil {
		t.Errorf("valid keys refused: %v", err)
	}
}

// TestErrorsAreOne: every kind says ErrInvalid, exactly one kind each.
func TestErrorsAreOne(t *testing.T) {
	kinds := []error{ErrMalformed, ErrVersion, ErrUnknownKey, ErrTampered, ErrExpired, ErrPrincipal}
	for _, e := range []error{errMalformed, errVersion, errUnknownKey, errTampered, errExpired, errPrincipal} {
		if !errors.Is(e, ErrInvalid) {
			t.Errorf("%v is not ErrInvalid", e)
		}
		n := 0
		for _, k := range kinds {
			if errors.Is(e, k) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%v matches %d kinds", e, n)
		}
	}
	if Reason(errors.New("other")) != "" {
		t.Error("Reason of a foreign error is not empty")
	}
}

// TestSealedStateHidden: nothing of the state shows in the token.
func TestSealedStateHidden(t *testing.T) {
	now := t0
	r := newRing(t, &now, Key{ID: "k1", Secret: secret(1)})
	s := full()
	s.BackendID = strings.Repeat("SECRETSESSION", 4)
	tok := seal(t, r, s, "i", "alice")
	for _, leak := range []string{"SECRET", "alice", "claude", "mcpgate-0", "github"} {
		if strings.Contains(tok, leak) {
			t.Errorf("token shows %q", leak)
		}
	}
}
