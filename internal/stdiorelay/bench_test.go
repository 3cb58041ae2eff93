package stdiorelay

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/observe"
)

// BenchmarkToolsCall measures a tools/call through observe, inspect and the
// relay to a session's own (fake) child and back, without an HTTP client or
// server in the way.
func BenchmarkToolsCall(b *testing.B) {
	for _, mode := range []struct{ name, accept string }{
		{"json", acceptJSON},
		{"sse", acceptBoth},
	} {
		b.Run(mode.name, func(b *testing.B) {
			h := newHarness(b, Options{})
			sid := h.initialize()
			handler := observe.New(nil)(inspect.New(inspect.Options{})(h.relay))
			body := callBody(1, "echo", map[string]any{"text": "hello"}, nil)
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", mode.accept)
				req.Header.Set(mcpwire.HeaderSessionID, sid)
				req.Header.Set(mcpwire.HeaderProtocolVersion, version)
				w := httptest.NewRecorder()
				handler.ServeHTTP(w, req)
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"hello"`) {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
