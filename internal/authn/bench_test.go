package authn

import (
	"net/http"
	"net/http/httptest"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/mcpgate/mcpgate/internal/record"
	"github.com/mcpgate/mcpgate/internal/testidp"
)

// BenchmarkVerify measures the authn stage on a request with a valid
// token: cold (every request verifies the signature: cache off) and cached.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []jose.SignatureAlgorithm{jose.ES256, jose.RS256} {
		for _, cached := range []bool{false, true} {
			name := string(alg) + "/cold"
			if cached {
				name = string(alg) + "/cached"
			}
			b.Run(name, func(b *testing.B) {
				p := testidp.New(b)
				clk := newClock()
				k := testidp.NewKey(b, "k1", alg)
				p.Publish(k)
				opts := baseOptions(p, clk)
				if !cached {
					opts.TokenCacheSize = 0
				}
				a := start(b, opts)
				h := a.Middleware()(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
				req := bearer(testidp.Sign(b, k, claimsFor(p, clk)))
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req.WithContext(record.NewContext(req.Context(), &record.Record{})))
				if w.Code != 200 {
					b.Fatalf("status %d", w.Code)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					rec := record.Record{}
					h.ServeHTTP(w, req.WithContext(record.NewContext(req.Context(), &rec)))
					if rec.Identity == nil {
						b.Fatal("no identity")
					}
				}
			})
		}
	}
	b.Run("apiKey", func(b *testing.B) {
		keys := make([]APIKey, 50)
		for i := range keys {
			_, d, _ := NewAPIKey()
			keys[i] = APIKey{Subject: "s", SHA256: d}
		}
		keys[49].SHA256 = Digest(testKey)
		a := start(b, Options{Resource: testResource, APIKeys: keys})
		h := a.Middleware()(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		req := apiKeyReq(testKey)
		w := httptest.NewRecorder()
		b.ReportAllocs()
		for b.Loop() {
			rec := record.Record{}
			h.ServeHTTP(w, req.WithContext(record.NewContext(req.Context(), &rec)))
			if rec.Identity == nil {
				b.Fatal("no identity")
			}
		}
	})
}
