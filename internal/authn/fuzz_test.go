package authn

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/mcpgate/mcpgate/internal/testidp"
)

// FuzzVerifyToken feeds arbitrary strings to the token verifier, with a
// fixed key set (refreshes throttled, so no network after the start):
// it must never panic and never accept.
func FuzzVerifyToken(f *testing.F) {
	p := testidp.New(f)
	clk := newClock()
	k1 := testidp.NewKey(f, "k1", jose.ES256)
	rsaKey := testidp.NewKey(f, "r1", jose.RS256)
	p.Publish(k1, rsaKey)
	opts := baseOptions(p, clk)
	opts.JWKSMinRefreshInterval = time.Hour
	opts.TokenCacheSize = 0
	a := start(f, opts)

	valid := testidp.Sign(f, k1, claimsFor(p, clk))
	// Seeds: near misses, never a valid token (base64url's unused low bits
	// let a fuzzer re-spell a valid signature without forging one).
	b := []byte(valid)
	b[len(b)-5] ^= 0x01
	f.Add(string(b))
	f.Add(unsigned(claimsFor(p, clk)))
	f.Add(testidp.Sign(f, testidp.NewKey(f, "k1", jose.ES256), claimsFor(p, clk)))
	f.Add(valid[:len(valid)-10])
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.")
	f.Add(testidp.SignRaw(f, k1, "JWT", []byte(`{"iss":"`+p.URL+`","sub":"u","Sub":"admin","aud":"mcpgate","exp":9999999999}`)))
	f.Add(testidp.SignRaw(f, k1, "JWT", []byte(`{"iss":"`+p.URL+`","sub":"u","aud":"mcpgate","exp":"9999999999"}`)))
	f.Add("a.b.c")
	f.Add("..")
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","kid":"k1"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+p.URL+`","exp":1e400}`)) + ".AAAA")
	f.Fuzz(func(t *testing.T, tok string) {
		id, fail := a.verifyJWT(context.Background(), tok)
		if id != nil || fail == nil {
			t.Fatalf("accepted %q as %+v", tok, id)
		}
	})
}
