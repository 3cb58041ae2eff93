package e2e

// The gateway under test: starting mcpgate (always the race-built binary of
// TestMain), reading its log lines and its admin endpoint.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// ---------------------------------------------------------------------------
// The gateway process

// gateway is a running mcpgate process.
type gateway struct {
	*proc
	Base  string // http://127.0.0.1:PORT
	URL   string // Base + "/mcp"
	Admin string // http://ADDR of the admin listener, "" when disabled
	// killed is set by a test that SIGKILLs the gateway on purpose: its
	// cleanup then does not require a clean exit.
	killed atomic.Bool
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
type errExited struct {
	log string
	err error // how it exited
}

func (e *errExited) Error() string {
	return fmt.Sprintf("mcpgate exited before serving (%v); log:\n%s", e.err, e.log)
}

// tryStartGateway starts mcpgate and waits for its "mcpgate serving" line:
// startGatewayEnv with no extra environment.
func tryStartGateway(t *testing.T, args ...string) (*gateway, error) {
	return startGatewayEnv(t, nil, args...)
}

// startGatewayEnv is startGatewayArgs with extra environment variables
// (NAME=value). The child gets the test's environment minus every OTEL_*
// variable, MCPGATE_USER_ATTRIBUTION and GORACE, so that a developer's shell
// cannot change what these tests assert, plus env. It waits for the
// "mcpgate serving" line and, at cleanup, stops the gateway with SIGTERM and
// asserts a clean exit within gatewayStopTimeout and no report of the race
// detector.
//
// It only uses goroutine-safe methods of t until it returns an error, so it
// can be called from the subtests of a shared fixture.
func startGatewayEnv(t *testing.T, env []string, args ...string) (*gateway, error) {
	t.Helper()
	cmd := exec.Command(gatewayBin, args...)
	cmd.Dir = t.TempDir()
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "OTEL_") || strings.HasPrefix(kv, "MCPGATE_USER_ATTRIBUTION=") || strings.HasPrefix(kv, "GORACE=") {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	// The race detector's reports go to stderr (the gateway's log, which
	// raceReport reads) and make the exit status 66.
	cmd.Env = append(cmd.Env, "GORACE=exitcode=66")
	cmd.Env = append(cmd.Env, env...)
	p, err := startProc(cmd)
	if err != nil {
		return nil, err
	}
	g := &gateway{proc: p}

	serving := make(chan string, 1)
	go func() {
		if l, ok := g.Log.waitFor(gatewayStartTimeout, func(l string) bool {
			return strings.Contains(l, `"msg":"mcpgate serving"`)
		}); ok {
			serving <- l
		}
		close(serving)
	}()
	var line string
	select {
	case line = <-serving:
	case <-p.done:
		return nil, &errExited{log: g.Log.String(), err: p.exitErr}
	}
	if line == "" {
		_ = cmd.Process.Kill()
		<-p.done
		return nil, fmt.Errorf("mcpgate did not log \"mcpgate serving\" within %v\nlog:\n%s", gatewayStartTimeout, g.Log.String())
	}
	t.Cleanup(func() {
		termAt := time.Now()
		if err := g.stop(); err != nil && !g.killed.Load() {
			t.Errorf("mcpgate did not exit cleanly after SIGTERM: %v\nlog:\n%s", err, tail(g.Log.String(), 64000))
		} else if d := time.Since(termAt); d > 2*time.Second {
			t.Logf("mcpgate took %v to exit after SIGTERM", d.Round(time.Millisecond))
		}
		if r := g.raceReport(); r != "" {
			t.Errorf("the race detector reported a data race in mcpgate:\n%s", tail(r, 16000))
		}
		if t.Failed() {
			t.Logf("gateway log:\n%s", tail(g.Log.String(), 8000))
		}
	})
	var sv struct{ Listen, Path, Admin string }
	if err := json.Unmarshal([]byte(line), &sv); err != nil || sv.Listen == "" {
		return nil, fmt.Errorf("cannot parse the serving line %q: %v", line, err)
	}
	if sv.Path == "" {
		sv.Path = "/mcp"
	}
	g.Base = "http://" + sv.Listen
	g.URL = g.Base + sv.Path
	if sv.Admin != "" && sv.Admin != "<nil>" {
		g.Admin = "http://" + sv.Admin
	}
	return g, nil
}

// stop ends the gateway with SIGTERM and returns how it exited (nil: status
// 0), killing it when it has not exited within gatewayStopTimeout; later
// calls return the same.
func (g *gateway) stop() error { return g.proc.stop(gatewayStopTimeout) }

// startGatewayConfig writes cfg (see gatewayConfig) to a file and starts
// `mcpgate serve --config` with env added, failing the test when it does
// not serve.
func startGatewayConfig(t *testing.T, env []string, cfg string) *gateway {
	t.Helper()
	g, err := startGatewayEnv(t, env, "serve", "--config", writeConfig(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	return g
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
	ref := sessionRef(sid)
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

// auditReadyz is GET /readyz on the admin listener: the status and the
// "audit" member of the detail.
func (g *gateway) auditReadyz(t *testing.T) (int, auditHealth) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(g.Admin + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	defer resp.Body.Close()
	var d struct {
		Audit *auditHealth `json:"audit"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatalf("GET /readyz: status %d, decoding: %v", resp.StatusCode, err)
	}
	if d.Audit == nil {
		t.Fatalf("GET /readyz: no \"audit\" member in the detail")
	}
	return resp.StatusCode, *d.Audit
}

// auditHealth is the "audit" member of /readyz.
type auditHealth struct {
	Healthy    bool   `json:"healthy"`
	FailClosed bool   `json:"failClosed"`
	Dropped    int64  `json:"dropped"`
	Lost       int64  `json:"lost"`
	Errors     int64  `json:"errors"`
	Error      string `json:"error"`
}

// waitAuditReady polls /readyz (at most 10s) until ok accepts it.
func (g *gateway) waitAuditReady(t *testing.T, what string, ok func(status int, h auditHealth) bool) (int, auditHealth) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, h := g.auditReadyz(t)
		if ok(status, h) {
			return status, h
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz: %s not within 10s; last: status %d, audit %+v", what, status, h)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
