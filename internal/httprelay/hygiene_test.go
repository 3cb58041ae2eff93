package httprelay

import (
	"bufio"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/config"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// TestRequestTrailersDropped: trailers arrive after every stage decided on
// the headers; an Authorization or Mcp-Session-Id trailer must not reach
// the backend (issue 13 item 11).
func TestRequestTrailersDropped(t *testing.T) {
	backend, got := recordingBackend(t, answerJSON(`{"jsonrpc":"2.0","id":7,"result":{}}`))
	f := newFront(t, newRelay(t, backend.URL, Options{}))
	// A body of unknown length goes chunked, which is what carries trailers.
	req, err := http.NewRequest(http.MethodPost, f.URL, io.MultiReader(strings.NewReader(toolsCall)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set(mcpwire.HeaderSessionID, "sess-header")
	req.Trailer = http.Header{"Authorization": {"Bearer trailer-token"}, "Mcp-Session-Id": {"sess-trailer"}, "X-Forwarded-User": {"admin"}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	f.record(t)
	s := <-got
	if len(s.trailer) != 0 {
		t.Errorf("the backend received request trailers %v", s.trailer)
	}
	if v := s.header.Get("Content-Length"); v != strconv.Itoa(len(toolsCall)) {
		t.Errorf("Content-Length %q, want %d: the whole body is known", v, len(toolsCall))
	}
	if v := s.header.Get("Trailer"); v != "" {
		t.Errorf("the backend received a Trailer header %q", v)
	}
	if v := s.header.Values(mcpwire.HeaderSessionID); len(v) != 1 || v[0] != "sess-header" {
		t.Errorf("Mcp-Session-Id = %q, want the header's value only", v)
	}
	if string(s.body) != toolsCall {
		t.Errorf("body %q, want the client's", s.body)
	}
}

// TestConnectionCannotHideManagedHeaders: a Connection header naming an
// MCP header makes ReverseProxy drop it as hop-by-hop; the backend must
// still get the header the gateway checked (inspect refuses such requests
// first; this is the relay's own guarantee).
func TestConnectionCannotHideManagedHeaders(t *testing.T) {
	for _, named := range []string{mcpwire.HeaderProtocolVersion, mcpwire.HeaderSessionID, mcpwire.HeaderMethod, mcpwire.HeaderName, "Mcp-Param-Region", mcpwire.HeaderLastEventID} {
		t.Run(named, func(t *testing.T) {
			backend, got := recordingBackend(t, answerJSON(`{"jsonrpc":"2.0","id":7,"result":{}}`))
			f := newFront(t, newRelay(t, backend.URL, Options{}))
			resp := post(t, f.URL, toolsCall, http.Header{"Connection": {"keep-alive, " + strings.ToLower(named)}, named: {"checked-value"}})
			io.Copy(io.Discard, resp.Body)
			f.record(t)
			if v := (<-got).header.Values(named); len(v) != 1 || v[0] != "checked-value" {
				t.Errorf("%s at the backend = %q, want [checked-value]", named, v)
			}
		})
	}
	t.Run("an unmanaged header is still hop-by-hop", func(t *testing.T) {
		backend, got := recordingBackend(t, answerJSON(`{"jsonrpc":"2.0","id":7,"result":{}}`))
		f := newFront(t, newRelay(t, backend.URL, Options{ForwardHeaders: []string{"X-Tenant"}}))
		resp := post(t, f.URL, toolsCall, http.Header{"Connection": {"X-Tenant"}, "X-Tenant": {"acme"}})
		io.Copy(io.Discard, resp.Body)
		f.record(t)
		if v, ok := (<-got).header["X-Tenant"]; ok {
			t.Errorf("X-Tenant, named by Connection, reached the backend: %q", v)
		}
	})
}

// TestNoProtocolSwitch: the relay never switches protocols, whatever the
// client asks and whatever the backend answers (issue 13 item 2; inspect
// refuses upgrade requests first, this is defence in depth).
func TestNoProtocolSwitch(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
	}{
		{"websocket requested", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}}},
		{"h2c requested", http.Header{"Connection": {"Upgrade, HTTP2-Settings"}, "Upgrade": {"h2c"}, "Http2-Settings": {"AAMAAABkAAQAAP__"}}},
		{"nothing requested", http.Header{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A backend that switches to whatever was asked (websocket when
			// nothing was), then sends bytes on the switched connection.
			seenUpgrade := make(chan string, 1)
			backend, _ := recordingBackend(t, func(w http.ResponseWriter, r *http.Request) {
				seenUpgrade <- r.Header.Get("Upgrade") + "|" + r.Header.Get("Connection")
				up := r.Header.Get("Upgrade")
				if up == "" {
					up = "websocket"
				}
				conn, brw, err := http.NewResponseController(w).Hijack()
				if err != nil {
					t.Errorf("hijack: %v", err)
					return
				}
				defer conn.Close()
				brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + up + "\r\n\r\ntunnel-bytes")
				brw.Flush()
				conn.SetReadDeadline(time.Now().Add(2 * time.Second))
				bufio.NewReader(conn).ReadString('\n') // whatever the tunnel would carry
			})
			f := newFront(t, newRelay(t, backend.URL, Options{}))
			req, err := http.NewRequest(http.MethodGet, f.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tt.header.Clone()
			req.Header.Set("Accept", "text/event-stream")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			rec := f.record(t)
			if resp.StatusCode != http.StatusBadGateway {
				t.Fatalf("status %d (%q), want 502: the relay switched protocols", resp.StatusCode, body)
			}
			if strings.Contains(string(body), "tunnel-bytes") {
				t.Errorf("the client received bytes of the switched connection: %q", body)
			}
			if e := decodeError(t, body); e.Error.Code != mcpwire.CodeGateway || !strings.Contains(e.Error.Message, "switch protocols") {
				t.Errorf("error %+v, want -32000 naming the protocol switch", e.Error)
			}
			if rec.Reason != record.ReasonUpstreamError {
				t.Errorf("reason %q, want %s", rec.Reason, record.ReasonUpstreamError)
			}
			if got := <-seenUpgrade; got != "|" {
				t.Errorf("the backend was asked to upgrade: Upgrade|Connection = %q", got)
			}
		})
	}
}

// TestAllowListMatchesConfig: the configuration refuses forwardHeaders
// entries that are forwarded anyway by the list it keeps; it must be this
// package's list.
func TestAllowListMatchesConfig(t *testing.T) {
	got := append(slices.Clone(forwardedHeaders), mcpHeaders...)
	slices.Sort(got)
	want := slices.Clone(config.AlwaysForwarded)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("httprelay forwards %q, config.AlwaysForwarded says %q", got, want)
	}
}
