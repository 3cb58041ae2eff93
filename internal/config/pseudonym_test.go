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
		Stat: func(path string) (fs.FileInfo, error) {
			if path == "/run/secrets/k1" {
				return fakeFileInfo{name: "k1", mode: 0o400}, nil
			}
			return nil, &fs.PathError{Op: "stat", Path: path, Err: fs.ErrNotExist}
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

func TestUserAttribution(t *testing.T) {
	look := Lookup{Getenv: func(n string) (string, bool) { return testKey, n == "K" }}
	keys := "pseudonymization: {keys: [{id: k1, env: K}]}\n"
	tests := []struct {
		name, src, want, err string
	}{
		{"default is off", minimalURL, "off", ""},
		{"raw", "telemetry: {userAttribution: raw}\n" + minimalURL, "raw", ""},
		{"hashed with a key", keys + "telemetry: {userAttribution: hashed}\n" + minimalURL, "hashed", ""},
		{"hashed without a key", "telemetry: {userAttribution: hashed}\n" + minimalURL, "", "mcpgate.yaml:1: telemetry.userAttribution: hashed needs a pseudonymization key"},
		{"unknown mode", "telemetry: {userAttribution: on}\n" + minimalURL, "", "telemetry.userAttribution: must be one of off, hashed, raw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("mcpgate.yaml", []byte(tt.src), look)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Telemetry.UserAttribution != tt.want {
				t.Fatalf("userAttribution %q, want %q", c.Telemetry.UserAttribution, tt.want)
			}
		})
	}
}

func TestSetUserAttribution(t *testing.T) {
	c := mustParse(t, minimalURL)
	if err := c.SetUserAttribution("raw", "--user-attribution"); err != nil || c.Telemetry.UserAttribution != "raw" {
		t.Fatalf("raw: %v, %q", err, c.Telemetry.UserAttribution)
	}
	if err := c.SetUserAttribution("hashed", "MCPGATE_USER_ATTRIBUTION"); err == nil ||
		!strings.Contains(err.Error(), "MCPGATE_USER_ATTRIBUTION: hashed user attribution needs a pseudonymization key") {
		t.Fatalf("hashed without keys: %v", err)
	}
	if err := c.SetUserAttribution("yes", "--user-attribution"); err == nil || !strings.Contains(err.Error(), `--user-attribution: unknown user attribution "yes"`) {
		t.Fatalf("bad value: %v", err)
	}
	if c.Telemetry.UserAttribution != "raw" {
		t.Fatalf("a refused override changed the mode to %q", c.Telemetry.UserAttribution)
	}
}
