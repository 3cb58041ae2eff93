package config

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestForUpstream(t *testing.T) {
	c, err := ForUpstream("127.0.0.1:7000", "https://mcp.example.com/mcp")
	if err != nil {
		t.Fatal(err)
	}
	// The one intended difference: trying things without a file, every
	// request is logged.
	want := mustParse(t, "listen: 127.0.0.1:7000\nbackends:\n  - name: default\n    url: https://mcp.example.com/mcp\nauth: {mode: anonymous}\nlog: {requests: all}\n")
	got := *c
	got.meta, want.meta = nil, nil
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("ForUpstream =\n%+v\nwant (same as the equivalent file)\n%+v", got, *want)
	}
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], "without a config file") {
		t.Errorf("Warnings = %q", w)
	}
}

func TestForCommand(t *testing.T) {
	argv := []string{"npx", "-y", "@modelcontextprotocol/server-everything"}
	c, err := ForCommand("", argv)
	if err != nil {
		t.Fatal(err)
	}
	argv[0] = "changed"
	b := c.Backends[0]
	if c.Listen != DefaultListen || b.Name != "default" || b.Command[0] != "npx" || b.Isolation != IsolationSession || b.MaxSessions != 100 || !c.Auth.Anonymous() {
		t.Errorf("ForCommand = %+v", c)
	}
}

func TestCLIErrors(t *testing.T) {
	tests := []struct {
		name string
		run  func() (*Config, error)
		want string
	}{
		{"public listen", func() (*Config, error) { return ForUpstream("0.0.0.0:8080", "http://127.0.0.1:1") },
			`--listen "0.0.0.0:8080" is not a loopback address: without a config file mcpgate serves clients without authentication, so it only listens on 127.0.0.1, ::1 or localhost; use a config file (auth.allowAnonymousOnPublicListener) to listen elsewhere`},
		{"all interfaces", func() (*Config, error) { return ForCommand(":8080", []string{"x"}) },
			`--listen ":8080" is not a loopback address: without a config file mcpgate serves clients without authentication, so it only listens on 127.0.0.1, ::1 or localhost; use a config file (auth.allowAnonymousOnPublicListener) to listen elsewhere`},
		{"bad listen", func() (*Config, error) { return ForUpstream("localhost", "http://127.0.0.1:1") },
			`--listen "localhost" is not a host:port address (e.g. 127.0.0.1:8080 or [::1]:8080)`},
		{"bad upstream", func() (*Config, error) { return ForUpstream("[::1]:8080", "ftp://x") },
			`--upstream: "ftp://x": scheme must be http or https`},
		{"no command", func() (*Config, error) { return ForCommand("127.0.0.1:1", nil) },
			`no command given: use serve --listen ADDR -- COMMAND [ARGS...]`},
		{"empty program", func() (*Config, error) { return ForCommand("127.0.0.1:1", []string{""}) },
			`command: the program must not be empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.run()
			if err == nil || err.Error() != tt.want {
				t.Errorf("error:\n got: %v\nwant: %s", err, tt.want)
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:8080", true},
		{"127.1.2.3:80", true},
		{"[::1]:8080", true},
		{"localhost:8080", true},
		{"LOCALHOST:1", true},
		{"localhost", true},
		{"::1", true},
		{"[::ffff:127.0.0.1]:1", true},
		{"0.0.0.0:8080", false},
		{":8080", false},
		{"[::]:8080", false},
		{"10.0.0.1:8080", false},
		{"example.com:80", false},
		{"localhost.example.com:80", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := IsLoopback(tt.addr); got != tt.want {
				t.Errorf("IsLoopback(%q) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1024", 1024, true},
		{"512B", 512, true},
		{"64KiB", 64 << 10, true},
		{"4MiB", 4 << 20, true},
		{"4 MiB", 4 << 20, true},
		{"2GiB", 2 << 30, true},
		{"8589934591GiB", 8589934591 << 30, true},
		{"8589934592GiB", 0, false},
		{"4MB", 0, false},
		{"4mib", 0, false},
		{"4K", 0, false},
		{"1.5MiB", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"MiB", 0, false},
		{"", 0, false},
		{"4  MiB", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSize(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("parseSize(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
	for n, want := range map[int64]string{0: "0B", 1: "1B", 1536: "1536B", 4 << 20: "4MiB", 64 << 10: "64KiB", 3 << 30: "3GiB"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestValidateInCode checks Validate on a Config built in code: no file, no
// line, just the key path.
func TestValidateInCode(t *testing.T) {
	c, err := ForUpstream("127.0.0.1:1", "http://127.0.0.1:2")
	if err != nil {
		t.Fatal(err)
	}
	c.meta = nil
	c.Limits.MaxBatch = 0
	c.Backends[0].Timeouts.Connect = -time.Second
	c.Log.Level = "loud"
	err = c.Validate()
	want := "limits.maxBatch: must be greater than 0, got 0\n" +
		"backends[0].timeouts.connect: must be greater than 0, got -1s\n" +
		`log.level: unknown level "loud" (valid: debug, info, warn, error)`
	if err == nil || err.Error() != want {
		t.Errorf("Validate:\n got: %v\nwant: %s", err, want)
	}
	var e *Error
	if !errors.As(err, &e) || e.Path != "limits.maxBatch" || e.File != "" || e.Line != 0 {
		t.Errorf("errors.As = %+v", e)
	}
}

func TestManyErrorsAreCapped(t *testing.T) {
	var b strings.Builder
	for i := range 30 {
		b.WriteString("unknown" + string(rune('a'+i%26)) + strings.Repeat("x", i/26) + ": 1\n")
	}
	_, err := Parse("m.yaml", []byte(b.String()), Lookup{})
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxErrors+1 || lines[maxErrors] != "… and 10 more problems" {
		t.Errorf("got %d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "mcpgate.yaml")
	if err := os.WriteFile(f, []byte(minimalCommand+"log: {level: bogus}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(f)
	if want := f + `:6: log.level: unknown level "bogus" (valid: debug, info, warn, error)`; err == nil || err.Error() != want {
		t.Errorf("Load: %v, want %s", err, want)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v", err)
	}
}

func TestWarnings(t *testing.T) {
	c := mustParse(t, `listen: 0.0.0.0:8080
admin: {listen: "0.0.0.0:9464"}
cors: {allowedOrigins: ["*"]}
backends:
  - name: a
    url: http://10.0.0.5:3000/mcp
    headers: {Authorization: x}
auth: {mode: anonymous, allowAnonymousOnPublicListener: true}
`)
	w := strings.Join(c.Warnings(), "\n")
	for _, want := range []string{`cors.allowedOrigins contains "*"`, "anonymous on non-loopback", "admin.listen 0.0.0.0:9464 is not loopback: metrics and /debug/pprof", "plain http"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
	if !c.CORS.Wildcard {
		t.Error("Wildcard not set")
	}
	if w := mustParse(t, minimalURL).Warnings(); len(w) != 0 {
		t.Errorf("minimal config warnings: %q", w)
	}
}

func TestLogValueHidesSecrets(t *testing.T) {
	src := `backends:
  - name: a
    url: https://mcp.example.com/mcp?key=${env:KEY}
    headers: {Authorization: "Bearer ${env:KEY}", X-Static: static-secret}
auth: {mode: anonymous}
`
	c, err := Parse("m.yaml", []byte(src), fakeLookup(map[string]string{"KEY": "hunter2"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "config", c)
	out := buf.String()
	if strings.Contains(out, "hunter2") || strings.Contains(out, "static-secret") {
		t.Errorf("log reveals a secret: %s", out)
	}
	if !strings.Contains(out, "key=${env:KEY}") || !strings.Contains(out, "Authorization") {
		t.Errorf("log lacks the reference or header name: %s", out)
	}
}

func TestCheckFiles(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	exe := filepath.Join(dir, "server.sh")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		src  string
		want string // "" = no error
	}{
		{"listener tls ok", "tls: {certFile: cert.pem, keyFile: key.pem}\n" + minimalURL, ""},
		{"listener key missing", "tls: {certFile: cert.pem, keyFile: nope.pem}\n" + minimalURL,
			`m.yaml:1: tls: cannot load certificate "` + cert + `" and key "` + filepath.Join(dir, "nope.pem") + `": no such file or directory`},
		{"ca ok", "backends:\n  - name: a\n    url: https://x.example.com\n    tls: {caFile: cert.pem, certFile: cert.pem, keyFile: key.pem}\nauth: {mode: anonymous}\n", ""},
		{"ca not PEM", "backends:\n  - name: a\n    url: https://x.example.com\n    tls: {caFile: server.sh}\nauth: {mode: anonymous}\n",
			`m.yaml:4: backends[0].tls.caFile: no PEM certificates found in "` + exe + `"`},
		{"command relative to dir", "backends:\n  - name: a\n    command: [./server.sh]\n    dir: .\nauth: {mode: anonymous}\n", ""},
		{"command in PATH", "backends:\n  - name: a\n    command: [sh, -c, 'true']\nauth: {mode: anonymous}\n", ""},
		{"command not found", "backends:\n  - name: a\n    command: [no-such-program-mcpgate]\nauth: {mode: anonymous}\n",
			`m.yaml:3: backends[0].command[0]: program "no-such-program-mcpgate" not found in PATH`},
		{"dir not a directory", "backends:\n  - name: a\n    command: [sh]\n    dir: cert.pem\nauth: {mode: anonymous}\n",
			`m.yaml:4: backends[0].dir: "` + cert + `" is not a directory`},
	}
	_ = key
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(filepath.Join(dir, "m.yaml"), []byte(tt.src), Lookup{})
			if err != nil {
				t.Fatal(err)
			}
			err = c.CheckFiles()
			want := tt.want
			if want != "" {
				want = filepath.Join(dir, want)
			}
			if got := errString(err); got != want {
				t.Errorf("CheckFiles:\n got: %s\nwant: %s", got, want)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IsCA:         true,
		KeyUsage:     x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
