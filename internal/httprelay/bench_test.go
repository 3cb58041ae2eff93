package httprelay

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/metric/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/record"
	"github.com/mcpgate/mcpgate/internal/telemetry"
)

const benchResult = `{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"hi"}]}}`

// largeResult is a 64 KiB tools/call result: net/http sends it chunked,
// so the relay flushes every write, and the watcher inspects all of it.
var largeResult = `{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"` + strings.Repeat("x", 64<<10) + `"}]}}`

func benchBackend(b *testing.B, result string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, result)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// benchServe sends tools/call through h b.N times, each request carrying
// what the outer stages would have put in its context (the parse itself is
// inspect's cost, made once here).
func benchServe(b *testing.B, h http.Handler, result string) {
	raw := []byte(toolsCall)
	body, err := jsonrpc.Parse(raw, jsonrpc.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	in := &inspect.Request{Raw: raw, Body: body}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := &record.Record{}
		fillOps(rec, raw, &body)
		ctx := inspect.NewContext(record.NewContext(context.Background(), rec), in)
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/mcp", bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK || w.Body.Len() != len(result) {
			b.Fatalf("status %d body of %d bytes", w.Code, w.Body.Len())
		}
	}
}

func BenchmarkRelay(b *testing.B) {
	srv := benchBackend(b, benchResult)
	benchServe(b, newRelay(b, srv.URL+"/mcp", Options{}), benchResult)
}

func BenchmarkRelayLarge(b *testing.B) {
	srv := benchBackend(b, largeResult)
	benchServe(b, newRelay(b, srv.URL+"/mcp", Options{}), largeResult)
}

// BenchmarkBareProxy is the baseline the capacity figures of
// docs/operations.md are measured against.
func BenchmarkBareProxy(b *testing.B) {
	benchBareProxy(b, benchResult)
}

func BenchmarkBareProxyLarge(b *testing.B) {
	benchBareProxy(b, largeResult)
}

func benchBareProxy(b *testing.B, result string) {
	srv := benchBackend(b, result)
	u, err := url.Parse(srv.URL + "/mcp")
	if err != nil {
		b.Fatal(err)
	}
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.URL.Path = u.Path
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 512},
	}
	benchServe(b, p, result)
}

// BenchmarkRelayTraced is BenchmarkRelay with a CLIENT span per call, its
// traceparent in the headers and spliced into params._meta (spans sampled,
// exported to nowhere).
func BenchmarkRelayTraced(b *testing.B) {
	srv := benchBackend(b, benchResult)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sdktrace.NewBatchSpanProcessor(discard{})))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tel, err := telemetry.New(tp, noop.NewMeterProvider(), telemetry.InstrumentOptions{})
	if err != nil {
		b.Fatal(err)
	}
	benchServe(b, newRelay(b, srv.URL+"/mcp", Options{Telemetry: tel}), benchResult)
}

type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }
