package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("auth: {mode: anonymous}\nbackends:\n  - name: b\n    url: http://127.0.0.1:3001/mcp\n"), 0o600)
	os.WriteFile(bad, []byte("auth: {mode: anonymous}\nupstreams: []\n"), 0o600)
	// Secret files readable by others (0644, what a umask of 022 gives
	// "mcpgate keygen > key"): refused by validate and at start.
	openKey, openRef := filepath.Join(dir, "open.key"), filepath.Join(dir, "open.secret")
	os.WriteFile(openKey, []byte("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"), 0o600)
	os.WriteFile(openRef, []byte("s3cret\n"), 0o600)
	os.Chmod(openKey, 0o644)
	os.Chmod(openRef, 0o644)
	keyCfg, refCfg := filepath.Join(dir, "key.yaml"), filepath.Join(dir, "ref.yaml")
	os.WriteFile(keyCfg, []byte("pseudonymization: {keys: [{id: k1, file: open.key}]}\nauth: {mode: anonymous}\nbackends:\n  - name: b\n    url: http://127.0.0.1:3001/mcp\n"), 0o600)
	os.WriteFile(refCfg, []byte("auth: {mode: anonymous}\nbackends:\n  - name: b\n    url: http://127.0.0.1:3001/mcp\n    headers: {Authorization: \"Bearer ${file:open.secret}\"}\n"), 0o600)
	keyErr := `key.yaml:1: pseudonymization.keys[0].file: key file "` + openKey + `" has mode 0644: group or others can access it, and it holds a secret; run: chmod 600 ` + openKey
	refErr := `ref.yaml:5: backends[0].headers.Authorization: file "` + openRef + `" referenced as ${file:open.secret} has mode 0644: group or others can access it, and it holds a secret; run: chmod 600 ` + openRef

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"no arguments", nil, exitUsage, "", "Usage:"},
		{"help", []string{"help"}, 0, "Usage:", ""},
		{"version", []string{"version"}, 0, "mcpgate ", ""},
		{"unknown command", []string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{"validate good file", []string{"validate", "--config", good}, 0, "good.yaml: ok", ""},
		{"validate names file, line and key", []string{"validate", "--config", bad}, 1, "", `bad.yaml:2: unknown key "upstreams"`},
		{"validate without --config", []string{"validate"}, exitUsage, "", "usage: mcpgate validate --config FILE"},
		{"serve with nothing to serve", []string{"serve"}, 1, "", "nothing to serve"},
		{"serve upstream and command", []string{"serve", "--upstream", "http://127.0.0.1:1/mcp", "--", "cat"}, 1, "", "not both"},
		{"serve config and upstream", []string{"serve", "--config", good, "--upstream", "http://127.0.0.1:1/mcp"}, 1, "", "cannot be combined"},
		{"serve config and admin", []string{"serve", "--config", good, "--admin", ""}, 1, "", "--admin cannot be combined with --config"},
		{"no-file form refuses a public listener", []string{"serve", "--listen", "0.0.0.0:8080", "--upstream", "http://127.0.0.1:1/mcp"}, 1, "", "not a loopback address"},
		{"no-file form refuses a public admin listener", []string{"serve", "--admin", "0.0.0.0:9464", "--upstream", "http://127.0.0.1:1/mcp"}, 1, "", "--admin"},
		{"serve with a bad file", []string{"serve", "--config", bad}, 1, "", `unknown key "upstreams"`},
		{"validate refuses an open key file", []string{"validate", "--config", keyCfg}, 1, "", keyErr},
		{"serve refuses an open key file", []string{"serve", "--config", keyCfg}, 1, "", keyErr},
		{"validate refuses an open ${file:} secret", []string{"validate", "--config", refCfg}, 1, "", refErr},
		{"serve refuses an open ${file:} secret", []string{"serve", "--config", refCfg}, 1, "", refErr},
		{"inherit-env with upstream", []string{"serve", "--inherit-env", "TOKEN", "--upstream", "http://127.0.0.1:1/mcp"}, 1, "", "--inherit-env only applies to the no-file command form"},
		{"inherit-env with config", []string{"serve", "--config", good, "--inherit-env", "TOKEN"}, 1, "", "--inherit-env only applies to the no-file command form"},
		{"inherit-env bad name", []string{"serve", "--inherit-env", "OK,A=B", "--", "cat"}, 1, "", `--inherit-env: invalid environment variable name "A=B"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, &stdout, &stderr)
			}
			if !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout %q does not contain %q", &stdout, tt.stdout)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q does not contain %q", &stderr, tt.stderr)
			}
		})
	}
}

func TestUserAttributionOverrides(t *testing.T) {
	dir := t.TempDir()
	keyed := filepath.Join(dir, "keyed.yaml")
	os.WriteFile(filepath.Join(dir, "k1"), []byte("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"), 0o600)
	os.WriteFile(keyed, []byte("pseudonymization: {keys: [{id: k1, file: k1}]}\ntelemetry: {userAttribution: raw}\n"+
		"auth: {mode: anonymous}\nbackends:\n  - {name: b, url: 'http://127.0.0.1:1/mcp'}\n"), 0o600)
	tests := []struct {
		name, env, flag, want, err string
	}{
		{"file only", "", "", "raw", ""},
		{"env beats file", "hashed", "", "hashed", ""},
		{"flag beats env", "hashed", "off", "off", ""},
		{"bad env value", "yes", "", "", "MCPGATE_USER_ATTRIBUTION: unknown user attribution"},
		{"bad flag value", "", "on", "", "--user-attribution: unknown user attribution"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envUserAttribution, tt.env)
			cfg, err := loadConfig(keyed, "", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			err = overrideUserAttribution(cfg, tt.flag)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || cfg.Telemetry.UserAttribution != tt.want {
				t.Fatalf("mode %q (%v), want %q", cfg.Telemetry.UserAttribution, err, tt.want)
			}
		})
	}
	// No-file forms have no keys: hashed is refused with a clear reason.
	var stdout, stderr bytes.Buffer
	if code := run([]string{"serve", "--user-attribution", "hashed", "--upstream", "http://127.0.0.1:1/mcp"}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "needs a pseudonymization key") {
		t.Fatalf("hashed without keys: exit %d, %s", code, &stderr)
	}
}
