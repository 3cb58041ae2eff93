package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestRoundThroughProxy runs short rounds against the real backend, directly
// and through the bare proxy, with JSON and SSE responses, with and without
// sessions, and with the largest message: the client's handshake and checks
// must pass against the official SDK in every shape the benchmark runs.
func TestRoundThroughProxy(t *testing.T) {
	tests := []struct {
		name           string
		sse, stateless bool
		payload        int
		// maxRequests per client: the largest messages make few calls, and
		// a call cut off by the round's end costs its connection, which
		// would read as broken keep-alive; a bound lets them finish first.
		maxRequests int
	}{
		{"json session", false, false, 100, 1000},
		{"sse session", true, false, 100, 1000},
		{"json stateless", false, true, 100, 1000},
		{"sse stateless", true, true, 100, 1000},
		{"json stateless largest message", false, true, maxPayload, 3},
		{"sse session largest message", true, false, maxPayload, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			backend := httptest.NewServer(newBackend(tt.sse, tt.stateless))
			defer backend.Close()
			u, err := url.Parse(backend.URL + "/mcp")
			if err != nil {
				t.Fatal(err)
			}
			proxy := httptest.NewServer(newProxy(u))
			defer proxy.Close()

			cfg := loadConfig{clients: 3, duration: 200 * time.Millisecond, maxRequests: tt.maxRequests, message: makeMessage(tt.payload)}
			if tt.maxRequests < 1000 {
				cfg.duration = 5 * time.Second // ends by maxRequests
			}
			for name, base := range map[string]string{"direct": backend.URL, "proxy": proxy.URL} {
				tg := newTarget(name, base+"/mcp", cfg.clients, 5*time.Second)
				res := runRound(context.Background(), tg, cfg)
				tg.closeIdle()
				if res.Errors != 0 || res.Requests == 0 {
					t.Fatalf("%s: %v (first error: %s)", name, res, res.FirstError)
				}
				// Keep-alive works when connections are reused for most requests;
				// a server may still close one now and then (the SDK's SSE
				// streams sometimes do), so one dial per client is not exact.
				if res.Dials > int64(cfg.clients) && res.Dials*2 > int64(res.Requests) {
					t.Errorf("%s: %d connections for %d requests from %d clients: keep-alive is not working",
						name, res.Dials, res.Requests, cfg.clients)
				}
				if res.P50 <= 0 || res.P99 < res.P50 || res.Throughput <= 0 {
					t.Errorf("%s: implausible figures %v", name, res)
				}
			}
		})
	}
}

// TestRoundCountsBadResponses checks that answers a relay could get wrong
// are counted as errors, not as fast successes.
func TestRoundCountsBadResponses(t *testing.T) {
	backend := httptest.NewServer(newBackend(false, false))
	defer backend.Close()
	for _, tt := range []struct {
		name string
		// tamper rewrites the backend's answer to a tools/call
		tamper func(w http.ResponseWriter, body []byte)
	}{
		{"http error", func(w http.ResponseWriter, _ []byte) { http.Error(w, "nope", http.StatusBadGateway) }},
		{"wrong id", func(w http.ResponseWriter, b []byte) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(bytes.Replace(b, []byte(`"id":`), []byte(`"id":1000`), 1))
		}},
		{"json-rpc error", func(w http.ResponseWriter, b []byte) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"x"}}`)
		}},
		{"wrong echo", func(w http.ResponseWriter, b []byte) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(bytes.Replace(b, []byte(`abc`), []byte(`xyz`), 1))
		}},
		{"wrong content type", func(w http.ResponseWriter, b []byte) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write(b)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			relay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reqBody, _ := io.ReadAll(r.Body)
				req, _ := http.NewRequest(r.Method, backend.URL+"/mcp", bytes.NewReader(reqBody))
				req.Header = r.Header.Clone()
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadGateway)
					return
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				if strings.Contains(string(reqBody), `"tools/call"`) {
					tt.tamper(w, body)
					return
				}
				for k, v := range resp.Header {
					w.Header()[k] = v
				}
				w.WriteHeader(resp.StatusCode)
				w.Write(body)
			}))
			defer relay.Close()
			cfg := loadConfig{clients: 2, duration: 100 * time.Millisecond, maxRequests: 5, message: makeMessage(10)}
			res := runRound(context.Background(), newTarget("bad", relay.URL+"/mcp", 2, 5*time.Second), cfg)
			if res.Errors == 0 || res.Requests != 0 {
				t.Fatalf("%v: want every call counted as an error", res)
			}
			t.Logf("first error: %s", res.FirstError)
		})
	}
}
