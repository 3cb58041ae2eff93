package mcpwire

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

// TestUnsupportedVersionData: the -32022 error's data has the layout of
// SEP-2575 (the 2026-07-28 schema's UnsupportedProtocolVersionError):
// exactly "supported" (the list given, in its order) and "requested".
func TestUnsupportedVersionData(t *testing.T) {
	all := slices.Clone(Versions)
	slices.Reverse(all)
	tests := []struct {
		name      string
		supported []string
		requested string
	}{
		{"future revision", all, "2099-01-01"},
		{"not a date", all, "bogus"},
		{"needs escaping", all, "a\"b\\c\n"},
		{"invalid UTF-8", all, "v\xff"},
		{"empty", all, ""},
		{"a backend's subset", []string{Version20260728, Version20251125}, "v999.0.0"},
		{"one revision", []string{Version20251125}, "v999.0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := UnsupportedVersionData(tt.supported, tt.requested)
			var got struct {
				Supported []string `json:"supported"`
				Requested string   `json:"requested"`
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("decoding %s: %v", b, err)
			}
			if !slices.Equal(got.Supported, tt.supported) {
				t.Errorf("supported %v, want %v", got.Supported, tt.supported)
			}
			want := string(bytes.ToValidUTF8([]byte(tt.requested), []byte("\ufffd")))
			if got.Requested != want {
				t.Errorf("requested %q, want %q", got.Requested, want)
			}
		})
	}
}

func TestWriteErrorData(t *testing.T) {
	w := httptest.NewRecorder()
	WriteErrorData(w, http.StatusBadRequest, []byte("3"), CodeUnsupportedProtocolVersion, "Unsupported protocol version", UnsupportedVersionData(new(Advertised).Supported(), "1900-01-01"))
	want := `{"jsonrpc":"2.0","id":3,"error":{"code":-32022,"message":"Unsupported protocol version",` +
		`"data":{"supported":["2026-07-28","2025-11-25","2025-06-18","2025-03-26","2024-11-05"],"requested":"1900-01-01"}}}`
	if w.Code != http.StatusBadRequest || w.Body.String() != want {
		t.Errorf("%d %s\nwant 400 %s", w.Code, w.Body, want)
	}
}
