package credmask

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSensitiveKey(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"monkey", false}, {"key", false}, {"author", false}, {"keyboard", false}, {"tokenizer", false},
		{"message", false}, {"session", false}, {"passage", false}, {"secretary", false},
		{"api_key", true}, {"X-Api-Key", true}, {"apiKey", true}, {"APIKey", true}, {"apikey", true},
		{"refreshToken", true}, {"refresh_token", true}, {"accesstoken", true}, {"id_token", true},
		{"clientSecret", true}, {"client-secret", true}, {"password", true}, {"userPassword", true},
		{"passwd", true}, {"secret", true}, {"token", true}, {"Authorization", true}, {"auth", true},
		{"cookie", true}, {"Set-Cookie", true}, {"private_key", true}, {"privateKey", true},
		{"credentials", true}, {"aws.credential", true}, {"session_id", true}, {"sessionId", true},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			if got := SensitiveKey(tc.key); got != tc.want {
				t.Errorf("SensitiveKey(%q) = %v, want %v", tc.key, got, tc.want)
			}
		})
	}
}

const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"

func TestRedactJSON(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct {
		name, in, want string
		limit          int
	}{
		{name: "innocent keys kept", in: `{"monkey":"banana","n":1,"ok":true,"z":null}`,
			want: `{"monkey":"banana","n":1,"ok":true,"z":null}`},
		{name: "sensitive keys", in: `{"api_key":"k1","X-Api-Key":"k2","refreshToken":"t","clientSecret":{"a":1},"q":"x"}`,
			want: `{"api_key":"[REDACTED]","X-Api-Key":"[REDACTED]","refreshToken":"[REDACTED]","clientSecret":"[REDACTED]","q":"x"}`},
		{name: "nested", in: `{"auth":{"password":"p"},"cfg":{"db":{"password":"p","host":"h"}},"list":[{"token":"t"}]}`,
			want: `{"auth":"[REDACTED]","cfg":{"db":{"password":"[REDACTED]","host":"h"}},"list":[{"token":"[REDACTED]"}]}`},
		{name: "JWT under an innocent key", in: `{"note":"use ` + jwt + ` please"}`,
			want: `{"note":"use [REDACTED:jwt] please"}`},
		{name: "Bearer under an innocent key", in: `{"header":"Bearer abcdef123456"}`,
			want: `{"header":"Bearer [REDACTED]"}`},
		{name: "PEM private key", in: `{"file":"-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n"}`,
			want: `{"file":"[REDACTED:private-key]\n"}`},
		{name: "mcpgate API key", in: `["mcpg_AAAAAAAAAAAAAAAAAAAA"]`, want: `["[REDACTED:api-key]"]`},
		{name: "long string capped", in: `{"s":"` + long + `"}`, want: `{"s":"` + long[:256] + `…"}`},
		{name: "whole value capped", limit: 64, in: `{"a":"0123456789","b":"0123456789","c":"0123456789","d":"0123456789","e":"x"}`,
			want: `{"a":"0123456789","b":"0123456789","c":"[truncated]"}`},
		{name: "capped at a member name", limit: 64, in: `{"a":"0123456789","b":"0123456789","ccccccccccccccccccc":"x"}`,
			want: `{"a":"0123456789","b":"0123456789","…":"[truncated]"}`},
		{name: "capped inside an array", limit: 64, in: `[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28]`,
			want: `[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,"[truncated]"]`},
		{name: "not JSON", in: `{"a":`, want: `"[arguments omitted: not valid JSON]"`},
		{name: "escapes kept", in: `{"k\"ey":"v\u0000"}`, want: `{"k\"ey":"v\u0000"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			limit := tc.limit
			if limit == 0 {
				limit = 4096
			}
			got := RedactJSON([]byte(tc.in), limit)
			if got != tc.want {
				t.Errorf("RedactJSON(%s)\n got %s\nwant %s", tc.in, got, tc.want)
			}
			if len(got) > limit {
				t.Errorf("%d bytes, over the limit %d", len(got), limit)
			}
		})
	}
}

func FuzzRedact(f *testing.F) {
	for _, s := range []string{
		`{"a":1}`, `{"password":"x","n":{"token":[1,2]}}`, `[` + strings.Repeat(`{"k":"v"},`, 40) + `1]`,
		`"Bearer xyzxyzxyz"`, `{"x":"` + jwt + `"}`, `{"k":`, `nul`, `[[[[[[]]]]]]`, `{"a":"\ud800"}`,
	} {
		f.Add([]byte(s), 64)
	}
	f.Fuzz(func(t *testing.T, in []byte, limit int) {
		limit = 64 + abs(limit)%4096
		out := RedactJSON(in, limit)
		if !json.Valid([]byte(out)) {
			if json.Valid(in) {
				t.Fatalf("valid input %q gave invalid output %q", in, out)
			}
			t.Fatalf("output %q is not JSON", out)
		}
		if len(out) > limit {
			t.Fatalf("%d bytes over the limit %d", len(out), limit)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		if n == -n {
			return 0
		}
		return -n
	}
	return n
}

// TestMaskString: credentials in free text (a backend's error message, a
// rejection's detail) are masked where they are, the rest is kept, and the
// text is bounded without splitting a character.
func TestMaskString(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes
	tests := []struct{ name, in, want string }{
		{name: "plain text kept", in: "backend unreachable: connection refused", want: "backend unreachable: connection refused"},
		{name: "JWT", in: "token " + jwt + " expired", want: "token [REDACTED:jwt] expired"},
		{name: "Bearer any case", in: "sent BEARER abcdef123456 upstream", want: "sent BEARER [REDACTED] upstream"},
		{name: "Basic", in: "Authorization: Basic dXNlcjpwYXNz", want: "Authorization: Basic [REDACTED]"},
		{name: "short scheme word kept", in: "basic auth", want: "basic auth"},
		{name: "mcpgate API key", in: "key mcpg_0123456789abcdef rejected", want: "key [REDACTED:api-key] rejected"},
		{name: "PEM private key", in: "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----", want: "[REDACTED:private-key]"},
		{name: "bounded on a character boundary", in: long, want: long[:256] + "…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MaskString(tc.in); got != tc.want {
				t.Errorf("MaskString(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}
