package httprelay

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingConn counts the writes made on a connection to the backend.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestRequestInOneWrite: a relayed POST goes to the backend as one write,
// headers and body together. A body type net/http does not know to be in
// memory makes it flush the headers on their own first (ReverseProxy's
// body wrapper did): one more syscall and packet per request on the relay
// and on the backend, under load a measurable share of both.
func TestRequestInOneWrite(t *testing.T) {
	backend, seen := recordingBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"jsonrpc":"2.0","id":7,"result":{}}`))
	})
	r := newRelay(t, backend.URL, Options{})
	var writes atomic.Int64
	var d net.Dialer
	r.transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{c, &writes}, nil
	}
	f := newFront(t, r)
	for i := range 3 {
		writes.Store(0)
		resp := post(t, f.URL, toolsCall, nil)
		resp.Body.Close()
		f.record(t)
		<-seen
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
		if n := writes.Load(); n != 1 {
			t.Errorf("request %d: %d writes to the backend's connection, want 1 (headers and body together)", i, n)
		}
	}
}

// TestNoInterimResponses: a backend's 1xx interim responses (103 Early
// Hints here, with a Link header) stay at the gateway. MCP has no use for
// them, and they would carry the backend's headers to the client past the
// response's own handling.
func TestNoInterimResponses(t *testing.T) {
	backend, _ := recordingBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</evil.js>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"jsonrpc":"2.0","id":7,"result":{}}`))
	})
	f := newFront(t, newRelay(t, backend.URL, Options{}))
	var interim []int
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
		interim = append(interim, code)
		return nil
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodPost, f.URL, strings.NewReader(toolsCall))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	f.record(t)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if len(interim) > 0 {
		t.Errorf("the client received interim responses %v", interim)
	}
}

// TestStreamsNeverWait: an event stream's headers, and every write of it
// or of a response of unknown length, reach the client while the backend
// is still holding the response open; nothing waits in a buffer for the
// end (what ReverseProxy does with FlushInterval 0, which the relay
// replaced).
func TestStreamsNeverWait(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		// length is the Content-Length the backend announces (more than it
		// sends before waiting); "" for none (chunked).
		length string
		first  string // written and flushed before the backend waits; "" for headers only
	}{
		{"event stream headers", "text/event-stream", "", ""},
		{"event stream event", "text/event-stream", "", "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\n"},
		{"event stream of known length", "text/event-stream", "1000", "data: {}\n\n"},
		{"event stream of known length, media type parameters", "Text/Event-Stream; charset=utf-8", "1000", "data: {}\n\n"},
		{"unknown-length JSON", "application/json", "", `{"jsonrpc":"2.0","id":7,`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			backend, _ := recordingBackend(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				if tt.length != "" {
					w.Header().Set("Content-Length", tt.length)
				}
				w.WriteHeader(http.StatusOK)
				if tt.first != "" {
					w.Write([]byte(tt.first))
				}
				http.NewResponseController(w).Flush()
				select {
				case <-release:
				case <-r.Context().Done():
				}
			})
			defer close(release)
			f := newFront(t, newRelay(t, backend.URL, Options{}))
			req, err := http.NewRequest(http.MethodPost, f.URL, strings.NewReader(toolsCall))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			got := make(chan string, 1)
			go func() {
				resp, err := client.Do(req)
				if err != nil {
					got <- "error: " + err.Error()
					return
				}
				defer resp.Body.Close()
				buf := make([]byte, len(tt.first))
				n, _ := io.ReadFull(resp.Body, buf)
				got <- string(buf[:n])
			}()
			select {
			case s := <-got:
				if s != tt.first {
					t.Errorf("client read %q, want %q", s, tt.first)
				}
			case <-time.After(bound):
				t.Fatalf("the client got nothing while the backend held the response open")
			}
		})
	}
}
