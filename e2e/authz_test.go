package e2e

// End-to-end tests of authorization (docs/authorization.md): the gateway
// binary with Cedar policies in front of server-everything (stdio and
// Streamable HTTP) and, aggregated, a Go SDK backend; the official Go SDK
// as the client. Every helper here starts with "az".

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The subjects of the test principals: the leak checks look for them.
const (
	azEng        = "az-alice-subject-5d1e"
	azContractor = "az-carol-subject-81bc"
)

// azPolicies are the policies of the relay tests:
//   - engineers may call every tool (group-based allow) ...
//   - ... but nobody get-env (a forbid overriding that permit);
//   - contractors only tools the backend says are read-only (annotations);
//   - nobody may echo a message holding "secret" (arguments);
//   - anonymous callers only echo.
const azPolicies = `@id("eng-tools")
permit (principal is mcpgate::User, action == mcpgate::Action::"tools/call", resource)
when { principal.groups.contains("eng") };

@id("no-env")
forbid (principal, action == mcpgate::Action::"tools/call", resource == mcpgate::Tool::"get-env");

@id("contractors-read-only")
permit (principal is mcpgate::User, action == mcpgate::Action::"tools/call", resource)
when { principal.groups.contains("contractors") &&
       resource.annotations has readOnlyHint && resource.annotations.readOnlyHint };

@id("no-secret-echo")
forbid (principal, action == mcpgate::Action::"tools/call", resource == mcpgate::Tool::"echo")
when { context.arguments has message && context.arguments.message like "*secret*" };

@id("anon-echo")
permit (principal is mcpgate::Anonymous, action == mcpgate::Action::"tools/call", resource == mcpgate::Tool::"echo");
`

// azKey makes an API key for subject in groups.
func azKey(t *testing.T, subject string, groups ...string) apiKey {
	t.Helper()
	args := []string{"apikey", "new", "--subject", subject}
	if len(groups) > 0 {
		args = append(args, "--groups", strings.Join(groups, ","))
	}
	out, err := exec.Command(gatewayBin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("mcpgate apikey new: %v\n%s", err, out)
	}
	m := apikeyRe.FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("no key in the output of mcpgate apikey new:\n%s", out)
	}
	return apiKey{Key: m[1], Entry: m[2]}
}

// azFixture is a gateway with authz on, its policy file, audit log and keys.
type azFixture struct {
	*gateway
	policies, audit string
	eng, contractor apiKey
}

// azStart starts the gateway in mode with policies in front of backends,
// with API keys for an engineer and a contractor, anonymous callers
// admitted, the audit log on with hashed principals, Prometheus metrics on
// the admin listener.
func azStart(t *testing.T, mode, policies string, backends ...backendSpec) *azFixture {
	t.Helper()
	return azStartTelemetry(t, mode, policies, "", backends...)
}

// azStartTelemetry is azStart with more lines of the telemetry block
// (each indented by two, ending in "\n").
func azStartTelemetry(t *testing.T, mode, policies, telemetry string, backends ...backendSpec) *azFixture {
	t.Helper()
	dir := t.TempDir()
	f := &azFixture{policies: filepath.Join(dir, "policies.cedar"), audit: filepath.Join(dir, "audit.jsonl"),
		eng: azKey(t, azEng, "eng"), contractor: azKey(t, azContractor, "contractors")}
	if err := os.WriteFile(f.policies, []byte(policies), 0o600); err != nil {
		t.Fatal(err)
	}
	_, key := writePseudonymKey(t, dir, "k1")
	c := gatewayConfig{
		admin: adminOn,
		auth: "\n  mode: [apiKey, anonymous]\n  resource: https://gw.example.com/mcp\n  apiKeys:\n" +
			apiKeyEntries([]apiKey{f.eng, f.contractor}),
		extra: fmt.Sprintf(`pseudonymization: {keys: [{id: k1, file: %q}]}
audit: {enabled: true, sink: %q, principal: hashed, fsync: always}
telemetry:
  metrics: {exporter: prometheus}
%sauthz:
  mode: %s
  policies: [%q]
`, key, f.audit, telemetry, mode, f.policies),
		backends: backends,
	}
	f.gateway = startGatewayConfig(t, nil, c.String())
	return f
}

// azHeader adds the API key to every request of the client.
type azHeader struct{ key string }

func (h azHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	if h.key != "" {
		r = r.Clone(r.Context())
		r.Header.Set("X-Api-Key", h.key)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// azConnect opens a Go SDK session as the holder of key ("" anonymous).
func azConnect(ctx context.Context, t *testing.T, url, key string) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "e2e-authz", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, MaxRetries: -1,
		HTTPClient: &http.Client{Transport: azHeader{key}}}, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// azTools lists the tool names the session sees.
func azTools(ctx context.Context, t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
	}
	slices.Sort(names)
	return names
}

// azCall calls tool and returns the error the client got (nil: a result).
func azCall(ctx context.Context, cs *mcp.ClientSession, tool string, args map[string]any) error {
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err == nil && res.IsError {
		return fmt.Errorf("tool error: %s", textOf(res))
	}
	return err
}

// azAllowed and azDenied check a call's fate.
func azAllowed(ctx context.Context, t *testing.T, cs *mcp.ClientSession, who, tool string, args map[string]any) {
	t.Helper()
	if err := azCall(ctx, cs, tool, args); err != nil {
		t.Errorf("%s: %s %v: %v, want a result", who, tool, args, err)
	}
}

func azDenied(ctx context.Context, t *testing.T, cs *mcp.ClientSession, who, tool string, args map[string]any) {
	t.Helper()
	err := azCall(ctx, cs, tool, args)
	want := fmt.Sprintf("access denied: tools/call %q", tool)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: %s %v: %v, want an error saying %s", who, tool, args, err, want)
	}
}

// azEvents reads the audit log's events, waiting (boundedly) until done
// says they are all there: the log is written by its own goroutine.
func (f *azFixture) azEvents(t *testing.T, done func([]auditEvent) bool) []auditEvent {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(f.audit)
		evs := parseAuditLog(t, "audit log", data)
		if done(evs) || time.Now().After(deadline) {
			return evs
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// azCount counts the events with member path equal to value.
func azCount(evs []auditEvent, path, value string) int {
	n := 0
	for _, e := range evs {
		if e.str(path) == value {
			n++
		}
	}
	return n
}

// azLeakCheck: no log line, audit event or metric carries a subject.
func (f *azFixture) azLeakCheck(t *testing.T) {
	t.Helper()
	audit, _ := os.ReadFile(f.audit)
	metrics := ""
	if resp, err := http.Get(f.Admin + "/metrics"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		metrics = string(b)
	}
	if !strings.Contains(metrics, "mcpgate_authz_decisions_total") {
		t.Errorf("/metrics has no mcpgate_authz_decisions_total:\n%s", tail(metrics, 2000))
	}
	for what, text := range map[string]string{"log": f.Log.String(), "audit log": string(audit), "metrics": metrics} {
		for _, sub := range []string{azEng, azContractor} {
			if strings.Contains(text, sub) {
				t.Errorf("the %s carries the subject %s", what, sub)
			}
		}
	}
}

// TestAuthzRelay: group-based allow, a forbid overriding a permit, an
// argument rule, an annotation rule and anonymous callers, with list
// filtering, through a stdio and an HTTP backend; decisions on the audit
// log and the metrics, no subject anywhere.
func TestAuthzRelay(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f := azStart(t, "enforce", azPolicies, b.start(t))
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			defer cancel()

			eng := azConnect(ctx, t, f.URL, f.eng.Key)
			tools := azTools(ctx, t, eng)
			if slices.Contains(tools, "get-env") || !slices.Contains(tools, "echo") || !slices.Contains(tools, "toggle-simulated-logging") {
				t.Errorf("engineer sees %v: want everything but get-env", tools)
			}
			azAllowed(ctx, t, eng, "engineer", "echo", map[string]any{"message": "hello"})
			azAllowed(ctx, t, eng, "engineer", "get-sum", map[string]any{"a": 1, "b": 2})
			azDenied(ctx, t, eng, "engineer", "get-env", map[string]any{})
			azDenied(ctx, t, eng, "engineer", "echo", map[string]any{"message": "my secret plan"})
			// A denial is the call's error, not the session's: the Go SDK
			// reads the 403's JSON-RPC error and keeps the session.
			azAllowed(ctx, t, eng, "engineer", "echo", map[string]any{"message": "after the denials"})

			con := azConnect(ctx, t, f.URL, f.contractor.Key)
			tools = azTools(ctx, t, con)
			if !slices.Contains(tools, "echo") || slices.Contains(tools, "toggle-simulated-logging") || slices.Contains(tools, "get-env") {
				t.Errorf("contractor sees %v: want the read-only tools only", tools)
			}
			azAllowed(ctx, t, con, "contractor", "echo", map[string]any{"message": "hi"})
			azDenied(ctx, t, con, "contractor", "toggle-simulated-logging", map[string]any{})

			anon := azConnect(ctx, t, f.URL, "")
			if tools = azTools(ctx, t, anon); !slices.Equal(tools, []string{"echo"}) {
				t.Errorf("anonymous sees %v, want [echo]", tools)
			}
			azAllowed(ctx, t, anon, "anonymous", "echo", map[string]any{"message": "hi"})
			azDenied(ctx, t, anon, "anonymous", "get-sum", map[string]any{"a": 1, "b": 2})

			// The denied calls: one rejected event each, 403, the policy
			// that decided (none for a call no policy permits).
			want := map[string][]string{"get-env": {"no-env"}, "echo": {"no-secret-echo"},
				"toggle-simulated-logging": nil, "get-sum": nil}
			var denied []auditEvent
			for _, e := range f.azEvents(t, func(evs []auditEvent) bool { return azCount(evs, "error.type", "access_denied") >= 4 }) {
				if e.str("event") == "rejected" && e.str("error.type") == "access_denied" {
					denied = append(denied, e)
				}
			}
			if len(denied) != 4 {
				t.Fatalf("%d access_denied events, want 4", len(denied))
			}
			for _, e := range denied {
				tool := e.str("mcp.tool")
				var got []string
				if ps, ok := e.get("authz.policies").([]any); ok {
					for _, p := range ps {
						got = append(got, fmt.Sprint(p))
					}
				}
				if e.str("outcome") != "denied" || e.get("http.status") != float64(403) || e.str("authz.decision") != "deny" ||
					e.str("authz.mode") != "enforce" || !slices.Equal(got, want[tool]) {
					t.Errorf("denied %s: %v", tool, e)
				}
			}
			f.azLeakCheck(t)
		})
	}
}

// TestAuthzAggregate: in aggregating mode the lists the gateway serves are
// filtered and a call to a hidden tool is denied, across backends: a
// policy on resource.backend hides the Go backend's tools from
// contractors.
func TestAuthzAggregate(t *testing.T) {
	t.Parallel()
	gob := startGoBackend(t)
	policies := `@id("users-tools")
permit (principal is mcpgate::User, action == mcpgate::Action::"tools/call", resource);

@id("go-backend-for-engineers")
forbid (principal is mcpgate::User, action == mcpgate::Action::"tools/call", resource)
when { resource.backend == "go" && !principal.groups.contains("eng") };
`
	f := azStart(t, "enforce", policies, namedStdioBackend("every"), namedHTTPBackend("go", gob.URL()))
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()

	eng := azConnect(ctx, t, f.URL, f.eng.Key)
	if tools := azTools(ctx, t, eng); !slices.Contains(tools, "go_greet") || !slices.Contains(tools, "every_echo") {
		t.Errorf("engineer sees %v: want go_greet and every_echo", tools)
	}
	azAllowed(ctx, t, eng, "engineer", "go_greet", map[string]any{"name": "x"})

	con := azConnect(ctx, t, f.URL, f.contractor.Key)
	if tools := azTools(ctx, t, con); slices.Contains(tools, "go_greet") || !slices.Contains(tools, "every_echo") {
		t.Errorf("contractor sees %v: want every_echo, not go_greet", tools)
	}
	azAllowed(ctx, t, con, "contractor", "every_echo", map[string]any{"message": "hi"})
	azDenied(ctx, t, con, "contractor", "go_greet", map[string]any{"name": "x"})

	anon := azConnect(ctx, t, f.URL, "")
	if tools := azTools(ctx, t, anon); len(tools) != 0 {
		t.Errorf("anonymous sees %v, want none", tools)
	}
	f.azLeakCheck(t)
}

// TestAuthzShadow: shadow mode relays what the policies deny, lists
// unfiltered, and records shadow_deny.
func TestAuthzShadow(t *testing.T) {
	t.Parallel()
	f := azStart(t, "shadow", azPolicies, stdioBackend())
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	eng := azConnect(ctx, t, f.URL, f.eng.Key)
	if tools := azTools(ctx, t, eng); !slices.Contains(tools, "get-env") {
		t.Errorf("shadow mode filtered the list: %v", tools)
	}
	azAllowed(ctx, t, eng, "engineer", "get-env", map[string]any{})
	var found bool
	for _, e := range f.azEvents(t, func(evs []auditEvent) bool { return azCount(evs, "mcp.tool", "get-env") > 0 }) {
		if e.str("mcp.tool") == "get-env" {
			found = true
			if e.str("authz.decision") != "shadow_deny" || e.str("authz.mode") != "shadow" || e.str("outcome") != "success" {
				t.Errorf("get-env in shadow mode: %v", e)
			}
		}
	}
	if !found {
		t.Error("no audit event for get-env")
	}
	// The list shown whole, with what enforce would have removed counted.
	for _, e := range f.azEvents(t, func(evs []auditEvent) bool { return azCount(evs, "mcp.method", "tools/list") > 0 }) {
		if e.str("mcp.method") == "tools/list" && (e.str("authz.mode") != "shadow" || e.get("authz.itemsDenied") != float64(1)) {
			t.Errorf("tools/list in shadow mode: %v, want authz.itemsDenied 1 (get-env)", e)
		}
	}
	f.azLeakCheck(t)
}

// TestAuthzReload: SIGHUP with a broken policy file keeps the set in force
// and logs a Warn naming file and line, without the policy text; a good
// file replaces the set.
func TestAuthzReload(t *testing.T) {
	t.Parallel()
	f := azStart(t, "enforce", azPolicies, stdioBackend())
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	eng := azConnect(ctx, t, f.URL, f.eng.Key)
	azAllowed(ctx, t, eng, "engineer", "echo", map[string]any{"message": "before"})

	broken := "@id(\"eng-tools\")\npermit (principal, action, resource)\nwhen { principal.groups.contains(\"sekrit-group-text\") &&  };\n"
	if err := os.WriteFile(f.policies, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	f.signal(t, syscall.SIGHUP)
	line, ok := f.Log.waitFor(10*time.Second, func(l string) bool { return strings.Contains(l, "authz policy reload failed") })
	if !ok {
		t.Fatalf("no reload failure logged:\n%s", tail(f.Log.String(), 3000))
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(line), &entry); err != nil || entry["level"] != "WARN" ||
		!regexp.MustCompile(regexp.QuoteMeta(f.policies)+`:3:\d+`).MatchString(fmt.Sprint(entry["error"])) {
		t.Errorf("the reload failure line %s: want level WARN and an error naming %s:3", line, f.policies)
	}
	if strings.Contains(line, "sekrit-group-text") {
		t.Errorf("the reload failure quotes the policy text: %s", line)
	}
	azAllowed(ctx, t, eng, "engineer", "echo", map[string]any{"message": "old set kept"})
	azDenied(ctx, t, eng, "engineer", "get-env", map[string]any{})

	good := `@id("only-sum") permit (principal is mcpgate::User, action == mcpgate::Action::"tools/call", resource == mcpgate::Tool::"get-sum");`
	if err := os.WriteFile(f.policies, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	f.signal(t, syscall.SIGHUP)
	if _, ok := f.Log.waitFor(10*time.Second, func(l string) bool { return strings.Contains(l, "authz policies reloaded") }); !ok {
		t.Fatalf("no reload logged:\n%s", tail(f.Log.String(), 3000))
	}
	azDenied(ctx, t, eng, "engineer", "echo", map[string]any{"message": "new set"})
	azAllowed(ctx, t, eng, "engineer", "get-sum", map[string]any{"a": 1, "b": 2})
	f.azLeakCheck(t)
}

// TestAuthzSpans: the SERVER spans in Jaeger carry each decision and its
// policies (a filtered list its count of denied items), and, with hashed
// attribution, no subject anywhere in the traces.
func TestAuthzSpans(t *testing.T) {
	t.Parallel()
	j := startJaeger(t)
	service := "e2e-authz-" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	f := azStartTelemetry(t, "enforce", azPolicies, fmt.Sprintf(
		"  serviceName: %s\n  userAttribution: hashed\n  traces: {exporter: otlp, endpoint: %q, protocol: http/protobuf, batchTimeout: 50ms}\n",
		service, j.OTLPHTTPEndpoint()), stdioBackend())
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	eng := azConnect(ctx, t, f.URL, f.eng.Key)
	azTools(ctx, t, eng)
	azAllowed(ctx, t, eng, "engineer", "echo", map[string]any{"message": "hi"})
	azDenied(ctx, t, eng, "engineer", "get-env", map[string]any{})

	want := map[string]map[string]string{
		"tools/list":         {"mcpgate.authz.decision": "allow", "mcpgate.authz.items_denied": "1"},
		"tools/call echo":    {"mcpgate.authz.decision": "allow", "mcpgate.authz.policies": `["eng-tools"]`},
		"tools/call get-env": {"mcpgate.authz.decision": "deny", "mcpgate.authz.policies": `["no-env"]`, "error.type": "access_denied"},
	}
	// The spans arrive in export batches: query until every wanted SERVER
	// span is in (a count of spans alone can be met by the earlier
	// requests' traces first).
	var raw []byte
	var traces []Trace
	for deadline := time.Now().Add(jaegerQueryTimeout); ; {
		raw, traces = jaegerRawTraces(t, j, service, 6)
		if azServerSpans(traces, want) == len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	seen := map[string]bool{}
	for _, tr := range traces {
		for _, s := range tr.Spans {
			w, ok := want[s.Name]
			if !ok || s.Kind != "server" {
				continue
			}
			seen[s.Name] = true
			for k, v := range w {
				if got := s.Attributes[k]; got != v {
					t.Errorf("span %q: %s=%q, want %q", s.Name, k, got, v)
				}
			}
			if s.Attributes["user.hash"] == "" {
				t.Errorf("span %q: no user.hash with hashed attribution", s.Name)
			}
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("no SERVER span %q in %s", name, tail(string(raw), 2000))
		}
	}
	if strings.Contains(string(raw), azEng) {
		t.Error("the traces carry the subject")
	}
	f.azLeakCheck(t)
}

// azServerSpans counts the names of want that traces hold a SERVER span of.
func azServerSpans(traces []Trace, want map[string]map[string]string) int {
	seen := map[string]bool{}
	for _, tr := range traces {
		for _, s := range tr.Spans {
			if _, ok := want[s.Name]; ok && s.Kind == "server" {
				seen[s.Name] = true
			}
		}
	}
	return len(seen)
}
