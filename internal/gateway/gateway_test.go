package gateway

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/config"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

// wait bounds every wait in these tests.
const wait = 15 * time.Second

// logBuf collects the gateway's JSON log lines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// requests returns the observe stage's "request" lines.
func (l *logBuf) requests(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(l.b.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// upstreamConfig is the no-file configuration for an HTTP backend, with
// both listeners on ephemeral loopback ports.
func upstreamConfig(t *testing.T, url string) *config.Config {
	t.Helper()
	cfg, err := config.ForUpstream("127.0.0.1:0", url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Admin.Listen = "127.0.0.1:0"
	// The Host of httptest.NewRequest's requests.
	cfg.AllowedHosts = []string{"example.com"}
	return cfg
}

func newGateway(t *testing.T, cfg *config.Config, log *slog.Logger) *Gateway {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_ = g.backend.Close(ctx)
	})
	return g
}

// TestStageOrder pins the request path of docs/architecture.md: authn right after
// inspect (a rejected request is still recorded with what it asked for),
// trace right after authn (only an admitted request's trace context may
// parent its spans), then session binding, which needs authn's identity,
// then authz, which decides on that identity for a session it owns, then
// the rate limits (a call the policies deny spends no quota).
func TestStageOrder(t *testing.T) {
	g := newGateway(t, upstreamConfig(t, "http://127.0.0.1:1/mcp"), nil)
	want := []string{"observe", "recover", "limits", "origin", "drain", "inspect", "authn", "trace", "sessions", "authz", "ratelimit", "audit", "capture"}
	if got := StageNames(g.stages()); !slices.Equal(got, want) {
		t.Fatalf("stages %v, want %v", got, want)
	}
}

func TestRejectedRequestsAreObserved(t *testing.T) {
	var logs logBuf
	cfg := upstreamConfig(t, "http://127.0.0.1:1/mcp")
	cfg.Limits.MaxBodyBytes = 200
	cfg.CORS.AllowedOrigins = []string{"https://app.example.com"}
	g := newGateway(t, cfg, newLogger(&logs))
	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`

	tests := []struct {
		name       string
		body       string
		headers    map[string]string
		wantStatus int
		wantReason string
	}{
		{"413 from limits", strings.Repeat(" ", 300) + call, nil, http.StatusRequestEntityTooLarge, "body_too_large"},
		{"403 from origin", call, map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden, "origin_rejected"},
		{"403 from the Host check", call, map[string]string{"Host": "rebind.example:8080"}, http.StatusForbidden, "origin_rejected"},
		{"400 from inspect: an underscore spelling", call, map[string]string{"Mcp_Session_Id": "s"}, http.StatusBadRequest, "invalid_request"},
		{"400 from inspect: an upgrade", call, map[string]string{"Upgrade": "websocket", "Connection": "Upgrade"}, http.StatusBadRequest, "invalid_request"},
		{"400 from inspect", `{"jsonrpc":"2.0",`, nil, http.StatusBadRequest, "parse_error"},
		{"415 from inspect", call, map[string]string{"Content-Type": "text/plain"}, http.StatusUnsupportedMediaType, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(logs.requests(t))
			req := httptest.NewRequest(http.MethodPost, cfg.Path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			for k, v := range tc.headers {
				if k == "Host" {
					req.Host = v
					continue
				}
				req.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			g.Handler().ServeHTTP(w, req) // observe reports before returning
			if w.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.wantStatus, w.Body)
			}
			lines := logs.requests(t)
			if len(lines) != before+1 {
				t.Fatalf("%d request lines logged, want 1", len(lines)-before)
			}
			l := lines[len(lines)-1]
			if l["status"] != float64(tc.wantStatus) || l["reason"] != tc.wantReason || l["level"] != "WARN" {
				t.Fatalf("logged %v, want status %d reason %s at WARN", l, tc.wantStatus, tc.wantReason)
			}
		})
	}
}

func TestHealthAndReadiness(t *testing.T) {
	httpCfg := upstreamConfig(t, "http://127.0.0.1:1/mcp")
	stdioCfg, err := config.ForCommand("127.0.0.1:0", []string{"/bin/cat"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		cfg         *config.Config
		wantBackend map[string]any
	}{
		{"http backend", httpCfg, map[string]any{"name": "default", "kind": "http"}},
		{"stdio backend", stdioCfg, map[string]any{"name": "default", "kind": "stdio", "sessions": float64(0)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newGateway(t, tc.cfg, nil)
			get := func(h http.Handler, path string) *httptest.ResponseRecorder {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
				return w
			}
			for _, c := range []struct {
				h          http.Handler
				path, body string
			}{
				{g.Handler(), "/healthz", "ok\n"},
				{g.Handler(), "/readyz", "ready\n"},
				{g.adminMux(), "/healthz", "ok\n"},
			} {
				if w := get(c.h, c.path); w.Code != http.StatusOK || w.Body.String() != c.body {
					t.Errorf("%s: %d %q", c.path, w.Code, w.Body)
				}
			}
			w := get(g.adminMux(), "/readyz")
			var detail struct {
				Version  string
				Draining bool
				Backends []map[string]any
			}
			if err := json.Unmarshal(w.Body.Bytes(), &detail); err != nil || w.Code != http.StatusOK ||
				w.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("admin /readyz: %d %s (%v)", w.Code, w.Body, err)
			}
			if detail.Version != Version || detail.Draining || len(detail.Backends) != 1 ||
				!mapsEqual(detail.Backends[0], tc.wantBackend) {
				t.Fatalf("admin /readyz detail %+v", detail)
			}
		})
	}
}

func mapsEqual(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// running starts g.Run and returns its bound addresses and a stop function
// that cancels it and returns Run's result.
func running(t *testing.T, g *Gateway) (public, admin net.Addr, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan [2]net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx, func(p, a net.Addr) { addrs <- [2]net.Addr{p, a} }) }()
	var stopped bool
	var runErr error
	stop = func() error {
		if stopped {
			return runErr
		}
		stopped = true
		cancel()
		select {
		case runErr = <-done:
		case <-time.After(wait):
			t.Fatal("Run did not return")
		}
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	select {
	case a := <-addrs:
		return a[0], a[1], stop
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(wait):
		t.Fatal("Run did not become ready")
	}
	panic("unreachable")
}

func TestGracefulShutdown(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost:
			io.Copy(io.Discard, r.Body)
			once.Do(func() { close(started) })
			<-release
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"slow done"}]}}`)
		case http.MethodGet:
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, ": open\n\n")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}
	}))
	defer upstream.Close()
	defer once.Do(func() { close(started) })

	cfg := upstreamConfig(t, upstream.URL+"/mcp")
	g := newGateway(t, cfg, nil)
	public, admin, stop := running(t, g)
	base := "http://" + public.String() + cfg.Path
	client := &http.Client{Transport: &http.Transport{}}

	// An open GET stream.
	getReq, _ := http.NewRequest(http.MethodGet, base, nil)
	getReq.Header.Set("Accept", "text/event-stream")
	getReq.Header.Set(mcpwire.HeaderSessionID, "s1")
	stream, err := client.Do(getReq)
	if err != nil || stream.StatusCode != http.StatusOK {
		t.Fatalf("GET: %v %v", stream, err)
	}
	defer stream.Body.Close()
	streamEnded := make(chan struct{})
	go func() {
		io.Copy(io.Discard, stream.Body)
		close(streamEnded)
	}()

	// A slow request in flight.
	type result struct {
		status int
		body   string
		err    error
	}
	slow := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, base, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow"}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := client.Do(req)
		if err != nil {
			slow <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- result{resp.StatusCode, string(b), err}
	}()
	select {
	case <-started:
	case <-time.After(wait):
		t.Fatal("slow request did not reach the backend")
	}

	runResult := make(chan error, 1)
	go func() { runResult <- stop() }()

	// The GET stream ends promptly, while the slow request still runs.
	select {
	case <-streamEnded:
	case <-time.After(wait):
		t.Fatal("GET stream still open after shutdown began")
	}
	// Readiness reports draining.
	var detail map[string]any
	adminClient := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(wait)
	for {
		resp, err := adminClient.Get("http://" + admin.String() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		code := resp.StatusCode
		_ = json.NewDecoder(resp.Body).Decode(&detail)
		resp.Body.Close()
		if code == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz never reported draining")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if detail["draining"] != true {
		t.Fatalf("/readyz detail %v", detail)
	}
	// New connections are refused.
	deadline = time.Now().Add(wait)
	for {
		c, err := net.Dial("tcp", public.String())
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("public listener still accepts connections")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case r := <-slow:
		t.Fatalf("in-flight request ended before its backend answered: %+v", r)
	default:
	}

	close(release)
	select {
	case r := <-slow:
		if r.err != nil || r.status != http.StatusOK || !strings.Contains(r.body, "slow done") {
			t.Fatalf("in-flight request: %+v", r)
		}
	case <-time.After(wait):
		t.Fatal("in-flight request did not complete")
	}
	select {
	case err := <-runResult:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(wait):
		t.Fatal("Run did not return")
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 with the given
// serial number to certFile and keyFile, and returns it.
func writeCert(t *testing.T, serial int64, certFile, keyFile string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "mcpgate test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestTLSAndReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	roots := x509.NewCertPool()
	roots.AddCert(writeCert(t, 1001, certFile, keyFile))

	cfg := upstreamConfig(t, "http://127.0.0.1:1/mcp")
	cfg.TLS = config.ListenerTLS{CertFile: certFile, KeyFile: keyFile}
	g := newGateway(t, cfg, nil)
	public, _, stop := running(t, g)

	// serial makes a new connection and returns the certificate's serial.
	serial := func() int64 {
		t.Helper()
		conn, err := tls.Dial("tcp", public.String(), &tls.Config{RootCAs: roots})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := client.Get("https://" + public.String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("HTTPS /healthz: %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}

	steps := []struct {
		name       string
		prepare    func()
		wantErr    bool
		wantSerial int64
	}{
		{"initial certificate", func() {}, false, 1001},
		{"reload picks up the new certificate", func() { roots.AddCert(writeCert(t, 2002, certFile, keyFile)) }, false, 2002},
		{"broken files keep the current one", func() {
			if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, true, 2002},
	}
	for _, st := range steps {
		st.prepare()
		if err := g.ReloadTLS(); (err != nil) != st.wantErr {
			t.Fatalf("%s: ReloadTLS: %v", st.name, err)
		}
		if got := serial(); got != st.wantSerial {
			t.Fatalf("%s: serial %d, want %d", st.name, got, st.wantSerial)
		}
	}
	client.CloseIdleConnections()
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}
