package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestTelemetryNeverBlocks: a gateway whose OTLP trace endpoint hangs, and
// one whose endpoint refuses connections, serve 50 sequential tools/call
// requests that all succeed, log the export errors at a limited rate, count
// the lost spans, and stay healthy. Nothing here is timed except generous
// per-request client timeouts.
func TestTelemetryNeverBlocks(t *testing.T) {
	t.Parallel()
	const calls = 50
	cases := []struct {
		name     string
		endpoint func(t *testing.T) string
		env      []string
		queue    int
		dropType string // the mcpgate.telemetry.dropped error.type that must count
		minDrops float64
	}{
		{
			// Each export hangs until the exporter's timeout, and is
			// retried: the queue (10 spans) fills and later spans are
			// dropped and counted.
			name:     "black-hole",
			endpoint: func(t *testing.T) string { return startBlackhole(t).URL() },
			env:      []string{"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=1000", "OTEL_BSP_EXPORT_TIMEOUT=2000"},
			queue:    10,
			dropType: "queue_full",
			minDrops: 1,
		},
		{
			// One span per export, each refused at once and retried (issue
			// 13 item 14): the spans wait in the queue (20) until it is
			// full, then are dropped and counted; the outage is logged
			// once, not per failed attempt.
			name:     "closed-port",
			endpoint: func(t *testing.T) string { return fmt.Sprintf("http://127.0.0.1:%d", freeClosedPort(t)) },
			env:      []string{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE=1"},
			queue:    20,
			dropType: "queue_full",
			minDrops: 6,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			began := time.Now()
			g := startGatewayConfig(t, c.env, gatewayConfig{
				admin: adminOn,
				extra: fmt.Sprintf(`telemetry:
  serviceName: noblock-%s
  traces: {exporter: otlp, endpoint: %q, protocol: http/protobuf, batchTimeout: 20ms, queueSize: %d}
  metrics: {exporter: prometheus}
`, c.name, c.endpoint(t), c.queue),
				backends: []backendSpec{stdioBackend()},
			}.String())
			const timeout = 30 * time.Second // per request
			status, sid, body, err := tryPost(g.URL, "", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e-noblock","version":"1"}}}`, timeout)
			if err != nil || status != http.StatusOK || sid == "" {
				t.Fatalf("initialize: %d %q %v %s", status, sid, err, tail(body, 300))
			}
			if status, _, body, err := tryPost(g.URL, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, timeout); err != nil || status != http.StatusAccepted {
				t.Fatalf("notifications/initialized: %d %v %s", status, err, tail(body, 300))
			}
			ok := 0
			for i := 1; i <= calls; i++ {
				msg := fmt.Sprintf("noblock-%d", i)
				status, _, body, err := tryPost(g.URL, sid,
					fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"message":%q}}}`, i, msg), timeout)
				if err != nil || status != http.StatusOK || !strings.Contains(body, msg) || strings.Contains(body, `"error"`) {
					t.Errorf("tools/call %d: %d %v %s", i, status, err, tail(body, 300))
					continue
				}
				ok++
			}
			if ok != calls {
				t.Fatalf("%d of %d tools/call requests succeeded", ok, calls)
			}

			// Still healthy and serving.
			resp, err := (&http.Client{Timeout: timeout}).Get(g.Base + "/healthz")
			if err != nil {
				t.Fatalf("/healthz: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("/healthz: %d", resp.StatusCode)
			}
			resp, err = (&http.Client{Timeout: timeout}).Get(g.Admin + "/readyz")
			if err != nil {
				t.Fatalf("/readyz: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("/readyz: %d", resp.StatusCode)
			}
			if status, sid2, body, err := tryPost(g.URL, "", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e-noblock","version":"1"}}}`, timeout); err != nil || status != http.StatusOK || sid2 == "" {
				t.Errorf("a new session after the calls: %d %v %s", status, err, tail(body, 300))
			}

			// The lost spans are counted…
			var text string
			eventually(t, 20*time.Second, "mcpgate_telemetry_dropped_total{error_type=\""+c.dropType+"\"}", func() bool {
				var err error
				if text, _, err = scrapeOpenMetrics(g.Admin); err != nil {
					return false
				}
				v, _ := promSample(text, "mcpgate_telemetry_dropped_total", `error_type="`+c.dropType+`"`, `mcpgate_telemetry_signal="spans"`)
				return v >= c.minDrops
			})
			drops, _ := promSample(text, "mcpgate_telemetry_dropped_total", `error_type="`+c.dropType+`"`, `mcpgate_telemetry_signal="spans"`)

			// …and the outage logged once (exports are retried, so an
			// attempt that fails is no loss to report), with the
			// overflow of the queue once; other export errors at most 5
			// a minute.
			if _, ok := g.Log.waitFor(20*time.Second, func(l string) bool {
				return strings.Contains(l, `"msg":"span export failing`)
			}); !ok {
				t.Fatalf("no \"span export failing\" line within 20s; log:\n%s", tail(g.Log.String(), 3000))
			}
			if lines := linesWith(g.Log.Lines(), `"msg":"span export failing`); len(lines) != 1 || !strings.Contains(lines[0], `"level":"WARN"`) {
				t.Errorf("%d \"span export failing\" lines, want one at WARN for the outage:\n%s", len(lines), strings.Join(lines, "\n"))
			}
			// The queue's overflow: once for the outage, and (the black
			// hole's first attempt hangs for a second before it fails)
			// at most once more before the outage was known.
			if lines := linesWith(g.Log.Lines(), `"msg":"span queue full`); len(lines) < 1 || len(lines) > 2 {
				t.Errorf("%d \"span queue full\" lines, want 1 or 2:\n%s", len(lines), strings.Join(lines, "\n"))
			}
			errLines := linesWith(g.Log.Lines(), `"msg":"telemetry export error"`)
			limit := 5 * (1 + int(time.Since(began)/time.Minute))
			if len(errLines) > limit {
				t.Errorf("%d \"telemetry export error\" lines in %v, want at most %d (5 a minute):\n%s",
					len(errLines), time.Since(began).Round(time.Second), limit, strings.Join(errLines, "\n"))
			}
			for _, l := range errLines {
				if !strings.Contains(l, `"level":"WARN"`) || !strings.Contains(l, `"error":`) {
					t.Errorf("export error line without level WARN or the error: %s", l)
				}
			}
			t.Logf("%d requests succeeded; %v spans dropped (%s); %d export error line(s)",
				calls, drops, c.dropType, len(errLines))
		})
	}
}
