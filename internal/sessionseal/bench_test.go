package sessionseal

import (
	"testing"
	"time"
)

// The budget of issue 16 is 2 µs each for Seal and Open.
func benchSessions() map[string]Session {
	relay := Session{
		BackendID:     "8b0c1f7e-3c1a-4b8e-9d52-1f0a6c3e2b7d",
		Protocol:      "2025-06-18",
		ClientName:    "claude-code",
		ClientVersion: "1.0.42",
		Capabilities:  `{"roots":{"listChanged":true},"sampling":{},"elicitation":{}}`,
		Created:       t0,
		Expires:       t0.Add(24 * time.Hour),
	}
	agg := relay
	agg.BackendID = ""
	agg.Backends = []Backend{
		{Name: "github", ID: "8b0c1f7e-3c1a-4b8e-9d52-1f0a6c3e2b7d"},
		{Name: "files", ID: "2f1d0c3b-6a5e-4d7c-8b9a-0e1f2a3b4c5d"},
		{Name: "search", ID: "c0ffee00-1234-4567-89ab-cdef01234567"},
	}
	return map[string]Session{"relay": relay, "aggregating-3": agg}
}

func BenchmarkSeal(b *testing.B) {
	now := t0
	r := newRing(b, &now, Key{ID: "2026-12", Secret: secret(1)})
	for name, s := range benchSessions() {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				var err error
				if buf, err = r.Seal(buf[:0], &s, "https://idp.example.com", "user-1234567890"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(buf)), "token-bytes")
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	now := t0
	r := newRing(b, &now, Key{ID: "2026-12", Secret: secret(1)}, Key{ID: "2026-11", Secret: secret(2)})
	for name, s := range benchSessions() {
		b.Run(name, func(b *testing.B) {
			tok := seal(b, r, s, "https://idp.example.com", "user-1234567890")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Open(tok, "https://idp.example.com", "user-1234567890"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpenRefused: a forged token is refused at the tag, before any
// decoding, and without allocation.
func BenchmarkOpenRefused(b *testing.B) {
	now := t0
	r := newRing(b, &now, Key{ID: "2026-12", Secret: secret(1)})
	tok := []byte(seal(b, r, benchSessions()["relay"], "i", "s"))
	tok[len(tok)-5] ^= 1
	forged := string(tok)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Open(forged, "i", "s"); err == nil {
			b.Fatal("forged token opened")
		}
	}
}
