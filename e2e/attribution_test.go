package e2e

// The leak tests of user attribution (what docs/user-attribution.md
// promises): real gateway processes with OIDC, API-key or anonymous
// authentication, in front of server-everything over stdio, export spans to
// a real Jaeger and metrics over OTLP (to otlpMetricsReceiver) or to
// Prometheus; everything that leaves them — every span as Jaeger stores it,
// every metric export or scrape, every log line — is searched for the
// principal's subject, e-mail, credentials and pseudonym.

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/mcpgate/mcpgate/internal/testidp"
)

// Distinctive values, so that a hit is a leak and not a coincidence.
const (
	oidcSubject = "subj-oidc-9c2e-bob"
	oidcEmail   = "bob.9c2e.leakcheck@example.test"
	keySubject  = "subj-7f3a-alice"
	keyIssuer   = "urn:mcpgate:apikey"
	keyEnvName  = "MCPGATE_E2E_PSEUDONYM_KEY"
	toolMessage = "attr-echo-5d1c"
)

// leakFixture is what the attribution subtests share: one Jaeger, one
// OIDC issuer, one API key and two pseudonymization keys.
type leakFixture struct {
	j        *jaeger
	issuer   *testidp.IdP
	sigKey   *testidp.Key // published
	badKey   *testidp.Key // same kid, never published: bad signatures
	key      apiKey       // subject keySubject
	keyA     []byte
	keyAFile string
	keyB     []byte
	keyBFile string
}

func newLeakFixture(t *testing.T) *leakFixture {
	t.Helper()
	f := &leakFixture{j: startJaeger(t), issuer: testidp.New(t)}
	f.sigKey = testidp.NewKey(t, "attr-k1", jose.RS256)
	f.badKey = testidp.NewKey(t, "attr-k1", jose.RS256)
	f.issuer.Publish(f.sigKey)
	f.key = newAPIKey(t, keySubject)
	dir := t.TempDir()
	f.keyA, f.keyAFile = writePseudonymKey(t, dir, "a")
	f.keyB, f.keyBFile = writePseudonymKey(t, dir, "b")
	return f
}

func writePseudonymKey(t *testing.T, dir, name string) ([]byte, string) {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "pseudonym-"+name)
	if err := os.WriteFile(p, []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return k, p
}

// oidcToken is a valid token for oidcSubject with an e-mail claim,
// signed with k, plus mod's changes.
func (f *leakFixture) oidcToken(t *testing.T, k *testidp.Key, mod func(map[string]any)) string {
	c := f.issuer.Claims(oidcSubject)
	c["email"] = oidcEmail
	if mod != nil {
		mod(c)
	}
	return testidp.Sign(t, k, c)
}

// leakGateway configures one gateway.
type leakGateway struct {
	service    string
	auth       string // oidc | apiKey | anonymous
	mode       string // telemetry.userAttribution; "" leaves the key out
	pseudonym  string // "" none, "file" (key A), "env" (key A from keyEnvName), "fileB" (key B); always id k1
	metrics    string // prometheus (default) | otlp
	metricsURL string // the OTLP receiver
	noTraces   bool   // traces.exporter none instead of Jaeger
	scopes     bool   // oidc requiredScopes: [mcp:tools]
	env, args  []string
}

// auth is the auth block of a fixture's gateway at resource: oidc (the
// fixture's issuer, scopes requiring mcp:tools), apiKey (its key) or
// anonymous.
func (f *leakFixture) auth(t *testing.T, auth, resource string, scopes bool) string {
	t.Helper()
	switch auth {
	case "oidc":
		s := fmt.Sprintf("\n  mode: oidc\n  resource: %s\n  oidc:\n    issuer: %s\n    audience: mcpgate", resource, f.issuer.URL)
		if scopes {
			s += "\n    requiredScopes: [mcp:tools]"
		}
		return s
	case "apiKey":
		return fmt.Sprintf("\n  mode: apiKey\n  resource: %s\n  apiKeys:\n    %s", resource, f.key.Entry)
	case "anonymous":
		return "{mode: anonymous}"
	}
	t.Fatalf("unknown auth %q", auth)
	return ""
}

// start writes the configuration and starts the gateway; OIDC gateways are
// waited for until their keys are fetched (/readyz 200).
func (f *leakFixture) start(t *testing.T, c leakGateway) *gateway {
	t.Helper()
	cfg := gatewayConfig{port: freeClosedPort(t), admin: adminOn, backends: []backendSpec{stdioBackend()}}
	cfg.auth = f.auth(t, c.auth, cfg.resource(), c.scopes)
	var b strings.Builder
	env := slices.Clone(c.env)
	switch c.pseudonym {
	case "":
	case "file":
		fmt.Fprintf(&b, "pseudonymization:\n  keys:\n    - {id: k1, file: %q}\n", f.keyAFile)
	case "fileB":
		fmt.Fprintf(&b, "pseudonymization:\n  keys:\n    - {id: k1, file: %q}\n", f.keyBFile)
	case "env":
		fmt.Fprintf(&b, "pseudonymization:\n  keys:\n    - {id: k1, env: %s}\n", keyEnvName)
		// URL alphabet, no padding, surrounding whitespace: all accepted.
		env = append(env, keyEnvName+"=  "+base64.RawURLEncoding.EncodeToString(f.keyA)+"\n")
	default:
		t.Fatalf("unknown pseudonym source %q", c.pseudonym)
	}
	fmt.Fprintf(&b, "telemetry:\n  serviceName: %s\n", c.service)
	if c.noTraces {
		b.WriteString("  traces: {exporter: none}\n")
	} else {
		fmt.Fprintf(&b, "  traces: {exporter: otlp, endpoint: %q, protocol: http/protobuf, batchTimeout: 50ms}\n", f.j.OTLPHTTPEndpoint())
	}
	if c.metrics == "otlp" {
		fmt.Fprintf(&b, "  metrics: {exporter: otlp, endpoint: %q, protocol: http/protobuf, interval: 200ms}\n", c.metricsURL)
	} else {
		b.WriteString("  metrics: {exporter: prometheus}\n")
	}
	if c.mode != "" {
		fmt.Fprintf(&b, "  userAttribution: %s\n", c.mode)
	}
	cfg.extra = b.String()
	g, err := startGatewayEnv(t, env, append([]string{"serve", "--config", writeConfig(t, cfg.String())}, c.args...)...)
	if err != nil {
		t.Fatal(err)
	}
	if c.auth == "oidc" {
		eventually(t, 15*time.Second, "OIDC keys fetched (/readyz 200)", func() bool {
			resp, err := http.Get(g.Admin + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	}
	return g
}

// traffic is the traffic of one gateway: the credentials of each
// request (header pairs) and, when set, the bad credential of one rejected
// tools/call.
type traffic struct {
	initH, listH, callH []string
	badH                []string
}

// newTraceparent returns a sampled traceparent with random ids.
func newTraceparent() (tp, traceID string) {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	traceID = fmt.Sprintf("%x", b[:16])
	return fmt.Sprintf("00-%s-%x-01", traceID, b[16:]), traceID
}

// run sends initialize, notifications/initialized, tools/list, tools/call
// echo (with a _meta parent and an HTTP traceparent, so that the SERVER span
// has a link) and the rejected call (with an HTTP traceparent, linked from
// its new root), checking every answer.
// poster posts one message to the gateway and fails the test unless
// the answer has status want; it returns the session id and the body.
type poster func(what, sid, body string, want int, h ...string) (string, string)

// open returns a poster for g and a session opened with tr's
// initialization headers (initialize, then notifications/initialized).
func (tr traffic) open(t *testing.T, g *gateway, clientName string) (poster, string) {
	t.Helper()
	post := func(what, sid, body string, want int, h ...string) (string, string) {
		t.Helper()
		status, gotSid, resp, err := tryPost(g.URL, sid, body, callTimeout, h...)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if status != want {
			t.Fatalf("%s: status %d, want %d; body %s", what, status, want, tail(resp, 500))
		}
		return gotSid, resp
	}
	sid, _ := post("initialize", "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"`+clientName+`","version":"1"}}}`, http.StatusOK, tr.initH...)
	if sid == "" {
		t.Fatal("initialize: no Mcp-Session-Id")
	}
	post("notifications/initialized", sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, http.StatusAccepted, tr.initH...)
	return post, sid
}

func (tr traffic) run(t *testing.T, g *gateway) {
	t.Helper()
	post, sid := tr.open(t, g, "e2e-attr")
	if _, body := post("tools/list", sid, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, http.StatusOK, tr.listH...); !strings.Contains(body, `"echo"`) {
		t.Fatalf("tools/list lacks echo: %s", tail(body, 500))
	}
	metaTP, _ := newTraceparent()
	httpTP, _ := newTraceparent()
	callBody := `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"message":"` + toolMessage + `"},"_meta":{"traceparent":"` + metaTP + `"}}}`
	if _, body := post("tools/call", sid, callBody, http.StatusOK, append(slices.Clone(tr.callH), "Traceparent", httpTP)...); !strings.Contains(body, toolMessage) {
		t.Fatalf("tools/call: %s", tail(body, 500))
	}
	if tr.badH != nil {
		rejTP, _ := newTraceparent()
		post("rejected tools/call", sid, `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"echo","arguments":{"message":"x"}}}`,
			http.StatusUnauthorized, append(slices.Clone(tr.badH), "Traceparent", rejTP)...)
	}
}

// userKeys returns the identity attributes of attrs: user.*, enduser.*
// and mcpgate.user.*.
func userKeys(attrs map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range attrs {
		if strings.HasPrefix(k, "user.") || strings.HasPrefix(k, "enduser.") || strings.HasPrefix(k, "mcpgate.user.") {
			out[k] = v
		}
	}
	return out
}

// wantUser is what a gateway's spans must carry on admitted requests.
type wantUser struct {
	attrs   map[string]string // exactly these identity attributes (nil = none)
	allowed needle            // the one needle allowed, once per attributed span ("" = none)
}

// checkSpans fetches the gateway's spans from Jaeger, checks that admitted
// ones (SERVER and CLIENT) carry exactly want.attrs, the rejected one
// nothing, and that no needle occurs in what Jaeger stored except as the
// allowed attribute value. It returns the spans.
func (f *leakFixture) checkSpans(t *testing.T, service string, wantAdmitted, wantRejected int, want wantUser, needles []needle) []Span {
	t.Helper()
	raw, traces := jaegerRawTraces(t, f.j, service, wantAdmitted+wantRejected)
	var spans []Span
	for _, tr := range traces {
		spans = append(spans, tr.Spans...)
	}
	admitted, rejected, attributed := 0, 0, 0
	for _, s := range spans {
		if s.Service != service {
			t.Errorf("span %q of service %q in the traces of %q", s.Name, s.Service, service)
			continue
		}
		isRejected := s.Kind == "server" && (s.Attributes["error.type"] == "unauthenticated" || s.Attributes["error.type"] == "forbidden")
		got := userKeys(s.Attributes)
		wantAttrs := want.attrs
		if isRejected {
			rejected++
			wantAttrs = nil
		} else {
			admitted++
			if s.Kind == "client" && s.Attributes["network.transport"] != "pipe" {
				t.Errorf("CLIENT span %q: network.transport %q, want pipe", s.Name, s.Attributes["network.transport"])
			}
		}
		if len(got) != len(wantAttrs) || !mapsEqual(got, wantAttrs) {
			t.Errorf("%s span %q (rejected=%v): identity attributes %v, want %v", s.Kind, s.Name, isRejected, got, wantAttrs)
		}
		if want.allowed.value != "" && !isRejected && (s.Attributes["user.id"] == want.allowed.value || s.Attributes["user.hash"] == want.allowed.value) {
			attributed++
		}
		if u := userKeys(s.Resource); len(u) > 0 {
			t.Errorf("span %q: identity attributes on the resource: %v", s.Name, u)
		}
		for _, l := range s.Links {
			if u := userKeys(l.Attributes); len(u) > 0 {
				t.Errorf("span %q: identity attributes on a link: %v", s.Name, u)
			}
		}
	}
	if admitted != wantAdmitted || rejected != wantRejected {
		t.Errorf("%d admitted and %d rejected spans, want %d and %d: %v", admitted, rejected, wantAdmitted, wantRejected, spanNames(spans))
	}
	if want.allowed.value != "" && attributed != wantAdmitted {
		t.Errorf("%d spans carry %s, want every admitted span (%d)", attributed, want.allowed.what, wantAdmitted)
	}
	for _, n := range needles {
		allowed := 0
		if n.value == want.allowed.value {
			allowed = attributed
		}
		if got := bytes.Count(raw, []byte(n.value)); got != allowed {
			t.Errorf("traces: %s %q occurs %d times in what Jaeger stored, want %d (only as the attribution attribute); first at: %s",
				n.what, n.value, got, allowed, around(raw, n.value))
		}
	}
	return spans
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func spanNames(spans []Span) []string {
	var n []string
	for _, s := range spans {
		n = append(n, s.Kind+":"+s.Name)
	}
	sort.Strings(n)
	return n
}

// around shows the text around the first occurrence of s in b.
func around(b []byte, s string) string {
	i := bytes.Index(b, []byte(s))
	if i < 0 {
		return "(none)"
	}
	lo, hi := max(0, i-200), min(len(b), i+len(s)+200)
	return "…" + string(b[lo:hi]) + "…"
}

// checkLogs: no needle in any line the gateway wrote.
func checkLogs(t *testing.T, g *gateway, needles []needle) {
	t.Helper()
	lines := g.Log.Lines()
	for _, n := range needles {
		if hits := linesWith(lines, n.value); len(hits) > 0 {
			t.Errorf("log: %s %q in %d line(s), e.g.:\n%s", n.what, n.value, len(hits), hits[0])
		}
	}
}

// checkOTLPMetrics waits for an export that holds the traffic (the echo
// call and, with wantAuthFailure, the rejection), then checks every export
// so far: no needle in any byte, no exemplar, no identity attribute.
func checkOTLPMetrics(t *testing.T, r *otlpMetricsReceiver, wantAuthFailure bool, needles []needle) {
	t.Helper()
	ok := r.waitFor(20*time.Second, func(e otlpMetricsExport) bool {
		call, fail := false, !wantAuthFailure
		for _, p := range e.points() {
			switch {
			case p.Metric == "mcp.server.operation.duration" && p.Attributes["mcp.method.name"] == "tools/call" &&
				p.Attributes["gen_ai.tool.name"] == "echo" && p.Attributes["error.type"] == "" && p.Count >= 1:
				call = true
			case p.Metric == "mcpgate.auth.failures" && p.Attributes["error.type"] == "unauthenticated" && p.Value >= 1:
				fail = true
			}
		}
		return call && fail
	})
	exports, errs := r.Exports()
	if len(errs) > 0 {
		t.Errorf("OTLP metrics receiver: %d undecodable exports: %v", len(errs), errs)
	}
	if !ok {
		var names []string
		for _, e := range exports {
			for _, p := range e.points() {
				names = append(names, fmt.Sprintf("%s%v", p.Metric, p.Attributes))
			}
		}
		t.Fatalf("no OTLP metrics export with the echo call (and the auth failure: %v) within 20s; %d exports: %v", wantAuthFailure, len(exports), tail(strings.Join(names, "\n"), 3000))
	}
	points := 0
	for i, e := range exports {
		for _, n := range needles {
			if bytes.Contains(e.Raw, []byte(n.value)) {
				t.Errorf("OTLP metrics export %d: contains %s %q: %q", i, n.what, n.value, around(e.Raw, n.value))
			}
		}
		for _, p := range e.points() {
			points++
			if p.Exemplars != 0 {
				t.Errorf("OTLP metrics export %d: %s%v has %d exemplar(s)", i, p.Metric, p.Attributes, p.Exemplars)
			}
			if u := userKeys(p.Attributes); len(u) > 0 {
				t.Errorf("OTLP metrics export %d: %s has identity attributes %v", i, p.Metric, u)
			}
		}
		for _, ra := range e.resourceAttrs() {
			if u := userKeys(ra); len(u) > 0 {
				t.Errorf("OTLP metrics export %d: resource has identity attributes %v", i, u)
			}
		}
	}
	t.Logf("OTLP metrics: %d exports, %d data points searched", len(exports), points)
}

// checkPromMetrics scrapes /metrics (asking for OpenMetrics) until it holds
// the traffic, then searches it.
func checkPromMetrics(t *testing.T, g *gateway, wantAuthFailure bool, needles []needle) {
	t.Helper()
	var text, ctype string
	eventually(t, 20*time.Second, "the echo call on /metrics", func() bool {
		var err error
		if text, ctype, err = scrapeOpenMetrics(g.Admin); err != nil {
			return false
		}
		_, call := promSample(text, "mcp_server_operation_duration_seconds_count", `gen_ai_tool_name="echo"`, `mcp_method_name="tools/call"`)
		fail := !wantAuthFailure
		if wantAuthFailure {
			_, fail = promSample(text, "mcpgate_auth_failures_total", `error_type="unauthenticated"`)
		}
		return call && fail
	})
	for _, n := range needles {
		if hits := linesWith(strings.Split(text, "\n"), n.value); len(hits) > 0 {
			t.Errorf("/metrics: %s %q in %d line(s), e.g. %s", n.what, n.value, len(hits), hits[0])
		}
	}
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		if strings.Contains(l, " # {") {
			t.Errorf("/metrics: an exemplar: %s", l)
		}
		if strings.Contains(l, "user_id") || strings.Contains(l, "user_hash") || strings.Contains(l, "enduser") {
			t.Errorf("/metrics: an identity label: %s", l)
		}
	}
	if !strings.HasPrefix(ctype, "application/openmetrics-text") {
		// Not a failure: the text format cannot carry exemplars at all.
		// The OTLP cells check exemplars on the data points themselves.
		t.Logf("/metrics answered %q to an OpenMetrics Accept: exemplars could not show in this format", ctype)
	}
}

// warnLines returns the WARN lines of g's log that contain every word.
func warnLines(g *gateway, words ...string) []string {
	var out []string
	for _, l := range g.Log.Lines() {
		if !strings.Contains(l, `"level":"WARN"`) {
			continue
		}
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(l, w)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// TestUserAttribution is the leak matrix {off, hashed, raw} × {oidc, apiKey,
// anonymous}, the key sources, the precedence of the mode settings and the
// start-up warnings, all against one Jaeger.
func TestUserAttribution(t *testing.T) {
	t.Parallel()
	f := newLeakFixture(t)
	start := time.Now()
	t.Cleanup(func() { t.Logf("TestUserAttribution: %v", time.Since(start).Round(time.Millisecond)) })

	pseudoOIDC := userHash(f.keyA, f.issuer.URL, oidcSubject)
	pseudoKey := userHash(f.keyA, keyIssuer, keySubject)

	modes := []string{"off", "hashed", "raw"}
	auths := []string{"oidc", "apiKey", "anonymous"}
	for mi, mode := range modes {
		for ai, auth := range auths {
			metrics := "prometheus"
			if (mi+ai)%2 == 0 {
				metrics = "otlp"
			}
			t.Run(fmt.Sprintf("matrix/%s/%s/%s", mode, auth, metrics), func(t *testing.T) {
				t.Parallel()
				cfg := leakGateway{service: fmt.Sprintf("attr-%s-%s-%s", mode, auth, testidp.RandomString(4)), auth: auth, mode: mode, pseudonym: "file", metrics: metrics}
				if mode == "off" && auth == "oidc" {
					// No attribution configuration at all: the default is off.
					cfg.mode, cfg.pseudonym = "", ""
				}
				var rcv *otlpMetricsReceiver
				if metrics == "otlp" {
					rcv = startOTLPMetricsReceiver(t)
					cfg.metricsURL = rcv.URL
				}
				g := f.start(t, cfg)

				tok := f.oidcToken(t, f.sigKey, nil)
				badTok := f.oidcToken(t, f.badKey, nil) // bad signature, same claims
				badKey := "mcpg_" + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 32))
				needles := []needle{
					{"the OIDC subject", oidcSubject},
					{"the e-mail claim", oidcEmail},
					{"the bearer token", tok},
					{"the bearer token's signature", tok[strings.LastIndexByte(tok, '.')+1:]},
					{"the bad bearer token", badTok},
					{"the bad token's signature", badTok[strings.LastIndexByte(badTok, '.')+1:]},
					{"the API key", f.key.Key},
					{"the API key's secret part", strings.TrimPrefix(f.key.Key, "mcpg_")},
					{"the bad API key", badKey},
					{"the API key's subject", keySubject},
					{"the OIDC principal's pseudonym", pseudoOIDC},
					{"the API-key principal's pseudonym", pseudoKey},
				}
				var tr traffic
				want := wantUser{}
				var principalSubject, principalPseudonym string
				switch auth {
				case "oidc":
					h := []string{"Authorization", "Bearer " + tok}
					tr = traffic{initH: h, listH: h, callH: h, badH: []string{"Authorization", "Bearer " + badTok}}
					principalSubject, principalPseudonym = oidcSubject, pseudoOIDC
				case "apiKey":
					tr = traffic{
						initH: []string{"X-API-Key", f.key.Key}, listH: []string{"X-API-Key", f.key.Key},
						callH: []string{"Authorization", "Bearer " + f.key.Key},
						badH:  []string{"X-API-Key", badKey},
					}
					principalSubject, principalPseudonym = keySubject, pseudoKey
				case "anonymous":
					// Credentials are ignored (and stripped) in anonymous
					// mode: send them anyway, they must not attribute.
					tr = traffic{
						initH: []string{"Authorization", "Bearer " + tok}, listH: []string{"X-API-Key", f.key.Key},
						callH: []string{"Authorization", "Bearer " + tok},
					}
				}
				if principalSubject != "" {
					switch mode {
					case "raw":
						want = wantUser{attrs: map[string]string{"user.id": principalSubject}, allowed: needle{"the subject", principalSubject}}
					case "hashed":
						want = wantUser{attrs: map[string]string{"user.hash": principalPseudonym, "mcpgate.user.hash.key_id": "k1"}, allowed: needle{"the pseudonym", principalPseudonym}}
					}
				}
				tr.run(t, g)

				wantRejected := 0
				if tr.badH != nil {
					wantRejected = 1
				}
				f.checkSpans(t, cfg.service, 8, wantRejected, want, needles)
				if rcv != nil {
					checkOTLPMetrics(t, rcv, wantRejected > 0, needles)
				} else {
					checkPromMetrics(t, g, wantRejected > 0, needles)
				}
				checkLogs(t, g, needles)
				if got := len(g.requests()); got < 4+wantRejected {
					t.Errorf("%d request log lines, want at least %d (log.requests: all)", got, 4+wantRejected)
				}

				// Start-up warnings: only attribution on with anonymous-only
				// auth warns here (traces are exported).
				anonWarn := warnLines(g, "userAttribution", "anonymous")
				if wantWarn := auth == "anonymous" && mode != "off"; wantWarn != (len(anonWarn) == 1) {
					t.Errorf("warning about anonymous-only auth: %d line(s) %v, want %v", len(anonWarn), anonWarn, wantWarn)
				}
				if w := warnLines(g, "userAttribution", "traces"); len(w) > 0 {
					t.Errorf("warning about trace export although traces are exported: %v", w)
				}
			})
		}
	}

	// A token lacking a required scope is refused (403) after it was
	// verified: the request has no principal, so its span has no
	// attribute, and its log line must not name the principal either
	// (no identity-derived value on any log line;
	// user-attribution.md: "not in logs (in any mode)"). This test caught
	// the forbidden detail naming the subject.
	t.Run("forbidden/raw/oidc", func(t *testing.T) {
		t.Parallel()
		cfg := leakGateway{service: "attr-forbidden-" + testidp.RandomString(4), auth: "oidc", mode: "raw", scopes: true}
		g := f.start(t, cfg)
		good := f.oidcToken(t, f.sigKey, func(c map[string]any) { c["scope"] = "mcp:tools" })
		noScope := f.oidcToken(t, f.sigKey, nil)
		status, _, body, err := tryPost(g.URL, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e-attr","version":"1"}}}`,
			callTimeout, "Authorization", "Bearer "+good)
		if err != nil || status != http.StatusOK {
			t.Fatalf("initialize with the scope: %d %v %s", status, err, tail(body, 300))
		}
		status, _, body, err = tryPost(g.URL, "", `{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e-attr","version":"1"}}}`,
			callTimeout, "Authorization", "Bearer "+noScope)
		if err != nil || status != http.StatusForbidden {
			t.Fatalf("initialize without the scope: %d %v %s, want 403", status, err, tail(body, 300))
		}
		g.waitRequest(t, "the 403", func(e logEntry) bool { return e.status() == http.StatusForbidden })
		needles := []needle{
			{"the e-mail claim", oidcEmail},
			{"the bearer token", good}, {"the scope-less bearer token", noScope},
		}
		f.checkSpans(t, cfg.service, 2, 1,
			wantUser{attrs: map[string]string{"user.id": oidcSubject}, allowed: needle{"the subject", oidcSubject}},
			append(needles, needle{"the OIDC subject", oidcSubject}))
		checkLogs(t, g, append(needles, needle{"the OIDC subject", oidcSubject}))
	})

	// The key from a file and the same key from the environment give the
	// same pseudonym; another key gives another.
	t.Run("keys", func(t *testing.T) {
		t.Parallel()
		sources := []string{"file", "env", "fileB"}
		hashes := make(map[string]string, len(sources))
		gws := make(map[string]*gateway, len(sources))
		svc := make(map[string]string, len(sources))
		for _, src := range sources {
			svc[src] = "attr-key-" + src + "-" + testidp.RandomString(4)
			gws[src] = f.start(t, leakGateway{service: svc[src], auth: "apiKey", mode: "hashed", pseudonym: src})
		}
		for _, src := range sources {
			status, _, body, err := tryPost(gws[src].URL, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e-attr","version":"1"}}}`,
				callTimeout, "X-API-Key", f.key.Key)
			if err != nil || status != http.StatusOK {
				t.Fatalf("%s: initialize: %d %v %s", src, status, err, tail(body, 300))
			}
		}
		for _, src := range sources {
			_, traces := jaegerRawTraces(t, f.j, svc[src], 2)
			seen := map[string]bool{}
			for _, tr := range traces {
				for _, s := range tr.Spans {
					seen[s.Attributes["user.hash"]+"/"+s.Attributes["mcpgate.user.hash.key_id"]] = true
				}
			}
			if len(seen) != 1 {
				t.Errorf("%s: spans carry %d distinct user.hash/key_id pairs: %v", src, len(seen), seen)
			}
			for h := range seen {
				hashes[src] = h
			}
		}
		wantA := userHash(f.keyA, keyIssuer, keySubject) + "/k1"
		wantB := userHash(f.keyB, keyIssuer, keySubject) + "/k1"
		if hashes["file"] != wantA || hashes["env"] != wantA {
			t.Errorf("key A: from a file %q, from the environment %q; want both %q", hashes["file"], hashes["env"], wantA)
		}
		if hashes["fileB"] != wantB || wantA == wantB {
			t.Errorf("key B: %q, want %q (≠ key A's %q)", hashes["fileB"], wantB, wantA)
		}
		for _, src := range sources {
			checkLogs(t, gws[src], []needle{{"the key (base64)", base64.StdEncoding.EncodeToString(f.keyA)},
				{"the key (base64url)", base64.RawURLEncoding.EncodeToString(f.keyA)},
				{"key B (base64)", base64.StdEncoding.EncodeToString(f.keyB)}, {"the subject", keySubject}})
		}
	})

	// --user-attribution beats MCPGATE_USER_ATTRIBUTION, which beats the
	// file.
	t.Run("precedence", func(t *testing.T) {
		t.Parallel()
		cases := []struct {
			name, file string
			env, args  []string
			want       string // user.id, user.hash or "" (nothing)
		}{
			{"flag raw over file hashed", "hashed", nil, []string{"--user-attribution", "raw"}, "user.id"},
			{"env raw over file hashed", "hashed", []string{"MCPGATE_USER_ATTRIBUTION=raw"}, nil, "user.id"},
			{"flag raw over env off over file hashed", "hashed", []string{"MCPGATE_USER_ATTRIBUTION=off"}, []string{"--user-attribution=raw"}, "user.id"},
			{"env off over file raw", "raw", []string{"MCPGATE_USER_ATTRIBUTION=off"}, nil, ""},
			{"file hashed alone", "hashed", nil, nil, "user.hash"},
		}
		svc := make([]string, len(cases))
		for i, c := range cases {
			svc[i] = fmt.Sprintf("attr-prec-%d-%s", i, testidp.RandomString(4))
			g := f.start(t, leakGateway{service: svc[i], auth: "apiKey", mode: c.file, pseudonym: "file", env: c.env, args: c.args})
			status, _, body, err := tryPost(g.URL, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e-attr","version":"1"}}}`,
				callTimeout, "X-API-Key", f.key.Key)
			if err != nil || status != http.StatusOK {
				t.Fatalf("%s: initialize: %d %v %s", c.name, status, err, tail(body, 300))
			}
		}
		for i, c := range cases {
			_, traces := jaegerRawTraces(t, f.j, svc[i], 2)
			for _, tr := range traces {
				for _, s := range tr.Spans {
					got := userKeys(s.Attributes)
					var want map[string]string
					switch c.want {
					case "user.id":
						want = map[string]string{"user.id": keySubject}
					case "user.hash":
						want = map[string]string{"user.hash": userHash(f.keyA, keyIssuer, keySubject), "mcpgate.user.hash.key_id": "k1"}
					}
					if !mapsEqual(got, want) {
						t.Errorf("%s: %s span %q: identity attributes %v, want %v", c.name, s.Kind, s.Name, got, want)
					}
				}
			}
		}
	})

	// Attribution on with traces not exported: a start-up warning.
	t.Run("warning/no-traces", func(t *testing.T) {
		t.Parallel()
		g := f.start(t, leakGateway{service: "attr-notraces", auth: "apiKey", mode: "raw", noTraces: true})
		if w := warnLines(g, "userAttribution", "traces"); len(w) != 1 {
			t.Errorf("%d warning line(s) about trace export, want 1: %v", len(w), w)
		}
		if w := warnLines(g, "userAttribution", "anonymous"); len(w) != 0 {
			t.Errorf("warning about anonymous-only auth with apiKey auth: %v", w)
		}
		g2 := f.start(t, leakGateway{service: "attr-notraces-anon", auth: "anonymous", mode: "hashed", pseudonym: "env", noTraces: true})
		if w := warnLines(g2, "userAttribution", "traces"); len(w) != 1 {
			t.Errorf("anonymous, hashed, no traces: %d warning line(s) about trace export, want 1: %v", len(w), w)
		}
		if w := warnLines(g2, "userAttribution", "anonymous"); len(w) != 1 {
			t.Errorf("anonymous, hashed, no traces: %d warning line(s) about anonymous-only auth, want 1: %v", len(w), w)
		}
		g3 := f.start(t, leakGateway{service: "attr-notraces-off", auth: "anonymous", mode: "off", noTraces: true})
		if w := warnLines(g3, "userAttribution"); len(w) != 0 {
			t.Errorf("attribution off: warnings %v, want none", w)
		}
	})
}
