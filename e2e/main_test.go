// Package e2e runs the mcpgate binary against real MCP peers written by
// others: @modelcontextprotocol/server-everything (stdio and Streamable
// HTTP), the official Go SDK client, the TypeScript SDK client and the MCP
// Inspector CLI. The Node peers live in e2e/node and are pinned by its
// package-lock.json; run `npm ci` there before `go test ./e2e/`.
//
// Missing peers make the package FAIL (never skip): a skipped end-to-end
// check that is counted as a pass hides exactly the regressions these tests
// exist to catch.
//
// TestMain builds the gateway once, with -race: every test race-checks it,
// and a race report in a gateway's stderr fails the test that started it.
// The harness the tests share is in the harness_*_test.go files: the one
// process type (process), the gateway and its start (gateway), the one way
// to write its configuration (config), the peers it talks to (peers,
// jaeger, otlp), and MCP over raw HTTP (mcp). The fake OpenID provider is
// internal/testidp, shared with internal/authn's tests.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"
)

var (
	// gatewayBin is the mcpgate binary built once by TestMain.
	gatewayBin string
	// nodeDir is the absolute path of e2e/node.
	nodeDir string
	// nodeBin is the node executable.
	nodeBin string
	// everythingJS is server-everything's entry point.
	everythingJS string
)

const (
	gatewayStartTimeout = 20 * time.Second
	gatewayStopTimeout  = 15 * time.Second
	peerStartTimeout    = 30 * time.Second
	// callTimeout bounds any one test's MCP traffic.
	callTimeout = 60 * time.Second
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if err := findPeers(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: e2e peers are not installed: %v\n"+
			"  The end-to-end tests need the Node packages pinned in e2e/node/package-lock.json.\n"+
			"  Run:  (cd e2e/node && npm ci)\n", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "mcpgate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	gatewayBin = filepath.Join(dir, "mcpgate")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The gateway is built with the race detector, so that every end-to-end
	// test (the soak and the fault suites included) also race-checks it; a
	// report in a gateway's stderr fails the test that started it
	// (startGatewayEnv). MCPGATE_E2E_RACE=0 builds it without, for the
	// throughput figures of a long soak (docs/operations.md).
	build := []string{"build", "-race", "-o", gatewayBin, "github.com/mcpgate/mcpgate/cmd/mcpgate"}
	if os.Getenv("MCPGATE_E2E_RACE") == "0" {
		build = slices.Delete(build, 1, 2)
	}
	cmd := exec.CommandContext(ctx, "go", build...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: building mcpgate:", err)
		return 1
	}
	return m.Run()
}

// findPeers locates node and the e2e/node packages; an error means the
// developer has not run `npm ci` in e2e/node (or has no node on PATH).
func findPeers() error {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return errors.New("cannot locate the e2e source directory")
	}
	nodeDir = filepath.Join(filepath.Dir(file), "node")
	var err error
	if nodeBin, err = exec.LookPath("node"); err != nil {
		return fmt.Errorf("node is not on PATH (Node ≥ 20 is needed): %w", err)
	}
	need := []string{
		"node_modules/@modelcontextprotocol/server-everything/dist/index.js",
		"node_modules/@modelcontextprotocol/sdk/package.json",
		"node_modules/@modelcontextprotocol/inspector/package.json",
		"node_modules/.bin/mcp-inspector",
	}
	for _, p := range need {
		if _, err := os.Stat(filepath.Join(nodeDir, p)); err != nil {
			return fmt.Errorf("e2e/node/%s is missing", p)
		}
	}
	everythingJS = filepath.Join(nodeDir, need[0])
	return nil
}

// ---------------------------------------------------------------------------
// Small helpers

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// runNode runs a node script or binary with a bounded time and returns
// stdout; stderr is included in failures.
func runNode(t *testing.T, timeout time.Duration, env []string, args ...string) (stdout string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = nodeDir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", timeout, err)
	}
	if err != nil {
		err = fmt.Errorf("%v: %w\nstdout:\n%s\nstderr:\n%s", args, err, tail(out.String(), 4000), tail(errb.String(), 4000))
	}
	return out.String(), err
}
