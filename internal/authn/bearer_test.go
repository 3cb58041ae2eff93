package authn

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAuthorization(t *testing.T) {
	tests := []struct {
		name, in, tok string
		err           error
	}{
		{"plain", "Bearer abc.def.ghi", "abc.def.ghi", nil},
		{"scheme case-insensitive", "bEaReR abc", "abc", nil},
		{"several spaces", "Bearer   abc", "abc", nil},
		{"surrounding whitespace", " \tBearer abc \t", "abc", nil},
		{"token68 charset", "Bearer aZ09-._~+/==", "aZ09-._~+/==", nil},
		{"api key", "Bearer mcpg_x-Y_z", "mcpg_x-Y_z", nil},
		{"empty", "", "", ErrNotBearer},
		{"basic", "Basic YWxhZGRpbjpvcGVuc2VzYW1l", "", ErrNotBearer},
		{"scheme prefix only", "Bearerabc", "", ErrNotBearer},
		{"tab after scheme", "Bearer\tabc", "", ErrNotBearer},
		{"scheme alone", "Bearer", "", ErrMalformed},
		{"scheme and space", "Bearer ", "", ErrMalformed},
		{"two tokens", "Bearer abc def", "", ErrMalformed},
		{"auth-params", `Bearer realm="x"`, "", ErrMalformed},
		{"comma list", "Bearer abc, Bearer def", "", ErrMalformed},
		{"padding in the middle", "Bearer ab=c", "", ErrMalformed},
		{"only padding", "Bearer ==", "", ErrMalformed},
		{"CRLF", "Bearer abc\r\nX-Injected: 1", "", ErrMalformed},
		{"NUL", "Bearer abc\x00", "", ErrMalformed},
		{"control in other scheme", "Basic \x01", "", ErrMalformed},
		{"non-ASCII", "Bearer abcé", "", ErrMalformed},
		{"too long", "Bearer " + strings.Repeat("a", maxCredentialBytes+1), "", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := ParseAuthorization(tt.in)
			if tok != tt.tok || !errors.Is(err, tt.err) {
				t.Errorf("ParseAuthorization(%q) = %q, %v; want %q, %v", tt.in, tok, err, tt.tok, tt.err)
			}
		})
	}
}

func TestQueryHasToken(t *testing.T) {
	for q, want := range map[string]bool{
		"access_token=x":         true,
		"a=1&access_token":       true,
		"access%5Ftoken=x":       true,
		"access_tokens=x":        false,
		"x=access_token":         false,
		"a=%zz&access_token=%zz": true,
	} {
		if got := queryHasToken(q); got != want {
			t.Errorf("queryHasToken(%q) = %v, want %v", q, got, want)
		}
	}
}

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer a.b.c", "Basic x", "Bearer a b", "Bearer ==", "Bearer a\r\n", " Bearer  x= ", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		tok, err := ParseAuthorization(v)
		if err != nil {
			if tok != "" {
				t.Fatalf("error %v with token %q", err, tok)
			}
			return
		}
		if !isToken68(tok) || len(tok) > maxCredentialBytes {
			t.Fatalf("accepted %q: not a token68", tok)
		}
		if !strings.Contains(v, tok) || hasControl(tok) {
			t.Fatalf("token %q not taken from %q", tok, v)
		}
	})
}
