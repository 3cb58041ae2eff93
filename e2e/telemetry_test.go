package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The telemetry end to end: a real gateway process exports over OTLP to a
// real Jaeger, and the spans are checked as Jaeger returns them.

const (
	e2eMetaTP = "00-22222222222222222222222222222222-bbbbbbbbbbbbbbbb-01"
	e2eHTTPTP = "00-11111111111111111111111111111111-aaaaaaaaaaaaaaaa-01"
	e2eRejTP  = "00-33333333333333333333333333333333-cccccccccccccccc-01"
)

func TestTracesInJaeger(t *testing.T) {
	for _, bc := range backends() {
		t.Run(bc.name, func(t *testing.T) {
			t.Parallel()
			j := startJaeger(t)
			spec := bc.start(t)
			service := "mcpgate-e2e-" + bc.name
			g := startGateway(t, spec, gatewayOpts{admin: true, extra: fmt.Sprintf(
				"telemetry:\n  serviceName: %s\n  traces: {exporter: otlp, endpoint: %q, batchTimeout: 50ms}\n",
				service, j.OTLPHTTPEndpoint())})

			status, sid, body := rawPost(t, g.URL, "", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e-raw","version":"0.1"}}}`)
			if status != http.StatusOK || sid == "" {
				t.Fatalf("initialize: %d %q %s", status, sid, body)
			}
			rawPost(t, g.URL, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
			rawPost(t, g.URL, sid, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
			// _meta parent, HTTP header linked.
			status, _, body = rawPost(t, g.URL, sid,
				`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"},"_meta":{"traceparent":"`+e2eMetaTP+`"}}}`,
				"Traceparent", e2eHTTPTP)
			if status != http.StatusOK || !strings.Contains(body, "hi") {
				t.Fatalf("tools/call: %d %s", status, body)
			}
			// Rejected before parsing: a new root linked to the header.
			if status, _, _ := rawPost(t, g.URL, sid, `{"jsonrpc":`, "Traceparent", e2eRejTP); status != http.StatusBadRequest {
				t.Fatalf("bad body: status %d", status)
			}

			// SERVER and CLIENT spans of initialize, notifications/initialized,
			// tools/list and tools/call, and the rejected request's span.
			traces := j.Traces(service, 9)
			var call, reject *Trace
			for i := range traces {
				switch traces[i].TraceID {
				case "22222222222222222222222222222222":
					call = &traces[i]
				}
				for _, s := range traces[i].Spans {
					if s.Name == "POST" {
						reject = &traces[i]
					}
				}
			}
			if call == nil {
				t.Fatalf("no trace continues the _meta traceparent; traces: %+v", traces)
			}
			// The session id is a capability: no span, SERVER or CLIENT,
			// carries it (docs/telemetry.md), only its ref.
			for _, tr := range traces {
				for _, s := range tr.Spans {
					for k, v := range s.Attributes {
						if strings.Contains(v, sid) {
							t.Errorf("%s span %q: %s = %q carries the session id", s.Kind, s.Name, k, v)
						}
					}
				}
			}
			var server, client *Span
			for i, s := range call.Spans {
				switch {
				case s.Name != "tools/call echo":
				case s.Kind == "server":
					server = &call.Spans[i]
				case s.Kind == "client":
					client = &call.Spans[i]
				}
			}
			if server == nil || client == nil || len(call.Spans) != 2 {
				t.Fatalf("want a SERVER and a CLIENT span named tools/call echo; spans: %+v", call.Spans)
			}
			if server.ParentSpanID != "bbbbbbbbbbbbbbbb" {
				t.Errorf("SERVER span parent %s, want the _meta parent", server.ParentSpanID)
			}
			if len(server.Links) != 1 || server.Links[0].TraceID != "11111111111111111111111111111111" ||
				server.Links[0].Attributes["mcpgate.link.source"] != "http" {
				t.Errorf("SERVER span links %+v, want the HTTP traceparent", server.Links)
			}
			for k, want := range map[string]string{
				"mcp.method.name": "tools/call", "gen_ai.tool.name": "echo", "gen_ai.operation.name": "execute_tool",
				"jsonrpc.request.id": "2", "mcp.protocol.version": "2025-06-18", "mcpgate.session.ref": sessionRef(sid),
				"network.transport": "tcp", "network.protocol.name": "http", "mcpgate.backend": "everything",
			} {
				if got := server.Attributes[k]; got != want {
					t.Errorf("SERVER %s = %q, want %q", k, got, want)
				}
			}
			if server.StatusCode != "unset" || server.Resource["service.version"] == "" || server.Resource["service.instance.id"] == "" {
				t.Errorf("SERVER status %s resource %v", server.StatusCode, server.Resource)
			}
			if client.ParentSpanID != server.SpanID {
				t.Errorf("CLIENT span's parent %s, want the SERVER span %s", client.ParentSpanID, server.SpanID)
			}
			wantTransport := map[string]string{"stdio": "pipe", "http": "tcp"}[bc.name]
			if client.Attributes["network.transport"] != wantTransport {
				t.Errorf("CLIENT network.transport %q, want %q", client.Attributes["network.transport"], wantTransport)
			}
			if bc.name == "http" && (client.Attributes["server.address"] != "127.0.0.1" || client.Attributes["server.port"] == "") {
				t.Errorf("CLIENT server.address/port: %v", client.Attributes)
			}

			if reject == nil {
				t.Fatal("no span for the rejected request")
			}
			rs := reject.Span(t, "POST")
			if rs.ParentSpanID != "" || reject.TraceID == "33333333333333333333333333333333" ||
				len(rs.Links) != 1 || rs.Links[0].TraceID != "33333333333333333333333333333333" ||
				rs.Attributes["error.type"] != "parse_error" || rs.StatusCode != "error" {
				t.Errorf("rejected request span %+v", rs)
			}

			// The tool name, listed by the backend, is a metric label.
			resp, err := http.Get(g.Admin + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			m, _ := io.ReadAll(resp.Body)
			if !strings.Contains(string(m), `gen_ai_tool_name="echo"`) ||
				!strings.Contains(string(m), "mcp_client_operation_duration_seconds_bucket") {
				t.Errorf("/metrics lacks the echo series:\n%s", tail(string(m), 3000))
			}
			// The request log line joins the trace.
			if _, ok := g.Log.waitFor(5*time.Second, func(l string) bool {
				return strings.Contains(l, `"trace_id":"22222222222222222222222222222222"`)
			}); !ok {
				t.Errorf("no log line carries the call's trace_id")
			}
		})
	}
}
