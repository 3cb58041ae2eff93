package jsonrpc

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestUnquoteString(t *testing.T) {
	for _, tc := range []struct {
		name string
		tok  string
		want string
		ok   bool
	}{
		{"plain", `"abc"`, "abc", true},
		{"empty", `""`, "", true},
		{"escapes", `"a\"\\\/\b\f\n\r\t"`, "a\"\\/\b\f\n\r\t", true},
		{"unicode", `"\u00e9\ud83d\ude00é"`, "é😀é", true},
		{"unpaired", `"\ud800"`, "", false},
		{"not a string", `abc`, "", false},
		{"trailing", `"a"b`, "", false},
		{"unterminated", `"a`, "", false},
		{"invalid utf8", "\"\xff\"", "", false},
		{"control", "\"\n\"", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := UnquoteString([]byte(tc.tok))
			if got != tc.want || ok != tc.ok {
				t.Errorf("UnquoteString(%q) = %q, %v; want %q, %v", tc.tok, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestAppendQuote(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want string
	}{
		{"plain", "abc", `"abc"`},
		{"quote and backslash", `a"b\c`, `"a\"b\\c"`},
		{"controls", "\n\r\t\x00\x1f", `"\n\r\t\u0000\u001f"`},
		{"unicode kept", "é😀\u2028", "\"é😀\u2028\""},
		{"invalid utf8", "a\xffb\xc3", `"a\ufffdb\ufffd"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(AppendQuote([]byte("x"), tc.in))
			if got != "x"+tc.want {
				t.Errorf("AppendQuote(%q) = %s, want x%s", tc.in, got, tc.want)
			}
			back, ok := UnquoteString([]byte(tc.want))
			if !ok || !json.Valid([]byte(tc.want)) {
				t.Fatalf("result %s does not unquote", tc.want)
			}
			var std string
			if err := json.Unmarshal([]byte(tc.want), &std); err != nil || std != back {
				t.Errorf("encoding/json reads %q, UnquoteString %q", std, back)
			}
		})
	}
}

func TestQuoteForError(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want string
	}{
		{"short", "method", `"method"`},
		{"long", strings.Repeat("a", 100), `"` + strings.Repeat("a", 47) + `…"`},
		{"controls", strings.Repeat("\x01", 100), `"` + strings.Repeat(`\u0001`, 8) + `…"`},
		{"runes not split", strings.Repeat("é", 40), `"` + strings.Repeat("é", 24) + `…"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := quoteForError([]byte(tc.in)); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
