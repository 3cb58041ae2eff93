// Package e2e runs the mcpgate binary against real MCP peers written by
// others: @modelcontextprotocol/server-everything (stdio and Streamable
// HTTP), the official Go SDK client, the TypeScript SDK client and the MCP
// Inspector CLI. The Node peers live in e2e/node and are pinned by its
// package-lock.json; run `npm ci` there before `go test ./e2e/`.
//
// Missing peers make the package FAIL (never skip): a skipped end-to-end
// check that is counted as a pass hides exactly the regressions these tests
// exist to catch.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
	// (harness_process_test.go).
	cmd := exec.CommandContext(ctx, "go", "build", "-race", "-o", gatewayBin, "github.com/mcpgate/mcpgate/cmd/mcpgate")
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
// Captured output

// lineBuf collects the lines a child process writes, for tests to search.
type lineBuf struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced on every new line
}

func newLineBuf() *lineBuf { return &lineBuf{changed: make(chan struct{})} }

func (b *lineBuf) add(line string) {
	b.mu.Lock()
	b.lines = append(b.lines, line)
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}

func (b *lineBuf) snapshot() ([]string, chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.lines...), b.changed
}

// Lines returns a copy of every line so far.
func (b *lineBuf) Lines() []string { l, _ := b.snapshot(); return l }

func (b *lineBuf) String() string { return strings.Join(b.Lines(), "\n") }

// waitFor waits until some line satisfies match, or timeout.
func (b *lineBuf) waitFor(timeout time.Duration, match func(string) bool) (string, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seen := 0
	for {
		lines, changed := b.snapshot()
		for _, l := range lines[seen:] {
			if match(l) {
				return l, true
			}
		}
		seen = len(lines)
		select {
		case <-changed:
		case <-deadline.C:
			return "", false
		}
	}
}

// pump copies r into b line by line until EOF; done is closed then.
func pump(r io.Reader, b *lineBuf, done chan<- struct{}) {
	defer close(done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		b.add(sc.Text())
	}
	// Drain whatever is left (a line too long for the scanner) so the
	// child never blocks on a full pipe.
	_, _ = io.Copy(io.Discard, r)
}

// ---------------------------------------------------------------------------
// The gateway process

// gateway is a running mcpgate process.
type gateway struct {
	Base  string // http://127.0.0.1:PORT
	URL   string // Base + "/mcp"
	Admin string // http://ADDR of the admin listener, "" when disabled
	Log   *lineBuf
	cmd   *exec.Cmd
}

// backendSpec is the YAML of the one backend a gateway fronts.
type backendSpec struct {
	kind string // "stdio" or "http"
	url  string // the HTTP backend's URL
	yaml string
}

func stdioBackend() backendSpec {
	return backendSpec{kind: "stdio", yaml: fmt.Sprintf(`
  - name: everything
    command: [%q, %q, "stdio"]
`, nodeBin, everythingJS)}
}

func httpBackend(url string) backendSpec {
	return backendSpec{kind: "http", url: url, yaml: fmt.Sprintf(`
  - name: everything
    url: %q
`, url)}
}

// gatewayOpts tunes the generated configuration.
type gatewayOpts struct {
	admin bool   // enable the admin listener on a free loopback port
	extra string // more top-level YAML
}

// startGateway writes a config for backend and starts mcpgate on a free
// loopback port. At cleanup it sends SIGTERM and asserts a clean exit (status
// 0) within gatewayStopTimeout.
func startGateway(t *testing.T, backend backendSpec, opts gatewayOpts) *gateway {
	t.Helper()
	admin := `""`
	if opts.admin {
		// listen and admin.listen must differ as written, so the admin
		// listener takes a free port on another loopback address.
		admin = `"127.0.0.2:0"`
	}
	// Every request is logged: the tests read the request lines.
	cfg := fmt.Sprintf("listen: 127.0.0.1:0\nadmin: {listen: %s}\nlog: {requests: all}\nauth: {mode: anonymous}\n%sbackends:%s",
		admin, opts.extra, backend.yaml)
	path := filepath.Join(t.TempDir(), "mcpgate.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return startGatewayArgs(t, "serve", "--config", path)
}

// startGatewayArgs starts mcpgate with args and waits for its
// "mcpgate serving" line.
func startGatewayArgs(t *testing.T, args ...string) *gateway {
	t.Helper()
	g, err := tryStartGateway(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// errExited reports a gateway that exited before serving.
type errExited struct{ log string }

func (e *errExited) Error() string { return "mcpgate exited before serving; log:\n" + e.log }

// tryStartGateway starts mcpgate and waits for its "mcpgate serving" line:
// startGatewayEnv with no extra environment.
func tryStartGateway(t *testing.T, args ...string) (*gateway, error) {
	return startGatewayEnv(t, nil, args...)
}

// logEntry is one "msg":"request" log line.
type logEntry map[string]any

func (e logEntry) str(k string) string {
	switch v := e[k].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

func (e logEntry) status() int { n, _ := strconv.Atoi(e.str("status")); return n }

// requests returns the gateway's request log lines, in order.
func (g *gateway) requests() []logEntry {
	var out []logEntry
	for _, l := range g.Log.Lines() {
		if !strings.Contains(l, `"msg":"request"`) {
			continue
		}
		var e logEntry
		if json.Unmarshal([]byte(l), &e) == nil && e["msg"] == "request" {
			out = append(out, e)
		}
	}
	return out
}

// waitRequest waits for a request log line satisfying match.
func (g *gateway) waitRequest(t *testing.T, what string, match func(logEntry) bool) logEntry {
	t.Helper()
	var found logEntry
	_, ok := g.Log.waitFor(10*time.Second, func(l string) bool {
		if !strings.Contains(l, `"msg":"request"`) {
			return false
		}
		var e logEntry
		if json.Unmarshal([]byte(l), &e) != nil || !match(e) {
			return false
		}
		found = e
		return true
	})
	if !ok {
		t.Errorf("gateway logged no request line for %s; request lines:\n%s", what, g.requestLog())
	}
	return found
}

// waitRequestAfter waits for a request log line, among those after the
// first skip request lines, that satisfies match.
func (g *gateway) waitRequestAfter(t *testing.T, what string, skip int, match func(logEntry) bool) logEntry {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		lines, changed := g.Log.snapshot()
		n := 0
		for _, l := range lines {
			if !strings.Contains(l, `"msg":"request"`) {
				continue
			}
			var e logEntry
			if json.Unmarshal([]byte(l), &e) != nil || e["msg"] != "request" {
				continue
			}
			if n++; n > skip && match(e) {
				return e
			}
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Errorf("gateway logged no request line for %s; request lines:\n%s", what, g.requestLog())
			return nil
		}
	}
}

func (g *gateway) requestLog() string {
	var b strings.Builder
	for _, l := range g.Log.Lines() {
		if strings.Contains(l, `"msg":"request"`) {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return tail(b.String(), 6000)
}

// readyz returns the admin listener's /readyz detail.
func (g *gateway) readyz(t *testing.T) readyDetail {
	t.Helper()
	if g.Admin == "" {
		t.Fatal("gateway started without an admin listener")
	}
	var d readyDetail
	resp, err := http.Get(g.Admin + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatalf("GET /readyz: status %d, decoding: %v", resp.StatusCode, err)
	}
	return d
}

type readyDetail struct {
	Draining bool `json:"draining"`
	Backends []struct {
		Name     string `json:"name"`
		Kind     string `json:"kind"`
		Sessions *int   `json:"sessions"`
	} `json:"backends"`
}

// waitSessions polls /readyz until the stdio backend reports want sessions.
func (g *gateway) waitSessions(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	last := -1
	for time.Now().Before(deadline) {
		d := g.readyz(t)
		if len(d.Backends) != 1 || d.Backends[0].Sessions == nil {
			t.Fatalf("/readyz detail has no backends[0].sessions: %+v", d)
		}
		if last = *d.Backends[0].Sessions; last == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("/readyz: backends[0].sessions = %d, want %d", last, want)
}

// childPID returns the pid of the stdio child serving session sid, from the
// gateway's "stdio server stderr" lines (server-everything writes a start-up
// line on stderr), waiting for it up to 10s.
func (g *gateway) childPID(t *testing.T, sid string) int {
	t.Helper()
	// Log lines name a session by its ref, never by its id (a capability).
	ref := audRef(sid)
	var pid int
	_, ok := g.Log.waitFor(10*time.Second, func(l string) bool {
		if !strings.Contains(l, `"msg":"stdio server stderr"`) {
			return false
		}
		var e struct {
			Session string `json:"session"`
			PID     int    `json:"pid"`
		}
		if json.Unmarshal([]byte(l), &e) != nil || e.PID == 0 || e.Session != ref {
			return false
		}
		pid = e.PID
		return true
	})
	if !ok {
		t.Fatalf("no \"stdio server stderr\" line names session %s (ref %s) and its pid", sid, ref)
	}
	return pid
}

// waitProcessGone waits until pid no longer exists.
func waitProcessGone(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("%s (pid %d) is still running 10s later", what, pid)
}

// ---------------------------------------------------------------------------
// server-everything over Streamable HTTP

// startEverythingHTTP starts server-everything in streamableHttp mode on a
// free 127.0.0.1 port and returns its MCP URL once it accepts connections.
func startEverythingHTTP(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(nodeBin, filepath.Join(nodeDir, "everything-http.mjs"))
	cmd.Dir = nodeDir
	cmd.Env = append(os.Environ(), "PORT=0")
	logs := newLineBuf()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard // it logs every request on stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting server-everything: %v", err)
	}
	pumped := make(chan struct{})
	go pump(stderr, logs, pumped)
	waited := make(chan error, 1)
	go func() { <-pumped; waited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-waited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-waited
		}
	})
	re := regexp.MustCompile(`^E2E_LISTENING (\d+)$`)
	line, ok := logs.waitFor(peerStartTimeout, func(l string) bool { return re.MatchString(l) })
	if !ok {
		t.Fatalf("server-everything (streamableHttp) did not start within %v:\n%s", peerStartTimeout, logs.String())
	}
	addr := "127.0.0.1:" + re.FindStringSubmatch(line)[1]
	deadline := time.Now().Add(peerStartTimeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server-everything does not accept on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "http://" + addr + "/mcp"
}

// backendCase is one backend kind a test body runs against.
type backendCase struct {
	name  string
	start func(t *testing.T) backendSpec
}

// backends lists the two relay backends: a stdio child per session, and
// server-everything over Streamable HTTP.
func backends() []backendCase {
	return []backendCase{
		{"stdio", func(*testing.T) backendSpec { return stdioBackend() }},
		{"http", func(t *testing.T) backendSpec { return httpBackend(startEverythingHTTP(t)) }},
	}
}

// ---------------------------------------------------------------------------
// Small helpers

// freeClosedPort returns a loopback port that nothing listens on.
func freeClosedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

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
