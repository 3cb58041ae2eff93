package e2e

// The user-attribution leak test in aggregating mode (docs/aggregation.md
// "Telemetry", docs/user-attribution.md): a gateway in front of two
// backends — server-everything over stdio ("local", the SDK path) and over
// Streamable HTTP ("web", the fast path, since the client declares no
// capabilities) — gets real traffic with OIDC, API-key or anonymous
// authentication; the SERVER span of every admitted message and the CLIENT
// span of each backend call must carry exactly the configured attribution,
// and nothing that leaves the gateway (spans as Jaeger stores them, the
// /metrics scrape, every log line) may hold the subject, e-mail,
// credentials or pseudonyms anywhere else.

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/testidp"
)

// startAggregate starts an aggregating gateway (backends local: stdio,
// web: webURL) with auth and telemetry.userAttribution mode, pseudonym key A
// as k1, spans to the fixture's Jaeger and Prometheus metrics.
func (f *leakFixture) startAggregate(t *testing.T, service, auth, mode, webURL string) *gateway {
	t.Helper()
	cfg := gatewayConfig{port: freeClosedPort(t), admin: adminOn, backends: []backendSpec{namedStdioBackend("local"), namedHTTPBackend("web", webURL)}}
	cfg.auth = f.auth(t, auth, cfg.resource(), false)
	var b strings.Builder
	fmt.Fprintf(&b, "pseudonymization:\n  keys:\n    - {id: k1, file: %q}\n", f.keyAFile)
	fmt.Fprintf(&b, "telemetry:\n  serviceName: %s\n", service)
	fmt.Fprintf(&b, "  traces: {exporter: otlp, endpoint: %q, protocol: http/protobuf, batchTimeout: 50ms}\n", f.j.OTLPHTTPEndpoint())
	b.WriteString("  metrics: {exporter: prometheus}\n")
	fmt.Fprintf(&b, "  userAttribution: %s\n", mode)
	cfg.extra = b.String()
	g := startGatewayConfig(t, nil, cfg.String())
	if auth == "oidc" {
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

// aggregateCalls are the tools/call requests of the aggregate traffic: the
// client-visible name, the backend, the CLIENT span's transport.
var aggregateCalls = []struct{ tool, backend, transport string }{
	{"local_echo", "local", "pipe"},
	{"web_echo", "web", "tcp"},
}

// runAggregate sends initialize, notifications/initialized, tools/list, a
// tools/call echo on each backend (the first with a _meta parent and an
// HTTP traceparent) and, when tr.badH is set, a rejected tools/call.
func (tr traffic) runAggregate(t *testing.T, g *gateway) {
	t.Helper()
	post, sid := tr.open(t, g, "e2e-attr-agg")
	_, list := post("tools/list", sid, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, http.StatusOK, tr.listH...)
	for _, c := range aggregateCalls {
		if !strings.Contains(list, `"`+c.tool+`"`) {
			t.Fatalf("tools/list lacks %s: %s", c.tool, tail(list, 800))
		}
	}
	for i, c := range aggregateCalls {
		msg := toolMessage + "-" + c.backend
		meta := ""
		h := slices.Clone(tr.callH)
		if i == 0 {
			metaTP, _ := newTraceparent()
			httpTP, _ := newTraceparent()
			meta = `,"_meta":{"traceparent":"` + metaTP + `"}`
			h = append(h, "Traceparent", httpTP)
		}
		body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":{"message":%q}%s}}`, 3+i, c.tool, msg, meta)
		if _, resp := post("tools/call "+c.tool, sid, body, http.StatusOK, h...); !strings.Contains(resp, msg) {
			t.Fatalf("tools/call %s: %s", c.tool, tail(resp, 500))
		}
	}
	if tr.badH != nil {
		rejTP, _ := newTraceparent()
		post("rejected tools/call", sid, `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"web_echo","arguments":{"message":"x"}}}`,
			http.StatusUnauthorized, append(slices.Clone(tr.badH), "Traceparent", rejTP)...)
	}
}

// checkAggregateSpans: the service's spans are 5 admitted SERVER spans, one
// CLIENT span per backend call (child of its SERVER span, its own
// mcpgate.backend and transport) and wantRejected rejected SERVER spans;
// every admitted span carries exactly want.attrs, rejected ones nothing;
// needles occur in what Jaeger stored only as the allowed attribute value.
func (f *leakFixture) checkAggregateSpans(t *testing.T, service string, wantRejected int, want wantUser, needles []needle) {
	t.Helper()
	const wantServer = 5 // initialize, notifications/initialized, tools/list, 2 × tools/call
	wantClient := len(aggregateCalls)
	raw, traces := jaegerRawTraces(t, f.j, service, wantServer+wantClient+wantRejected)
	var spans []Span
	for _, tr := range traces {
		spans = append(spans, tr.Spans...)
	}
	servers, clients, rejected, attributed := 0, 0, 0, 0
	serverByID := map[string]Span{}
	var clientSpans []Span
	for _, s := range spans {
		if s.Service != service {
			t.Errorf("span %q of service %q in the traces of %q", s.Name, s.Service, service)
			continue
		}
		isRejected := s.Kind == "server" && (s.Attributes["error.type"] == "unauthenticated" || s.Attributes["error.type"] == "forbidden")
		wantAttrs := want.attrs
		switch {
		case isRejected:
			rejected++
			wantAttrs = nil
		case s.Kind == "server":
			servers++
			serverByID[s.SpanID] = s
		case s.Kind == "client":
			clients++
			clientSpans = append(clientSpans, s)
		default:
			t.Errorf("unexpected %s span %q", s.Kind, s.Name)
		}
		if got := userKeys(s.Attributes); !mapsEqual(got, wantAttrs) {
			t.Errorf("%s span %q (backend %q, rejected=%v): identity attributes %v, want %v",
				s.Kind, s.Name, s.Attributes["mcpgate.backend"], isRejected, got, wantAttrs)
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
	if servers != wantServer || clients != wantClient || rejected != wantRejected {
		t.Errorf("%d admitted SERVER, %d CLIENT and %d rejected spans, want %d, %d and %d: %v",
			servers, clients, rejected, wantServer, wantClient, wantRejected, spanNames(spans))
	}
	// One CLIENT span per backend called, each under its call's SERVER span.
	backends := map[string]bool{}
	for _, c := range clientSpans {
		b := c.Attributes["mcpgate.backend"]
		backends[b] = true
		t.Logf("CLIENT span %q: backend %q, transport %q, identity %v", c.Name, b, c.Attributes["network.transport"], userKeys(c.Attributes))
		i := slices.IndexFunc(aggregateCalls, func(x struct{ tool, backend, transport string }) bool { return x.backend == b })
		if i < 0 {
			t.Errorf("CLIENT span %q: mcpgate.backend %q, want one of local, web", c.Name, b)
			continue
		}
		if c.Name != "tools/call echo" || c.Attributes["gen_ai.tool.name"] != "echo" {
			t.Errorf("CLIENT span of %s: name %q, gen_ai.tool.name %q; want tools/call echo, echo", b, c.Name, c.Attributes["gen_ai.tool.name"])
		}
		if tp := c.Attributes["network.transport"]; tp != aggregateCalls[i].transport {
			t.Errorf("CLIENT span of %s: network.transport %q, want %q", b, tp, aggregateCalls[i].transport)
		}
		parent, ok := serverByID[c.ParentSpanID]
		if !ok {
			t.Errorf("CLIENT span of %s: parent %s is not an admitted SERVER span", b, c.ParentSpanID)
		} else if parent.Name != "tools/call "+aggregateCalls[i].tool || parent.Attributes["mcpgate.backend"] != b {
			t.Errorf("CLIENT span of %s: parent SERVER span %q (backend %q), want tools/call %s", b, parent.Name, parent.Attributes["mcpgate.backend"], aggregateCalls[i].tool)
		}
	}
	if len(backends) != wantClient {
		t.Errorf("CLIENT spans name %d distinct backends %v, want %d", len(backends), backends, wantClient)
	}
	if want.allowed.value != "" && attributed != wantServer+wantClient {
		t.Errorf("%d spans carry %s, want every admitted span (%d)", attributed, want.allowed.what, wantServer+wantClient)
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
}

// checkAggregateProm scrapes /metrics (OpenMetrics) until it holds both
// calls (SERVER and per-backend CLIENT metrics) and, with wantAuthFailure,
// the rejection; then no needle, exemplar or identity label may occur.
func checkAggregateProm(t *testing.T, g *gateway, wantAuthFailure bool, needles []needle) {
	t.Helper()
	var text, ctype string
	eventually(t, 20*time.Second, "both calls on /metrics", func() bool {
		var err error
		if text, ctype, err = scrapeOpenMetrics(g.Admin); err != nil {
			return false
		}
		ok := true
		for _, c := range aggregateCalls {
			_, srv := promSample(text, "mcp_server_operation_duration_seconds_count", `mcp_method_name="tools/call"`, `mcpgate_backend="`+c.backend+`"`)
			_, cli := promSample(text, "mcp_client_operation_duration_seconds_count", `mcp_method_name="tools/call"`, `mcpgate_backend="`+c.backend+`"`)
			ok = ok && srv && cli
		}
		if wantAuthFailure {
			_, fail := promSample(text, "mcpgate_auth_failures_total", `error_type="unauthenticated"`)
			ok = ok && fail
		}
		return ok
	})
	lines := strings.Split(text, "\n")
	for _, n := range needles {
		if hits := linesWith(lines, n.value); len(hits) > 0 {
			t.Errorf("/metrics: %s %q in %d line(s), e.g. %s", n.what, n.value, len(hits), hits[0])
		}
	}
	for _, l := range lines {
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
		t.Logf("/metrics answered %q to an OpenMetrics Accept: exemplars could not show in this format", ctype)
	}
}

// TestUserAttributionAggregate is the leak test in aggregating mode:
// {raw, hashed} × {apiKey, oidc}, off with OIDC and hashed with anonymous
// auth, against one Jaeger and one server-everything over HTTP.
func TestUserAttributionAggregate(t *testing.T) {
	t.Parallel()
	f := newLeakFixture(t)
	web := startEverythingHTTP(t)
	start := time.Now()
	t.Cleanup(func() { t.Logf("TestUserAttributionAggregate: %v", time.Since(start).Round(time.Millisecond)) })

	pseudoOIDC := userHash(f.keyA, f.issuer.URL, oidcSubject)
	pseudoKey := userHash(f.keyA, keyIssuer, keySubject)

	cells := []struct{ mode, auth string }{
		{"raw", "apiKey"},
		{"raw", "oidc"},
		{"hashed", "apiKey"},
		{"hashed", "oidc"},
		{"off", "oidc"},
		{"hashed", "anonymous"},
	}
	for _, c := range cells {
		t.Run(c.mode+"/"+c.auth, func(t *testing.T) {
			t.Parallel()
			service := fmt.Sprintf("attr-agg-%s-%s-%s", c.mode, c.auth, testidp.RandomString(4))
			g := f.startAggregate(t, service, c.auth, c.mode, web)

			tok := f.oidcToken(t, f.sigKey, nil)
			badTok := f.oidcToken(t, f.badKey, nil)
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
			var subject, pseudonym string
			switch c.auth {
			case "oidc":
				h := []string{"Authorization", "Bearer " + tok}
				tr = traffic{initH: h, listH: h, callH: h, badH: []string{"Authorization", "Bearer " + badTok}}
				subject, pseudonym = oidcSubject, pseudoOIDC
			case "apiKey":
				tr = traffic{
					initH: []string{"X-API-Key", f.key.Key}, listH: []string{"X-API-Key", f.key.Key},
					callH: []string{"Authorization", "Bearer " + f.key.Key},
					badH:  []string{"X-API-Key", badKey},
				}
				subject, pseudonym = keySubject, pseudoKey
			case "anonymous":
				// Credentials are ignored in anonymous mode: send them
				// anyway, they must not attribute.
				tr = traffic{
					initH: []string{"Authorization", "Bearer " + tok}, listH: []string{"X-API-Key", f.key.Key},
					callH: []string{"Authorization", "Bearer " + tok},
				}
			}
			want := wantUser{}
			if subject != "" {
				switch c.mode {
				case "raw":
					want = wantUser{attrs: map[string]string{"user.id": subject}, allowed: needle{"the subject", subject}}
				case "hashed":
					want = wantUser{attrs: map[string]string{"user.hash": pseudonym, "mcpgate.user.hash.key_id": "k1"}, allowed: needle{"the pseudonym", pseudonym}}
				}
			}
			tr.runAggregate(t, g)

			wantRejected := 0
			if tr.badH != nil {
				wantRejected = 1
			}
			f.checkAggregateSpans(t, service, wantRejected, want, needles)
			checkAggregateProm(t, g, wantRejected > 0, needles)
			checkLogs(t, g, needles)
			if got := len(g.requests()); got < 5+wantRejected {
				t.Errorf("%d request log lines, want at least %d (log.requests: all)", got, 5+wantRejected)
			}
		})
	}
}
