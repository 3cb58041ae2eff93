package httprelay

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
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
