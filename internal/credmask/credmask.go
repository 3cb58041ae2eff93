package credmask

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strings"
	"unicode"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

// Redaction of tool arguments (gen_ai.tool.call.arguments, opt-in).
//
// Keys are split into words — at anything but a letter or digit, and at
// camelCase boundaries ("X-Api-Key" → x api key, "refreshToken" → refresh
// token, "APIKey" → api key) — and a key is sensitive when one word is in
// sensitiveWords, ends with one of sensitiveSuffixes (for run-together
// spellings like "accesstoken"), or two adjacent words form one of
// sensitivePairs. Whole words only: "monkey" is not "key", "author" is not
// "auth". A sensitive key's value, whatever its type, becomes "[REDACTED]".
//
// String values under any key are searched for credentials that announce
// themselves: JWTs (eyJ….….), "Bearer …"/"Basic …" credentials, PEM private
// key blocks and mcpgate API keys (mcpg_…); each is replaced by a marker.
// Strings are cut to stringMax bytes, and the whole result to the limit,
// closing what is open and adding a "[truncated]" marker, so the result is
// valid JSON whenever the input was.

var sensitiveWords = map[string]bool{
	"password": true, "passwords": true, "passwd": true, "pwd": true, "passphrase": true,
	"secret": true, "secrets": true, "token": true, "tokens": true,
	"authorization": true, "auth": true, "cookie": true, "cookies": true,
	"credential": true, "credentials": true, "apikey": true, "apikeys": true,
	"privatekey": true, "accesskey": true, "sessionid": true, "jwt": true, "bearer": true, "otp": true,
}

var sensitiveSuffixes = []string{"token", "tokens", "password", "passwd", "secret", "apikey", "credential", "credentials"}

var sensitivePairs = map[[2]string]bool{
	{"api", "key"}: true, {"access", "key"}: true, {"private", "key"}: true, {"secret", "key"}: true,
	{"signing", "key"}: true, {"encryption", "key"}: true, {"session", "id"}: true, {"session", "key"}: true,
}

const (
	redacted  = "[REDACTED]"
	truncated = "[truncated]"
	stringMax = 256
)

var (
	jwtRe    = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*`)
	schemeRe = regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}`)
	pemRe    = regexp.MustCompile(`-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|$)`)
	apiKeyRe = regexp.MustCompile(`\bmcpg_[A-Za-z0-9_-]{8,}`)
)

// SensitiveKey reports whether a member named key has its value redacted.
func SensitiveKey(key string) bool {
	words := keyWords(key)
	for i, w := range words {
		if sensitiveWords[w] {
			return true
		}
		for _, suf := range sensitiveSuffixes {
			if len(w) > len(suf) && strings.HasSuffix(w, suf) {
				return true
			}
		}
		if i+1 < len(words) && sensitivePairs[[2]string{w, words[i+1]}] {
			return true
		}
	}
	return false
}

// keyWords splits key into lower-case words.
func keyWords(key string) []string {
	var words []string
	rs := []rune(key)
	start := -1
	flush := func(end int) {
		if start >= 0 && end > start {
			words = append(words, strings.ToLower(string(rs[start:end])))
		}
		start = -1
	}
	for i, r := range rs {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			flush(i)
			continue
		}
		if start < 0 {
			start = i
			continue
		}
		prev := rs[i-1]
		switch {
		case unicode.IsUpper(r) && unicode.IsLower(prev):
			flush(i) // camelCase: "apiKey"
			start = i
		case unicode.IsUpper(prev) && unicode.IsUpper(r) && i+1 < len(rs) && unicode.IsLower(rs[i+1]):
			flush(i) // end of an acronym: "APIKey"
			start = i
		}
	}
	flush(len(rs))
	return words
}

// MaskString replaces credentials found in s by markers and cuts it to
// stringMax bytes.
func MaskString(s string) string {
	if strings.Contains(s, "eyJ") {
		s = jwtRe.ReplaceAllString(s, "[REDACTED:jwt]")
	}
	if strings.Contains(s, "-----BEGIN") {
		s = pemRe.ReplaceAllString(s, "[REDACTED:private-key]")
	}
	if strings.Contains(s, "mcpg_") {
		s = apiKeyRe.ReplaceAllString(s, "[REDACTED:api-key]")
	}
	if containsFold(s, "bearer") || containsFold(s, "basic") {
		s = schemeRe.ReplaceAllString(s, "$1 [REDACTED]")
	}
	if len(s) > stringMax {
		s = Clip(s, stringMax) + "…"
	}
	return s
}

func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// RedactJSON returns the JSON value raw with sensitive members redacted and
// credentials masked, at most limit bytes (limit is raised to 64 if lower).
// Member order is kept. Input that is not valid JSON gives a JSON string
// saying so, never the input.
func RedactJSON(raw []byte, limit int) string {
	limit = max(limit, 64)
	// The decoder's Token reports a value cut short as a plain io.EOF, so
	// validity is checked first.
	if !json.Valid(raw) {
		return `"[arguments omitted: not valid JSON]"`
	}
	r := redactor{limit: limit, out: make([]byte, 0, min(len(raw)+16, limit))}
	if err := r.run(raw); err != nil {
		return `"[arguments omitted: not valid JSON]"`
	}
	return string(r.out)
}

type redactor struct {
	out   []byte
	limit int
	// One entry per open container: '{' or '[', the items written so far,
	// and, for objects, whether the next token is a member name.
	stack []frame
	full  bool
}

type frame struct {
	delim   byte
	items   int
	wantKey bool
}

var errInvalid = errors.New("invalid JSON")

// markerRoom is what closing everything open, plus one marker, may take.
func (r *redactor) markerRoom() int {
	return len(r.stack) + len(`,"…":"`+truncated+`"`)
}

func (r *redactor) fits(n int) bool { return len(r.out)+n+r.markerRoom() <= r.limit }

func (r *redactor) run(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return errInvalid
		}
		if r.full {
			continue // read on only to validate the input
		}
		if n := len(r.stack); n > 0 && r.stack[n-1].wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				r.close()
				continue
			}
			key, _ := tok.(string)
			if SensitiveKey(key) {
				if err := skipValue(dec); err != nil {
					return err
				}
				r.member(key)
				continue
			}
			q := jsonrpc.AppendQuote(nil, key)
			if !r.fits(len(q) + 2) {
				r.truncate()
				continue
			}
			r.sep()
			r.out = append(append(r.out, q...), ':')
			r.stack[n-1].wantKey = false
			continue
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if !r.fits(2) {
					r.truncate()
					continue
				}
				r.sep()
				r.out = append(r.out, byte(v))
				r.stack = append(r.stack, frame{delim: byte(v), wantKey: v == '{'})
			default:
				r.close()
			}
		case string:
			r.scalar(jsonrpc.AppendQuote(nil, MaskString(v)))
		case json.Number:
			r.scalar([]byte(v))
		case bool:
			if v {
				r.scalar([]byte("true"))
			} else {
				r.scalar([]byte("false"))
			}
		case nil:
			r.scalar([]byte("null"))
		}
	}
	for len(r.stack) > 0 {
		r.close()
	}
	return nil
}

// scalar writes one value in the current position.
func (r *redactor) scalar(b []byte) {
	if !r.fits(len(b) + 1) {
		r.truncate()
		return
	}
	r.sep()
	r.out = append(r.out, b...)
	r.afterValue()
}

// member writes the whole member `"key":"[REDACTED]"`.
func (r *redactor) member(key string) {
	q := jsonrpc.AppendQuote(nil, key)
	if !r.fits(len(q) + len(redacted) + 4) {
		r.truncate()
		return
	}
	r.sep()
	r.out = append(append(r.out, q...), ':')
	r.out = jsonrpc.AppendQuote(r.out, redacted)
}

// sep writes the comma before an item (a member name, or an array element
// or top-level value) and counts it; a member's value needs none.
func (r *redactor) sep() {
	n := len(r.stack)
	if n == 0 {
		return
	}
	f := &r.stack[n-1]
	if f.delim == '{' && !f.wantKey {
		return
	}
	if f.items > 0 {
		r.out = append(r.out, ',')
	}
	f.items++
}

// afterValue notes that a member's value was written.
func (r *redactor) afterValue() {
	if n := len(r.stack); n > 0 && r.stack[n-1].delim == '{' {
		r.stack[n-1].wantKey = true
	}
}

func (r *redactor) close() {
	n := len(r.stack)
	f := r.stack[n-1]
	r.stack = r.stack[:n-1]
	if f.delim == '{' {
		r.out = append(r.out, '}')
	} else {
		r.out = append(r.out, ']')
	}
	r.afterValue()
}

// truncate writes the marker where the next item would have gone and stops
// the output; run closes what is open.
func (r *redactor) truncate() {
	r.full = true
	n := len(r.stack)
	switch {
	case n == 0:
		r.out = append(r.out, `"`+truncated+`"`...)
	case r.stack[n-1].delim == '{' && !r.stack[n-1].wantKey:
		r.out = append(r.out, `"`+truncated+`"`...) // a member's value
	case r.stack[n-1].delim == '{':
		r.sep()
		r.out = append(r.out, `"…":"`+truncated+`"`...)
	default:
		r.sep()
		r.out = append(r.out, `"`+truncated+`"`...)
	}
	r.afterValue()
}

// skipValue consumes one whole value from dec.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return errInvalid
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
	}
}
