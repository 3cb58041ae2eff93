package config

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
)

const testKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" // 32 bytes

func TestPseudonymizationKeys(t *testing.T) {
	look := Lookup{
		Getenv: func(name string) (string, bool) {
			switch name {
			case "PSEUDONYM_KEY":
				return testKey, true
			case "SHORT_KEY":
				return "c2hvcnQ=", true
			}
			return "", false
		},
		ReadFile: func(path string) ([]byte, error) {
			if path == "/run/secrets/k1" {
				return []byte("  " + testKey + "\n"), nil
			}
			return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
		},
	}
	tests := []struct {
		name string
		keys string
		err  string
	}{
		{"file and env", "    - {id: k2, env: PSEUDONYM_KEY}\n    - {id: k1, file: /run/secrets/k1}\n", ""},
		{"neither", "    - {id: k1}\n", "mcpgate.yaml:3: pseudonymization.keys[0]: set file or env: keys are never written in the configuration"},
		{"both", "    - {id: k1, env: PSEUDONYM_KEY, file: /run/secrets/k1}\n", "mcpgate.yaml:3: pseudonymization.keys[0]: set file or env, not both"},
		{"inline key is an unknown key", "    - {id: k1, key: " + testKey + "}\n", `unknown key "key"`},
		{"unset variable", "    - {id: k1, env: NOPE}\n", "mcpgate.yaml:3: pseudonymization.keys[0].env: environment variable NOPE is not set"},
		{"missing file", "    - {id: k1, file: /run/secrets/none}\n", "mcpgate.yaml:3: pseudonymization.keys[0].file: cannot read the key"},
		{"short key", "    - {id: k1, env: SHORT_KEY}\n", "mcpgate.yaml:3: pseudonymization.keys[0]: variable SHORT_KEY: key decodes to 5 bytes; at least 32 are needed"},
		{"no id", "    - {env: PSEUDONYM_KEY}\n", "mcpgate.yaml:3: pseudonymization.keys[0].id: required"},
		{"bad id", "    - {id: 'k 1', env: PSEUDONYM_KEY}\n", "pseudonymization.keys[0].id: must be 1 to 32 letters"},
		{"duplicate id", "    - {id: k1, env: PSEUDONYM_KEY}\n    - {id: k1, file: /run/secrets/k1}\n", "mcpgate.yaml:4: pseudonymization.keys[1].id: duplicate id (also pseudonymization.keys[0])"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "pseudonymization:\n  keys:\n" + tt.keys + minimalURL
			c, err := Parse("mcpgate.yaml", []byte(src), look)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want it to contain %q", err, tt.err)
				}
				if strings.Contains(err.Error(), testKey) {
					t.Fatalf("error shows the key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			keys := c.Pseudonymization.PseudonymKeys()
			if len(keys) != 2 || keys[0].ID != "k2" || keys[1].ID != "k1" || len(keys[0].Secret) != 32 ||
				string(keys[0].Secret) != string(keys[1].Secret) {
				t.Fatalf("keys %+v", keys)
			}
			// However the Config is printed, the key stays out of it.
			for _, s := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
				if strings.Contains(s, "AAECAwQ") || strings.Contains(s, "[0 1 2 3") {
					t.Fatalf("printed config shows key material: %s", s)
				}
			}
		})
	}
}

func TestPseudonymErrorIsConfigError(t *testing.T) {
	_, err := Parse("mcpgate.yaml", []byte("pseudonymization:\n  keys:\n    - {id: k1}\n"+minimalURL), Lookup{})
	var e *Error
	if !errors.As(err, &e) || e.Line != 3 {
		t.Fatalf("error %v is not a *config.Error at line 3", err)
	}
}
