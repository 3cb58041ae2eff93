package observe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/internal/record"
)

// TestClientAddr (issue 13 item 13): the record's client is the address a
// trusted proxy forwarded, and never one an untrusted peer or the client
// itself claims.
func TestClientAddr(t *testing.T) {
	lb := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:1::/48")}
	tests := []struct {
		name     string
		remote   string
		xff      []string // X-Forwarded-For header lines
		trusted  []netip.Prefix
		wantAddr string
		wantPort int
	}{
		{"no trusted proxies: the peer", "10.1.1.1:4000", []string{"203.0.113.7"}, nil, "10.1.1.1", 4000},
		{"untrusted peer: its header ignored", "192.0.2.10:4000", []string{"203.0.113.7"}, lb, "192.0.2.10", 4000},
		{"trusted peer: the forwarded client", "10.1.1.1:4000", []string{"203.0.113.7"}, lb, "203.0.113.7", 0},
		{"the client's own claim left of the proxy's entry", "10.1.1.1:4000", []string{"198.51.100.9, 203.0.113.7"}, lb, "203.0.113.7", 0},
		{"a chain of trusted proxies", "10.1.1.1:4000", []string{"203.0.113.7, 10.2.2.2,10.3.3.3"}, lb, "203.0.113.7", 0},
		{"several header lines: the last is the peer's", "10.1.1.1:4000", []string{"198.51.100.9", "203.0.113.7"}, lb, "203.0.113.7", 0},
		{"all hops trusted: the leftmost", "10.1.1.1:4000", []string{"10.9.9.9, 10.2.2.2"}, lb, "10.9.9.9", 0},
		{"trusted peer without the header", "10.1.1.1:4000", nil, lb, "10.1.1.1", 4000},
		{"garbage from the peer: the peer", "10.1.1.1:4000", []string{"unknown"}, lb, "10.1.1.1", 4000},
		{"garbage left of a trusted hop: that hop", "10.1.1.1:4000", []string{"<script>, 10.2.2.2"}, lb, "10.2.2.2", 0},
		{"entry with a port", "10.1.1.1:4000", []string{"203.0.113.7:5555"}, lb, "203.0.113.7", 0},
		{"IPv6 entry with a port", "10.1.1.1:4000", []string{"[2001:db8::7]:5555"}, lb, "2001:db8::7", 0},
		{"IPv6 peer and chain", "[2001:db8:1::5]:4000", []string{"2001:db8::7, 2001:db8:1::9"}, lb, "2001:db8::7", 0},
		{"IPv4-mapped peer", "[::ffff:10.1.1.1]:4000", []string{"203.0.113.7"}, lb, "203.0.113.7", 0},
		{"zone refused", "10.1.1.1:4000", []string{"fe80::1%eth0"}, lb, "10.1.1.1", 4000},
		{"empty entries", "10.1.1.1:4000", []string{" , "}, lb, "10.1.1.1", 4000},
		{"too many hops: the walk stops", "10.1.1.1:4000", []string{"203.0.113.7," + strings.Repeat("10.2.2.2,", 40) + "10.2.2.2"}, lb, "10.2.2.2", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got *record.Record
			h := NewWithOptions(Options{TrustedProxies: tc.trusted}, ReporterFunc(func(_ context.Context, rec *record.Record) { got = rec }))(
				http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			req.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			if got.ClientAddr != tc.wantAddr || got.ClientPort != tc.wantPort {
				t.Errorf("client %s port %d, want %s port %d", got.ClientAddr, got.ClientPort, tc.wantAddr, tc.wantPort)
			}
		})
	}
}

// FuzzForwardedClient: any header parses without panicking, and the
// client it names is a valid address that appears in the header.
func FuzzForwardedClient(f *testing.F) {
	for _, s := range []string{"203.0.113.7", "198.51.100.9, 203.0.113.7", "[2001:db8::7]:5555", "unknown, 10.2.2.2", ",,,", "fe80::1%eth0"} {
		f.Add(s)
	}
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	f.Fuzz(func(t *testing.T, v string) {
		a, ok := forwardedClient([]string{v}, trusted)
		if !ok {
			return
		}
		if !a.IsValid() || a.Zone() != "" {
			t.Fatalf("forwardedClient(%q) = %v", v, a)
		}
		// An IPv4 client (also one written IPv4-mapped) is spelled in the
		// header as it is printed; IPv6 has other spellings.
		if a.Is4() && !strings.Contains(v, a.String()) {
			t.Fatalf("forwardedClient(%q) = %v, not in the header", v, a)
		}
	})
}
