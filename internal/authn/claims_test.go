package authn

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/mcpgate/mcpgate/internal/record"
	"github.com/mcpgate/mcpgate/internal/testidp"
)

// withMembers is the JSON of claims with raw members appended after them,
// so that they come last: encoding/json lets the last of several
// case-variant keys win, which is what made these tokens dangerous.
func withMembers(t *testing.T, claims map[string]any, members string) []byte {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return append(append(b[:len(b)-1], ","+members...), '}')
}

// TestClaimsCaseSensitive signs tokens whose payloads hold a second
// spelling of a registered claim, or a registered claim of the wrong type.
// Before claims were decoded strictly, every case marked bypass was
// accepted (go-oidc's encoding/json decoding let the last spelling win, or
// matched a lone variant): as admin, past its exp, for another audience.
// The cases marked policy were accepted too, harmlessly, because the
// gateway read those claims by their exact names already; they are refused
// now so that no consumer can read such a payload differently.
func TestClaimsCaseSensitive(t *testing.T) {
	p := testidp.New(t)
	clk := newClock()
	k1 := testidp.NewKey(t, "k1", jose.ES256)
	p.Publish(k1)
	opts := baseOptions(p, clk)
	opts.Issuers[0].Audiences = []string{"mcpgate"}
	opts.Issuers[0].GroupsClaim = "roles"
	a := start(t, opts)
	now := clk.Now().Unix()
	base := func(mod func(c map[string]any)) map[string]any {
		c := claimsFor(p, clk)
		c["aud"] = "mcpgate"
		if mod != nil {
			mod(c)
		}
		return c
	}

	tests := []struct {
		name    string
		payload []byte
		code    int
		detail  string // substring of the logged detail; "" for 200
		sub     string // the identity's subject when accepted
	}{
		{"control: plain token", withMembers(t, base(nil), `"jti":"j1"`), 200, "", "user-1"},
		{"control: private claims in any case", withMembers(t, base(nil), `"Department":"eng","department":"ops"`), 200, "", "user-1"},

		{"bypass: Sub beside sub", withMembers(t, base(nil), `"Sub":"admin"`), 401, `claim sub appears under 2 spellings ["Sub", "sub"]`, ""},
		{"bypass: SUB beside sub", withMembers(t, base(nil), `"SUB":"admin"`), 401, "claim sub appears under 2 spellings", ""},
		{"bypass: U+017F ſub beside sub", withMembers(t, base(nil), `"ſub":"admin"`), 401, "claim sub appears under 2 spellings", ""},
		{"bypass: escaped \\u0053ub beside sub", withMembers(t, base(nil), `"\u0053ub":"admin"`), 401, "claim sub appears under 2 spellings", ""},
		{"bypass: sub twice", withMembers(t, base(nil), `"sub":"admin"`), 401, `claim "sub" appears twice`, ""},
		{"bypass: expired exp beside a future Exp", withMembers(t, base(func(c map[string]any) { c["exp"] = now - 3600 }), `"Exp":9999999999`),
			401, "claim exp appears under 2 spellings", ""},
		{"bypass: expired exp twice, the last one future", withMembers(t, base(func(c map[string]any) { c["exp"] = now - 3600 }), `"exp":9999999999`),
			401, `claim "exp" appears twice`, ""},
		{"bypass: aud other beside AUD mcpgate", withMembers(t, base(func(c map[string]any) { c["aud"] = "other" }), `"AUD":"mcpgate"`),
			401, "claim aud appears under 2 spellings", ""},
		{"bypass: iss unknown, ISS trusted", withMembers(t, base(func(c map[string]any) { c["iss"] = "https://evil.example.com" }), `"ISS":"`+p.URL+`"`),
			401, `unknown issuer "https://evil.example.com"`, ""},
		{"iss trusted, ISS unknown", withMembers(t, base(nil), `"ISS":"https://evil.example.com"`), 401, "claim iss appears under 2 spellings", ""},
		{"policy: Nbf beside nbf", withMembers(t, base(nil), `"Nbf":1`), 401, "claim nbf appears under 2 spellings", ""},
		{"bypass: exp as a string", withMembers(t, base(func(c map[string]any) { delete(c, "exp") }), `"exp":"9999999999"`),
			401, "exp is not a number", ""},
		{"bypass: iat as a string", withMembers(t, base(func(c map[string]any) { delete(c, "iat") }), `"iat":"1"`),
			401, "iat is not a number", ""},
		{"bypass: only a case variant of sub", withMembers(t, base(func(c map[string]any) { delete(c, "sub") }), `"Sub":"admin"`),
			401, "token has no sub claim", ""},
		{"only a case variant of exp", withMembers(t, base(func(c map[string]any) { delete(c, "exp") }), `"EXP":9999999999`),
			401, "token has no exp claim", ""},
		{"bypass: only a case variant of aud", withMembers(t, base(func(c map[string]any) { delete(c, "aud") }), `"Aud":"mcpgate"`),
			401, "audience mismatch", ""},

		{"policy: configured claim Roles beside roles", withMembers(t, base(nil), `"roles":["eng"],"Roles":["admin"]`), 401, "claim roles appears under 2 spellings", ""},
		{"policy: scope twice", withMembers(t, base(nil), `"scope":"a","scope":"b"`), 401, `claim "scope" appears twice`, ""},
		{"nbf as a string", withMembers(t, base(func(c map[string]any) { delete(c, "nbf") }), `"nbf":"1"`), 401, "nbf is not a number", ""},
		// go-oidc refuses these two before checkClaims sees them.
		{"sub not a string", withMembers(t, base(func(c map[string]any) { delete(c, "sub") }), `"sub":7`), 401, "sub", ""},
		{"aud list with a number", withMembers(t, base(func(c map[string]any) { delete(c, "aud") }), `"aud":["mcpgate",1]`), 401, "aud", ""},
		{"iss not a string", []byte(`{"iss":1,"sub":"x"}`), 401, "iss is not a string", ""},
		{"data after the object", append(withMembers(t, base(nil), `"jti":"j2"`), ` {}`...), 401, "data after the JSON object", ""},
		{"policy: invalid UTF-8", withMembers(t, base(nil), "\"n\xffme\":\"x\""), 401, "not valid UTF-8", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(a, bearer(testidp.SignRaw(t, k1, "JWT", tt.payload)))
			if res.code != tt.code {
				sub := ""
				if res.id != nil {
					sub = res.id.Subject
				}
				t.Fatalf("status %d (subject %q, detail %q), want %d", res.code, sub, res.rec.Detail, tt.code)
			}
			if tt.code == 200 {
				if res.id == nil || res.id.Subject != tt.sub {
					t.Fatalf("identity %+v, want subject %q", res.id, tt.sub)
				}
				return
			}
			if res.reached || res.rec.Identity != nil {
				t.Error("a refused token reached the next handler or left an identity")
			}
			if res.rec.Reason != record.ReasonUnauthenticated || !strings.Contains(res.rec.Detail, tt.detail) {
				t.Errorf("record reason %q detail %q; want %q with %q", res.rec.Reason, res.rec.Detail, record.ReasonUnauthenticated, tt.detail)
			}
			if strings.Contains(res.rec.Detail, "admin") {
				t.Errorf("the detail names the shadowing value: %q", res.rec.Detail)
			}
		})
	}
}

// TestRequireTokenType checks the opt-in RFC 9068 typ check.
func TestRequireTokenType(t *testing.T) {
	p := testidp.New(t)
	clk := newClock()
	k1 := testidp.NewKey(t, "k1", jose.ES256)
	p.Publish(k1)
	opts := baseOptions(p, clk)
	opts.TokenCacheSize = 0 // every request is verified
	plain := start(t, opts)
	opts.Issuers = []Issuer{opts.Issuers[0]}
	opts.Issuers[0].RequireTokenType = TokenTypeAccessToken
	strict := start(t, opts)
	payload, _ := json.Marshal(claimsFor(p, clk))

	tests := []struct {
		name   string
		auth   *Authenticator
		typ    string
		code   int
		detail string
	}{
		{"at+jwt", strict, "at+jwt", 200, ""},
		{"application/at+jwt", strict, "application/at+jwt", 200, ""},
		{"media types are case-insensitive", strict, "AT+JWT", 200, ""},
		{"JWT refused", strict, "JWT", 401, `token typ "JWT", at+jwt required`},
		{"no typ refused", strict, "", 401, "token has no typ header, at+jwt required"},
		{"ID token type refused", strict, "id_token+jwt", 401, `token typ "id_token+jwt"`},
		{"not required: JWT", plain, "JWT", 200, ""},
		{"not required: no typ", plain, "", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(tt.auth, bearer(testidp.SignRaw(t, k1, tt.typ, payload)))
			if res.code != tt.code || !strings.Contains(res.rec.Detail, tt.detail) {
				t.Fatalf("status %d detail %q, want %d with %q", res.code, res.rec.Detail, tt.code, tt.detail)
			}
		})
	}

	bad := baseOptions(p, clk)
	bad.Issuers[0].RequireTokenType = "JWT"
	if a, err := New(bad); err == nil {
		a.Close()
		t.Fatal("New accepted RequireTokenType JWT")
	}
}

// FuzzDecodeClaims checks the strict claims decoder against encoding/json:
// whatever it accepts, encoding/json decodes to the same map, and the map
// survives a round trip; it never panics.
func FuzzDecodeClaims(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"sub":"a","Sub":"b"}`, `{"sub":"a","sub":"b"}`, `{"exp":1e400}`, `{"a":{"a":1,"a":2}}`,
		`{"iss":"https://idp.example.com","sub":"u","aud":["x","y"],"exp":1700000000,"nbf":1.5,"groups":["g"]}`,
		`{"\u0073ub":1,"sub":2}`, `{"x":1} {}`, `{"x":1}x`, `[1]`, `"s"`, `{"x":}`, "{\"\xff\":1}", ` { "a" : null } `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		claims, err := decodeClaims(in)
		if err != nil {
			return
		}
		if !utf8.Valid(in) {
			t.Fatalf("accepted invalid UTF-8 %q", in)
		}
		var std map[string]any
		if err := json.Unmarshal(in, &std); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", in, err)
		}
		if !reflect.DeepEqual(claims, std) {
			t.Fatalf("decoded %q as %v, encoding/json as %v", in, claims, std)
		}
		again, err := json.Marshal(claims)
		if err != nil {
			t.Fatalf("re-encoding %v: %v", claims, err)
		}
		back, err := decodeClaims(again)
		if err != nil || !reflect.DeepEqual(back, claims) {
			t.Fatalf("round trip of %q: %v, %v", again, back, err)
		}
		_ = ambiguousClaim(claims, claimNames("name", "email", "groups"))
	})
}
