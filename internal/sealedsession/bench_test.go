package sealedsession

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// nopWriter is a ResponseWriter that keeps nothing, so that the benchmark
// measures the stage, not a recorder.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nopWriter) WriteHeader(int)             {}

// BenchmarkRequest is the stage's cost on a request of an existing relayed
// session: open the token, hand the backend its id, put the token back on
// the response.
func BenchmarkRequest(b *testing.B) {
	r := ring(&testing.T{}, nil, k1)
	be := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sid := r.Header.Get(mcpwire.HeaderSessionID)
		if sid == "" {
			sid = "b-1"
		}
		w.Header().Set(mcpwire.HeaderSessionID, sid)
		w.WriteHeader(http.StatusOK)
	})
	h := New(Options{Ring: r, Lifetime: time.Hour, Replica: "gw-0"}).Middleware(be)
	rec := &record.Record{Identity: alice}
	init := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, init.WithContext(record.NewContext(init.Context(), rec)))
	token := w.Header().Get(mcpwire.HeaderSessionID)
	if token == "" {
		b.Fatal("no token")
	}
	req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	req = req.WithContext(record.NewContext(req.Context(), rec))
	nw := &nopWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		req.Header.Set(mcpwire.HeaderSessionID, token)
		h.ServeHTTP(nw, req)
		if nw.h.Get(mcpwire.HeaderSessionID) != token {
			b.Fatal("token not restored")
		}
	}
}
