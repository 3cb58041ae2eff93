package aggregate

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/otel/metric/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/mcpgate/mcpgate/internal/mcpwire/mcpwiretest"
	"github.com/mcpgate/mcpgate/internal/telemetry"
)

// eraBackend is a Go SDK server with one tool, "greet", behind an
// mcpwiretest.EraClassifier: it classifies eras the way the conformance
// suite's reference server does. stateless serves it without sessions and
// at session-era revisions only, so the aggregator's client falls back from
// server/discover to initialize and then sends every request sessionless.
func eraBackend(t *testing.T, name string, stateless bool) (Backend, *mcpwiretest.EraClassifier) {
	t.Helper()
	var opts *mcp.ServerOptions
	if stateless {
		opts = &mcp.ServerOptions{SupportedProtocolVersions: []string{"2025-11-25", "2025-06-18"}}
	}
	server := mcp.NewServer(&mcp.Implementation{Name: name, Version: "1"}, opts)
	server.AddTool(&mcp.Tool{Name: "greet", InputSchema: map[string]any{"type": "object"}},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: name}}}, nil
		})
	ec := &mcpwiretest.EraClassifier{Next: mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Stateless: stateless, JSONResponse: true})}
	srv := httptest.NewServer(ec)
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return Backend{Name: name, URL: u}, ec
}

// TestAggregatorTraceMetaEraClassification (issue 12, item 1): with tracing
// on, the sessions the aggregator opens with its backends start — its
// client's initialize carries no _meta, so a dual-era backend does not take
// it for a stateless request — and calls still carry the CLIENT span: in
// the traceparent header always, in _meta where the backend session pins
// the era. Before the rule the SERVER span's context went into initialize's
// _meta and both backends refused the session.
func TestAggregatorTraceMetaEraClassification(t *testing.T) {
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			sr := tracetest.NewSpanRecorder()
			tel, err := telemetry.New(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr)), noop.NewMeterProvider(), telemetry.InstrumentOptions{})
			if err != nil {
				t.Fatal(err)
			}
			sess, sessEC := eraBackend(t, "sess", false)
			sl, slEC := eraBackend(t, "sl", true)
			agg := newAggregator(t, Options{Backends: []Backend{sess, sl}, Telemetry: tel})
			cs := clientSessionPath(t, front(t, agg, tel), p.fast, nil)
			for _, tool := range []string{"sess_greet", "sl_greet"} {
				res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: map[string]any{}})
				if err != nil {
					t.Fatalf("%s: %v (the backend session did not start?)", tool, err)
				}
				if res.IsError {
					t.Errorf("%s: %s", tool, text(res))
				}
			}
			for name, ec := range map[string]*mcpwiretest.EraClassifier{"sess": sessEC, "sl": slEC} {
				if r := ec.Rejected(); len(r) > 0 {
					t.Errorf("%s refused %d request(s) as stateless ones: %+v", name, len(r), r)
				}
				var inits, calls int
				for _, s := range ec.Seen() {
					switch s.Method {
					case "initialize":
						inits++
						if s.HasMeta {
							t.Errorf("%s: initialize carried _meta (traceparent %q)", name, s.MetaTrace)
						}
						if s.HeaderTrace == "" {
							t.Errorf("%s: initialize without a traceparent header", name)
						}
					case "tools/call":
						calls++
						if s.HeaderTrace == "" {
							t.Errorf("%s: tools/call without a traceparent header", name)
						}
						pinned := s.SessionID != ""
						if pinned && s.MetaTrace != s.HeaderTrace {
							t.Errorf("%s: in-session tools/call _meta.traceparent %q, want the header's %q", name, s.MetaTrace, s.HeaderTrace)
						}
						if !pinned && s.HasMeta {
							t.Errorf("%s: sessionless tools/call got _meta %q", name, s.MetaTrace)
						}
					}
				}
				// At least one initialize: the client's server/discover probe
				// opens a client session of its own too.
				if inits == 0 || calls != 1 {
					t.Errorf("%s saw %d initialize and %d tools/call, want some and 1", name, inits, calls)
				}
			}
		})
	}
}
