package config

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// TestRedact parses a configuration whose secrets come from references and
// checks what Redact does to text that quotes them the ways errors do.
func TestRedact(t *testing.T) {
	env := map[string]string{
		"API_KEY":   "k3y/with+odd&chars",
		"TOKEN":     "tok-0123456789",
		"LONGER":    "tok-0123456789-and-more",
		"PORT":      "1",
		"LOG_LEVEL": "debug",
		"EMPTY":     "",
	}
	files := map[string]string{"/run/secrets/pw": "pa55word\n"}
	src := `log: {level: "${env:LOG_LEVEL}"}
auth: {mode: anonymous}
backends:
  - name: a
    url: "http://127.0.0.${env:PORT}:8080/mcp/${file:/run/secrets/pw}/?api_key=${env:API_KEY}"
    headers: {Authorization: "Bearer ${env:TOKEN}", X-Other: "${env:LONGER}", X-Empty: "x${env:EMPTY}"}
  - name: b
    url: http://127.0.0.1:9/mcp
`
	c, err := Parse("mcpgate.yaml", []byte(src), fakeLookup(env, files))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Redacts() {
		t.Fatal("Redacts() is false with references in the file")
	}
	u := c.Backends[0].URL
	urlErr := &url.Error{Op: "Post", URL: u, Err: errors.New("dial tcp: connection refused")}
	tests := []struct {
		name, in, want string
	}{
		{"url.Error", urlErr.Error(),
			`Post "http://127.0.0.1:8080/mcp/${file:/run/secrets/pw}/?api_key=${env:API_KEY}": dial tcp: connection refused`},
		{"query-escaped", "api_key=" + url.QueryEscape(env["API_KEY"]), "api_key=${env:API_KEY}"},
		{"path-escaped", "/mcp/" + url.PathEscape(env["API_KEY"]), "/mcp/${env:API_KEY}"},
		{"Go-quoted", fmt.Sprintf("%q", `a"`+env["TOKEN"]), `"a\"${env:TOKEN}"`},
		{"the longer secret whole", "X-Other: " + env["LONGER"], "X-Other: ${env:LONGER}"},
		{"header value", "Bearer " + env["TOKEN"], "Bearer ${env:TOKEN}"},
		{"short values are left alone", "127.0.0.1 level=debug", "127.0.0.1 level=debug"},
		{"nothing to redact", "plain text", "plain text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}

	wrapped := fmt.Errorf("connect: %w", urlErr)
	red := c.RedactError(wrapped)
	if strings.Contains(red.Error(), env["API_KEY"]) || !strings.Contains(red.Error(), "${env:API_KEY}") {
		t.Errorf("RedactError: %v", red)
	}
	if ue := (*url.Error)(nil); !errors.As(red, &ue) {
		t.Error("RedactError's result does not unwrap to the url.Error")
	}
	if c.RedactError(nil) != nil {
		t.Error("RedactError(nil) != nil")
	}

	plain, err := Parse("mcpgate.yaml", []byte(minimalURL), fakeLookup(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if plain.Redacts() || plain.Redact("x") != "x" {
		t.Error("a configuration without references redacts")
	}
}

// TestCheckFilesRedacted: CheckFiles names paths and programs that may come
// from references; its errors show the references, not their values.
func TestCheckFilesRedacted(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"SECRET_DIR": "dir-s3cr3t-name", "SECRET_BIN": "bin-s3cr3t-name"}
	src := fmt.Sprintf(`auth: {mode: anonymous}
backends:
  - name: a
    command: ["%s/${env:SECRET_BIN}"]
    dir: "%s/${env:SECRET_DIR}"
`, dir, dir)
	c, err := Parse(filepath.Join(dir, "m.yaml"), []byte(src), fakeLookup(env, nil))
	if err != nil {
		t.Fatal(err)
	}
	err = c.CheckFiles()
	if err == nil {
		t.Fatal("CheckFiles accepted a missing dir and program")
	}
	msg := err.Error()
	for _, v := range env {
		if strings.Contains(msg, v) {
			t.Errorf("CheckFiles shows %q: %s", v, msg)
		}
	}
	for _, ref := range []string{"${env:SECRET_DIR}", "${env:SECRET_BIN}"} {
		if !strings.Contains(msg, ref) {
			t.Errorf("CheckFiles does not name %s: %s", ref, msg)
		}
	}
}
