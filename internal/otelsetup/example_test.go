package otelsetup_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/observe"
	"github.com/mcpgate/mcpgate/internal/otelsetup"
	"github.com/mcpgate/mcpgate/internal/record"
	"github.com/mcpgate/mcpgate/internal/telemetry"
)

// The gateway builds the pipelines once with Setup and wires the
// instrumentation it returns in three places: the Reporter on observe, and
// the Stage after authn (here, with no authn, right after inspect). A relay
// makes CLIENT spans with StartClient. Shutdown flushes what is queued.
func Example() {
	p, err := otelsetup.Setup(context.Background(), otelsetup.Options{
		Traces:  otelsetup.TracesOptions{Exporter: "none"},
		Metrics: otelsetup.MetricsOptions{Exporter: "prometheus"},
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	defer p.Shutdown(context.Background())
	tel := p.Telemetry()

	backend := telemetry.StdioBackend("everything")
	relay := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := record.FromContext(r.Context())
		rec.Backend = backend.Name
		_, cs := tel.StartClient(r.Context(), &backend, &rec.Ops[0])
		defer cs.End()
		rec.Ops[0].Answered = true
		w.WriteHeader(http.StatusOK)
	})
	h := observe.New(nil, tel.Reporter())(inspect.New(inspect.Options{})(tel.Stage()(relay)))

	req := httptest.NewRequest("POST", "/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	h.ServeHTTP(httptest.NewRecorder(), req)

	w := httptest.NewRecorder()
	p.PrometheusHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(w.Body.String(), "\n") {
		if strings.HasPrefix(line, "mcp_server_operation_duration_seconds_count") {
			fmt.Println(line[:strings.Index(line, "{")], "has", line[strings.LastIndex(line, " ")+1:])
		}
	}
	// Output: mcp_server_operation_duration_seconds_count has 1
}
