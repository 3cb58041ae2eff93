package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/internal/authn"
)

func TestAPIKeyNew(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"apikey", "new", "--subject", "ci-bot", "--groups", "ci, deploy"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, &stderr)
	}
	out := stdout.String()
	key := regexp.MustCompile(`mcpg_[A-Za-z0-9_-]{43}`).FindString(out)
	entry := regexp.MustCompile(`    - \{subject: "ci-bot", sha256: ([0-9a-f]{64}), groups: \["ci", "deploy"\]\}`).FindStringSubmatch(out)
	if key == "" || entry == nil || !strings.Contains(out, "shown once") {
		t.Fatalf("output:\n%s", out)
	}
	if entry[1] != authn.Digest(key) {
		t.Errorf("digest %s is not the key's", entry[1])
	}

	// The printed entry is a valid config.
	cfg := "backends:\n  - name: b\n    url: http://127.0.0.1:3001/mcp\nauth:\n  mode: apiKey\n  resource: http://127.0.0.1:8080/mcp\n  apiKeys:\n" + entry[0] + "\n"
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte(cfg), 0o600)
	stdout.Reset()
	if code := run([]string{"validate", "--config", file}, &stdout, &stderr); code != 0 {
		t.Errorf("printed entry does not validate: %s", &stderr)
	}

	for _, args := range [][]string{{"apikey"}, {"apikey", "old"}, {"apikey", "new"}, {"apikey", "new", "--subject", "a", "extra"}} {
		stderr.Reset()
		if code := run(args, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "usage: mcpgate apikey new") {
			t.Errorf("%v: exit %d, stderr %q", args, code, &stderr)
		}
	}
}
