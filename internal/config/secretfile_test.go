package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretFileModes writes a ${file:} secret and a pseudonymization key
// with each mode and parses a configuration using them from the real file
// system. Files the test makes are owned by its user, so 0640 is refused
// unless the test runs as root (a root-owned file may be group-readable).
func TestSecretFileModes(t *testing.T) {
	asRoot := os.Getuid() == 0
	tests := []struct {
		name string
		mode os.FileMode
		ok   bool
	}{
		{"0600", 0o600, true},
		{"0400", 0o400, true},
		{"0700", 0o700, true},
		{"0644 readable by others", 0o644, false},
		{"0604 readable by others", 0o604, false},
		{"0606 writable by others", 0o606, false},
		{"0620 writable by the group", 0o620, false},
		{"0660 writable by the group", 0o660, false},
		{"0640 readable by the group", 0o640, asRoot},
		{"0440 readable by the group", 0o440, asRoot},
		{"0650 group execute", 0o650, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			secret, key := filepath.Join(dir, "secret"), filepath.Join(dir, "k1")
			for f, content := range map[string]string{secret: "s3cret\n", key: testKey + "\n"} {
				if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(f, tt.mode); err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range []struct{ what, src, errWant string }{
				{"${file:} reference", "backends:\n  - name: b\n    url: http://127.0.0.1:1/mcp\n    headers: {X-Key: \"${file:secret}\"}\nauth: {mode: anonymous}\n",
					dir + `/m.yaml:4: backends[0].headers.X-Key: file "` + secret + `" referenced as ${file:secret} has mode ` + modeString(tt.mode) + `: group or others can access it, and it holds a secret; run: chmod 600 ` + secret + ` (a file owned by root may also be 0640)`},
				{"pseudonymization key", "pseudonymization: {keys: [{id: k1, file: k1}]}\n" + minimalURL,
					dir + `/m.yaml:1: pseudonymization.keys[0].file: key file "` + key + `" has mode ` + modeString(tt.mode) + `: group or others can access it, and it holds a secret; run: chmod 600 ` + key + ` (a file owned by root may also be 0640)`},
			} {
				cfg, err := Parse(filepath.Join(dir, "m.yaml"), []byte(c.src), Lookup{})
				switch {
				case tt.ok && err != nil:
					t.Errorf("%s: %v", c.what, err)
				case !tt.ok && err == nil:
					t.Errorf("%s with mode %#o accepted", c.what, tt.mode)
				case !tt.ok && err.Error() != c.errWant:
					t.Errorf("%s:\n got %v\nwant %s", c.what, err, c.errWant)
				case !tt.ok && strings.Contains(err.Error(), "s3cret"):
					t.Errorf("%s: the error shows the secret: %v", c.what, err)
				case tt.ok && c.what == "${file:} reference" && cfg.Backends[0].Headers["X-Key"] != "s3cret":
					t.Errorf("%s: header %q", c.what, cfg.Backends[0].Headers["X-Key"])
				}
			}
		})
	}
}

// modeString is m as the error writes it: 0644.
func modeString(m os.FileMode) string {
	return fmt.Sprintf("%#o", m.Perm())
}

// TestSecretFileModeFake checks the injected Stat is used, and that a FIFO
// or a device (no meaningful mode) is not refused.
func TestSecretFileModeFake(t *testing.T) {
	look := fakeLookup(nil, map[string]string{"/s": "v"})
	look.Stat = func(string) (os.FileInfo, error) { return fakeFileInfo{name: "s", mode: 0o644}, nil }
	_, err := look.readSecretFile("/s")
	if me := (*secretModeError)(nil); !errors.As(err, &me) {
		t.Fatalf("mode 0644 from the injected Stat: %v, want a secretModeError", err)
	}
	look.Stat = func(string) (os.FileInfo, error) { return fakeFileInfo{name: "s", mode: os.ModeNamedPipe | 0o666}, nil }
	if b, err := look.readSecretFile("/s"); err != nil || string(b) != "v" {
		t.Fatalf("a FIFO: %q, %v", b, err)
	}
}
