package mcpwire

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

const (
	jsonType = "application/json"
	sseType  = "text/event-stream"
)

func TestAccepts(t *testing.T) {
	tests := []struct {
		name   string
		accept string
		mt     string
		want   bool
	}{
		{"empty header admits everything", "", sseType, true},
		{"exact", "application/json", jsonType, true},
		{"exact among others", "application/json, text/event-stream", sseType, true},
		{"case-insensitive", "Text/Event-Stream", sseType, true},
		{"other type only", "text/html", jsonType, false},
		{"subtype wildcard", "application/*", jsonType, true},
		{"subtype wildcard of another type", "text/*", jsonType, false},
		{"any", "*/*", sseType, true},
		{"whitespace and empty members", " ,, text/event-stream ;q=0.5 ,", sseType, true},
		{"media type parameters", "application/json; charset=utf-8", jsonType, true},
		{"q=0 refuses", "application/json;q=0", jsonType, false},
		{"q=0.000 refuses", "application/json; q=0.000", jsonType, false},
		{"Q=0 refuses", "application/json;Q = 0", jsonType, false},
		{"q=0 after another parameter", "application/json;charset=utf-8;q=0", jsonType, false},
		{"q=0.001 admits", "application/json;q=0.001", jsonType, true},
		{"unparsable q admits", "application/json;q=x", jsonType, true},
		{"q=0 on a wildcard", "*/*;q=0", jsonType, false},
		{"refused wildcard, admitted type", "*/*;q=0, application/json", jsonType, true},
		{"refused subtype wildcard, admitted type", "application/*;q=0, application/json", jsonType, true},
		// RFC 9110 §12.5.1: the most specific range decides.
		{"refused type, admitted wildcard", "text/event-stream;q=0, */*", sseType, false},
		{"refused type, admitted subtype wildcard", "application/json;q=0, application/*;q=1", jsonType, false},
		{"refused subtype wildcard, admitted any", "text/*;q=0, */*", sseType, false},
		{"refused type listed after wildcard", "*/*, text/event-stream;q=0", sseType, false},
		{"type listed twice, once admitted", "application/json;q=0, application/json;q=0.5", jsonType, true},
		{"other type refused", "text/event-stream;q=0, application/json", jsonType, true},
		{"prefix of the type is no match", "application/jsonx", jsonType, false},
		{"bare wildcard subtype is no match", "*/json", jsonType, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Accepts(tc.accept, tc.mt); got != tc.want {
				t.Errorf("Accepts(%q, %q) = %v, want %v", tc.accept, tc.mt, got, tc.want)
			}
		})
	}
}

func FuzzAccepts(f *testing.F) {
	for _, s := range []string{
		"", "*/*", "application/json, text/event-stream", "text/*;q=0, */*",
		"application/json;q=0.5;charset=\"a,b\"", ";;,,;=", "q=0", "*/*;q=NaN", "a/b;q=1e400",
	} {
		f.Add(s, jsonType)
		f.Add(s, sseType)
	}
	f.Fuzz(func(t *testing.T, accept, mt string) {
		got := Accepts(accept, mt)
		if accept == "" && !got {
			t.Errorf("empty Accept refused %q", mt)
		}
		// Appending a refusal of something else never changes the answer
		// for mt unless it names mt's ranges.
		if !strings.ContainsAny(mt, ",;") && !strings.EqualFold(mt, "other/thing") && strings.Contains(mt, "/") &&
			!strings.HasPrefix(strings.ToLower(mt), "other/") && accept != "" {
			if again := Accepts(accept+", other/thing;q=0", mt); again != got {
				t.Errorf("Accepts(%q, %q) = %v, but %v with an unrelated refusal added", accept, mt, got, again)
			}
		}
	})
}

func TestAppendError(t *testing.T) {
	tests := []struct {
		name    string
		id      []byte
		code    int64
		message string
		wantID  string
		wantMsg string // when it differs from message
	}{
		{"null id", nil, -32603, "internal error", "null", ""},
		{"empty id is null", []byte{}, -32000, "x", "null", ""},
		{"integer id", []byte("7"), -32000, `backend "search" unreachable`, "7", ""},
		{"string id", []byte(`"a\"b"`), -32600, "bad", `"a\"b"`, ""},
		{"positive code", []byte("1"), 42, "", "1", ""},
		{"escapes", []byte("1"), -32000, "quote \" backslash \\ newline \n tab \t nul \x00 bell \a", "1", ""},
		{"unicode", []byte("1"), -32000, "héllo, 世界 🌍 \u2028", "1", ""},
		{"invalid UTF-8 becomes U+FFFD", []byte("1"), -32000, "bad \xff\xfe byte", "1", "bad \ufffd\ufffd byte"},
		{"HTML stays as is", []byte("1"), -32000, "<script>&</script>", "1", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("data: ")
			b := AppendError(bytes.Clone(prefix), tc.id, tc.code, tc.message)
			if !bytes.HasPrefix(b, prefix) {
				t.Fatalf("dst was not appended to: %q", b)
			}
			b = b[len(prefix):]
			if !json.Valid(b) || !utf8.Valid(b) {
				t.Fatalf("not valid JSON: %q", b)
			}
			if bytes.ContainsAny(b, "\n\r") {
				t.Errorf("contains a line break, so it cannot be one SSE data line: %q", b)
			}
			var got struct {
				JSONRPC string          `json:"jsonrpc"`
				ID      json.RawMessage `json:"id"`
				Error   struct {
					Code    int64  `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("decoding %q: %v", b, err)
			}
			want := tc.message
			if tc.wantMsg != "" {
				want = tc.wantMsg
			}
			if got.JSONRPC != "2.0" || string(got.ID) != tc.wantID || got.Error.Code != tc.code || got.Error.Message != want {
				t.Errorf("decoded %+v (id %s), want id %s code %d message %q", got, got.ID, tc.wantID, tc.code, want)
			}
		})
	}
}

func TestWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	w.Header().Set("Content-Type", "text/plain")
	WriteError(w, http.StatusBadGateway, []byte(`"r1"`), CodeGateway, "backend down")
	if w.Code != http.StatusBadGateway {
		t.Errorf("status %d", w.Code)
	}
	if ct := w.Header().Values("Content-Type"); len(ct) != 1 || ct[0] != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if v := w.Header().Get("X-Content-Type-Options"); v != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", v)
	}
	want := `{"jsonrpc":"2.0","id":"r1","error":{"code":-32000,"message":"backend down"}}`
	if w.Body.String() != want {
		t.Errorf("body %s, want %s", w.Body, want)
	}
}

func TestVersions(t *testing.T) {
	tests := []struct {
		version          string
		known, stateless bool
	}{
		{Version20241105, true, false},
		{Version20250326, true, false},
		{Version20250618, true, false},
		{Version20251125, true, false},
		{Version20260728, true, true},
		{"", false, false},
		{"2025-06-19", false, false},
		{"2025-06-18 ", false, false},
		{"2024-11-05\x00", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.version, func(t *testing.T) {
			if got := KnownVersion(tc.version); got != tc.known {
				t.Errorf("KnownVersion(%q) = %v, want %v", tc.version, got, tc.known)
			}
			if got := Stateless(tc.version); got != tc.stateless {
				t.Errorf("Stateless(%q) = %v, want %v", tc.version, got, tc.stateless)
			}
		})
	}
	for i := 1; i < len(Versions); i++ {
		if Versions[i-1] >= Versions[i] {
			t.Errorf("Versions not oldest first: %q before %q", Versions[i-1], Versions[i])
		}
	}
}

func TestHeaderNamesCanonical(t *testing.T) {
	for _, name := range []string{HeaderSessionID, HeaderProtocolVersion, HeaderMethod, HeaderName, HeaderLastEventID} {
		if c := http.CanonicalHeaderKey(name); c != name {
			t.Errorf("%q is not canonical (%q): direct map lookups would miss it", name, c)
		}
	}
}

// FuzzManagedAlias: an alias always has an underscore and folds to a
// managed header; a managed header's own spelling is never an alias.
func FuzzManagedAlias(f *testing.F) {
	for _, s := range []string{"Mcp_Session_Id", "Mcp-Param-user_id", "Mcp_Param_x", "X_Api_Key", "X-Api-Key", "Authorization", "x_forwarded_for", "_"} {
		f.Add(s, "X-API-Key")
	}
	f.Fuzz(func(t *testing.T, name, apiKey string) {
		if !ManagedAlias(name, apiKey) {
			return
		}
		if !strings.Contains(name, "_") || !Managed(name, apiKey) {
			t.Errorf("ManagedAlias(%q, %q) without an underscore or a managed fold", name, apiKey)
		}
		if strings.EqualFold(name, apiKey) || slices.Contains(ManagedHeaders, http.CanonicalHeaderKey(name)) {
			t.Errorf("ManagedAlias(%q, %q): a managed header's own spelling", name, apiKey)
		}
	})
}
