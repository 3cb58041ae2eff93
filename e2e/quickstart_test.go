package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestQuickstartAPIKey runs `scripts/quickstart.sh --demo` (the command
// README.md puts at the top) on a free port and checks what it shows: a call
// without the API key refused with 401 and a Bearer challenge, then MCP calls
// with the key that work (curl echo, inspector get-sum).
//
// Not parallel: the script runs ensure_node_peers, which reinstalls
// e2e/node/node_modules when its stamp is stale, and must not do so under
// tests that are using those packages. Sequential tests run before the
// parallel ones start.
func TestQuickstartAPIKey(t *testing.T) {
	root := filepath.Dir(filepath.Dir(nodeDir))
	port, adminPort := freeClosedPort(t), freeClosedPort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "quickstart.sh"), "--demo")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), fmt.Sprintf("MCPGATE_LISTEN=127.0.0.1:%d", port), fmt.Sprintf("MCPGATE_ADMIN=127.0.0.1:%d", adminPort))
	// Its own process group, so that a timeout also ends the gateway and the
	// server the script started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("scripts/quickstart.sh --demo took %v", time.Since(start).Round(time.Millisecond))
	text := out.String()
	if err != nil {
		t.Fatalf("scripts/quickstart.sh --demo: %v (context: %v)\noutput:\n%s", err, ctx.Err(), tail(text, 8000))
	}
	challenge := fmt.Sprintf(`Bearer resource_metadata="http://127.0.0.1:%d/.well-known/oauth-protected-resource/mcp"`, port)
	want := []string{
		"mode: apiKey",
		`- {subject: "quickstart-user", sha256: `,
		"HTTP/1.1 401 Unauthorized",
		challenge,
		`"error":{"code":-32000`,
		"HTTP/1.1 200 OK",
		"Mcp-Session-Id: ",
		"Echo: hello through mcpgate",
		"HTTP 204",
		"The sum of 2 and 3 is 5.",
		`"reason":"unauthenticated","detail":"no credential presented"`,
		`"Name":"tools/call echo"`,
		`mcp_server_operation_duration_seconds_count{`,
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("the quickstart output lacks %q", w)
		}
	}
	// The 401 comes before the calls with the key.
	if i, j := strings.Index(text, "401 Unauthorized"), strings.Index(text, "Echo: hello through mcpgate"); i < 0 || j < 0 || i > j {
		t.Errorf("the 401 (at %d) is not shown before the successful echo (at %d)", i, j)
	}
	if t.Failed() {
		t.Logf("output:\n%s", tail(text, 8000))
	}
}
