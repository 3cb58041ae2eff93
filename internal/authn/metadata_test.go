package authn

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

func TestMetadataURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://gw.example.com/mcp":          "https://gw.example.com/.well-known/oauth-protected-resource/mcp",
		"https://gw.example.com/":             "https://gw.example.com/.well-known/oauth-protected-resource",
		"https://gw.example.com":              "https://gw.example.com/.well-known/oauth-protected-resource",
		"http://127.0.0.1:8080/a/mcp/":        "http://127.0.0.1:8080/.well-known/oauth-protected-resource/a/mcp",
		"https://gw.example.com:8443/t%20x/m": "https://gw.example.com:8443/.well-known/oauth-protected-resource/t%20x/m",
	} {
		if got, err := MetadataURL(in); err != nil || got != want {
			t.Errorf("MetadataURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"/mcp", "https://gw.example.com/mcp?x=1", "https://gw.example.com/mcp#f"} {
		if _, err := MetadataURL(bad); err == nil {
			t.Errorf("MetadataURL(%q) succeeded", bad)
		}
	}
}

func TestMetadataHandler(t *testing.T) {
	a := start(t, Options{
		Resource:        testResource,
		ResourceName:    "Example",
		ScopesSupported: []string{"mcp:tools"},
		Issuers:         []Issuer{{Issuer: "http://127.0.0.1:1", Audiences: []string{"x"}}},
		FetchTimeout:    1,
		RetryBackoff:    1 << 62,
	})
	if got := a.MetadataPaths(); !reflect.DeepEqual(got, []string{MetadataPath + "/mcp", MetadataPath}) {
		t.Errorf("MetadataPaths = %v", got)
	}
	tests := []struct {
		name, method, path string
		code               int
	}{
		{"suffixed form", "GET", MetadataPath + "/mcp", 200},
		{"bare form", "GET", MetadataPath, 200},
		{"head", "HEAD", MetadataPath, 200},
		{"other path", "GET", MetadataPath + "/other", 404},
		{"post", "POST", MetadataPath, 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			a.MetadataHandler().ServeHTTP(w, httptest.NewRequest(tt.method, "http://evil.example.com"+tt.path, nil))
			if w.Code != tt.code {
				t.Fatalf("status %d, want %d", w.Code, tt.code)
			}
			if tt.code != 200 || tt.method != "GET" {
				return
			}
			var m map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"resource":                 testResource, // from configuration, whatever the Host header says
				"authorization_servers":    []any{"http://127.0.0.1:1"},
				"bearer_methods_supported": []any{"header"},
				"scopes_supported":         []any{"mcp:tools"},
				"resource_name":            "Example",
			}
			if !reflect.DeepEqual(m, want) {
				t.Errorf("metadata %v, want %v", m, want)
			}
			if w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("headers %v", w.Header())
			}
		})
	}

	// With scopes configured, a 401 challenge names them too.
	res := do(a, httptest.NewRequest(http.MethodPost, "http://evil.example.com/mcp", nil))
	if got, want := res.header.Get("WWW-Authenticate"), challenge401+`, scope="mcp:tools"`; got != want {
		t.Errorf("WWW-Authenticate %s, want %s", got, want)
	}
}
