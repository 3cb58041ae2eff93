package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const checkPolicies = `@id("eng-tools")
permit (principal is mcpgate::User, action == mcpgate::Action::"tools/call", resource)
when { principal.groups.contains("eng") };

@id("no-destructive")
forbid (principal, action == mcpgate::Action::"tools/call", resource)
when { resource.annotations has destructiveHint && resource.annotations.destructiveHint };

@id("no-etc")
forbid (principal, action == mcpgate::Action::"tools/call", resource)
when { context.arguments has path && context.arguments.path like "/etc/*" };
`

func TestAuthzCheckAndValidate(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.cedar"), []byte(checkPolicies), 0o600)
	os.WriteFile(filepath.Join(dir, "broken.cedar"), []byte("permit (principal, action, resource)\nwhen { principal.secret_text_here ==  };\n"), 0o600)
	cfg := func(name, policies string) string {
		f := filepath.Join(dir, name)
		os.WriteFile(f, []byte("auth: {mode: anonymous}\nbackends:\n  - name: b\n    url: http://127.0.0.1:3001/mcp\nauthz:\n  mode: enforce\n  policies: ["+policies+"]\n"), 0o600)
		return f
	}
	good, broken := cfg("good.yaml", "p.cedar"), cfg("broken.yaml", "broken.cedar")
	eng := `{"sub":"alice","groups":["eng"]}`
	tests := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string
	}{
		{"group allow", []string{"authz", "check", "--config", good, "--principal", eng, "--method", "tools/call", "--target", "echo"},
			0, "decision: allow\nreason: permitted by policy\npolicies: eng-tools\n", ""},
		{"annotation forbid", []string{"authz", "check", "--config", good, "--principal", eng, "--method", "tools/call", "--target", "rm", "--annotations", `{"destructiveHint":true}`},
			1, "decision: deny\nreason: forbidden by policy\npolicies: no-destructive\n", ""},
		{"argument forbid", []string{"authz", "check", "--config", good, "--principal", eng, "--method", "tools/call", "--target", "read", "--arguments", `{"path":"/etc/shadow"}`},
			1, "policies: no-etc", ""},
		{"anonymous", []string{"authz", "check", "--config", good, "--method", "tools/call", "--target", "echo"},
			1, "decision: deny\nreason: no policy permits this request\n", ""},
		{"no target", []string{"authz", "check", "--config", good, "--method", "tools/call"}, exitUsage, "", "--target is required"},
		{"bad principal", []string{"authz", "check", "--config", good, "--principal", "{", "--method", "ping"}, exitUsage, "", "--principal"},
		{"broken policies", []string{"authz", "check", "--config", broken, "--method", "tools/call", "--target", "x"}, exitUsage, "", "broken.cedar:2:"},
		{"validate ok", []string{"validate", "--config", good}, 0, "good.yaml: ok", ""},
		{"validate broken", []string{"validate", "--config", broken}, 1, "", "broken.cedar:2:"},
		{"no subcommand", []string{"authz"}, exitUsage, "", "usage: mcpgate authz check"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.stderr)
			}
			if strings.Contains(stderr.String(), "secret_text_here") {
				t.Error("the error quotes the policy text")
			}
		})
	}
}
