package config

import (
	"crypto/tls"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fakeLookup is an injected environment and file system.
func fakeLookup(env, files map[string]string) Lookup {
	return Lookup{
		Getenv: func(name string) (string, bool) {
			v, ok := env[name]
			return v, ok
		},
		ReadFile: func(path string) ([]byte, error) {
			if v, ok := files[path]; ok {
				return []byte(v), nil
			}
			return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
		},
		Stat: func(path string) (fs.FileInfo, error) {
			if _, ok := files[path]; ok {
				return fakeFileInfo{name: filepath.Base(path), mode: 0o600}, nil
			}
			return nil, &fs.PathError{Op: "stat", Path: path, Err: fs.ErrNotExist}
		},
	}
}

// fakeFileInfo is a regular file of the fake file system.
type fakeFileInfo struct {
	name string
	mode fs.FileMode
}

func (f fakeFileInfo) Name() string       { return f.name }
func (f fakeFileInfo) Size() int64        { return 0 }
func (f fakeFileInfo) Mode() fs.FileMode  { return f.mode }
func (f fakeFileInfo) ModTime() time.Time { return time.Time{} }
func (f fakeFileInfo) IsDir() bool        { return false }
func (f fakeFileInfo) Sys() any           { return nil }

const minimalURL = `backends:
  - name: web
    url: http://127.0.0.1:3001/mcp
auth:
  mode: anonymous
`

const minimalCommand = `backends:
  - name: everything
    command: [npx, -y, "@modelcontextprotocol/server-everything"]
auth:
  mode: anonymous
`

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := Parse("mcpgate.yaml", []byte(src), fakeLookup(nil, nil))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestDefaults(t *testing.T) {
	c := mustParse(t, minimalURL)
	b := c.Backends[0]
	cmd := mustParse(t, minimalCommand).Backends[0]
	https := mustParse(t, strings.Replace(minimalURL, "http://127.0.0.1:3001", "https://mcp.example.com", 1)).Backends[0]
	tests := []struct {
		name      string
		got, want any
	}{
		{"listen", c.Listen, "127.0.0.1:8080"},
		{"path", c.Path, "/mcp"},
		{"tls", c.TLS, ListenerTLS{}},
		{"admin.listen", c.Admin.Listen, "127.0.0.1:9464"},
		{"admin.pprof", c.Admin.Pprof, true},
		{"trustedProxies", c.TrustedProxies, []netip.Prefix(nil)},
		{"limits.maxBodyBytes", c.Limits.MaxBodyBytes, int64(4 << 20)},
		{"limits.maxHeaderBytes", c.Limits.MaxHeaderBytes, int64(64 << 10)},
		{"limits.maxBatch", c.Limits.MaxBatch, 32},
		{"limits.maxDepth", c.Limits.MaxDepth, 64},
		{"timeouts.readHeader", c.Timeouts.ReadHeader, 10 * time.Second},
		{"timeouts.readBody", c.Timeouts.ReadBody, 30 * time.Second},
		{"timeouts.idle", c.Timeouts.Idle, 120 * time.Second},
		{"timeouts.shutdown", c.Timeouts.Shutdown, 30 * time.Second},
		{"sessions.idleTimeout", c.Sessions.IdleTimeout, 30 * time.Minute},
		{"cors.allowedOrigins", c.CORS.AllowedOrigins, []string(nil)},
		{"cors.wildcard", c.CORS.Wildcard, false},
		{"cors.allowCredentials", c.CORS.AllowCredentials, false},
		{"cors.maxAge", c.CORS.MaxAge, 10 * time.Minute},
		{"auth.mode", c.Auth.Mode, []AuthMode{AuthAnonymous}},
		{"auth.allowAnonymousOnPublicListener", c.Auth.AllowAnonymousOnPublicListener, false},
		{"auth.apiKeyHeader", c.Auth.APIKeyHeader, "X-API-Key"},
		{"auth.resource", c.Auth.Resource, ""},
		{"auth.oidc.skew", c.Auth.OIDC.Skew, 60 * time.Second},
		{"auth.oidc.tokenCacheTTL", c.Auth.OIDC.TokenCacheTTL, 2 * time.Minute},
		{"auth.oidc.tokenCacheSize", c.Auth.OIDC.TokenCacheSize, 10000},
		{"auth.oidc.jwksRefreshInterval", c.Auth.OIDC.JWKSRefreshInterval, 5 * time.Minute},
		{"auth.oidc.jwksMinRefreshInterval", c.Auth.OIDC.JWKSMinRefreshInterval, 10 * time.Second},
		{"auth.oidc.fetchTimeout", c.Auth.OIDC.FetchTimeout, 10 * time.Second},
		{"log.level", c.Log.Level, "info"},
		{"log.format", c.Log.Format, "json"},
		{"url backend timeouts", b.Timeouts, BackendTimeouts{Connect: 10 * time.Second, FirstByte: 2 * time.Minute}},
		{"url backend isolation", b.Isolation, Isolation("")},
		{"url backend maxSessions", b.MaxSessions, 0},
		{"url backend restart", b.Restart, Restart{}},
		{"http backend tls", b.TLS, BackendTLS{}},
		{"https backend tls.minVersion", https.TLS.MinVersion, uint16(tls.VersionTLS12)},
		{"command backend isolation", cmd.Isolation, IsolationSession},
		{"command backend maxSessions", cmd.MaxSessions, 100},
		{"command backend maxSessionsPerPrincipal", cmd.MaxSessionsPerPrincipal, 25},
		{"command backend inheritEnv", cmd.InheritEnv, []string(nil)},
		{"url backend maxSessionsPerPrincipal", b.MaxSessionsPerPrincipal, 0},
		{"command backend restart", cmd.Restart, Restart{InitialBackoff: 500 * time.Millisecond, MaxBackoff: 30 * time.Second}},
		{"command backend timeouts", cmd.Timeouts, BackendTimeouts{}},
		{"command backend dir", cmd.Dir, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
}

// TestExplicitZeroKeepsValue checks that a key set to its zero value is not
// overwritten by a non-zero default.
func TestExplicitZeroKeepsValue(t *testing.T) {
	c := mustParse(t, minimalCommand+`admin:
  listen: ""
  pprof: false
timeouts:
  readBody: 0
cors:
  maxAge: 0s
`)
	if c.Admin.Listen != "" || c.Admin.Pprof || c.Timeouts.ReadBody != 0 || c.CORS.MaxAge != 0 {
		t.Errorf("explicit zero values overwritten: admin=%+v readBody=%v maxAge=%v", c.Admin, c.Timeouts.ReadBody, c.CORS.MaxAge)
	}
	shared := mustParse(t, strings.Replace(minimalCommand, "    command:", "    isolation: shared\n    command:", 1))
	if b := shared.Backends[0]; b.Isolation != IsolationShared || b.MaxSessions != 0 {
		t.Errorf("shared backend: isolation %q maxSessions %d", b.Isolation, b.MaxSessions)
	}
}

func TestGoldenFull(t *testing.T) {
	data, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse("testdata/full.yaml", data, fakeLookup(map[string]string{"SEARCH_TOKEN": "tok-123"}, nil))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := Config{
		Listen: "0.0.0.0:8443",
		Path:   "/gateway/mcp",
		TLS:    ListenerTLS{CertFile: "/etc/mcpgate/tls/cert.pem", KeyFile: "/etc/mcpgate/tls/key.pem"},
		Admin:  Admin{Listen: "127.0.0.1:9000", Pprof: false},
		TrustedProxies: []netip.Prefix{
			netip.MustParsePrefix("10.0.0.0/8"),
			netip.MustParsePrefix("192.168.1.7/32"),
			netip.MustParsePrefix("fd00::/8"),
		},
		Limits:   Limits{MaxBodyBytes: 8 << 20, MaxHeaderBytes: 32768, MaxBatch: 16, MaxDepth: 40},
		Timeouts: Timeouts{ReadHeader: 5 * time.Second, ReadBody: 0, Idle: 2 * time.Minute, Shutdown: 45 * time.Second},
		Sessions: Sessions{IdleTimeout: time.Hour, MaxLifetime: 24 * time.Hour},
		CORS: CORS{
			AllowedOrigins:   []string{"https://app.example.com", "http://localhost:5173"},
			AllowCredentials: true,
			MaxAge:           time.Hour,
		},
		Backends: []Backend{{
			Name: "search",
			URL:  "https://search.internal.example.com/mcp",
			Headers: map[string]string{
				"Authorization": "Bearer tok-123",
				"X-Tenant":      "acme",
				"X-Price":       "${NOT_A_REF}",
			},
			TLS: BackendTLS{
				CAFile:     "/etc/mcpgate/search-ca.pem",
				CertFile:   "/etc/mcpgate/client.pem",
				KeyFile:    "/etc/mcpgate/client-key.pem",
				ServerName: "search.internal",
				MinVersion: tls.VersionTLS13,
			},
			Timeouts: BackendTimeouts{Connect: 3 * time.Second, FirstByte: time.Minute, Idle: 10 * time.Minute},
		}},
		Aggregate: Aggregate{Separator: "_", Prefix: true, MaxSessions: 100, MaxSessionsPerPrincipal: 20, InitializeTimeout: 10 * time.Second},
		Auth: Auth{
			Mode:                           []AuthMode{AuthOIDC, AuthAPIKey, AuthAnonymous},
			AllowAnonymousOnPublicListener: true,
			APIKeyHeader:                   "X-Gateway-Key",
			Resource:                       "https://gw.example.com/gateway/mcp",
			ResourceName:                   "Example gateway",
			AuthorizationServers:           []string{"https://login.example.com"},
			ScopesSupported:                []string{"mcp.read", "mcp.write"},
			OIDC: OIDC{
				Issuers: []OIDCIssuer{
					{
						Issuer:         "https://login.example.com",
						Audiences:      []string{"https://gw.example.com/gateway/mcp"},
						Claims:         OIDCClaims{Name: "name", Email: "email", Groups: "groups"},
						RequiredScopes: []string{"mcp.read"},
					},
					{
						Issuer:    "http://127.0.0.1:5556/dex",
						Audiences: []string{"mcpgate", "mcpgate-cli"},
						JWKSURL:   "http://127.0.0.1:5556/dex/keys",
						Claims:    OIDCClaims{Name: "preferred_username", Email: "", Groups: "roles"},
					},
				},
				Skew:                   30 * time.Second,
				TokenCacheTTL:          time.Minute,
				TokenCacheSize:         500,
				JWKSRefreshInterval:    10 * time.Minute,
				JWKSMinRefreshInterval: 30 * time.Second,
				FetchTimeout:           5 * time.Second,
			},
			APIKeys: []APIKey{
				{Subject: "ci-bot", SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Groups: []string{"ci", "deploy"}},
				{Subject: "alice", SHA256: "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"},
			},
		},
		Log: Log{Level: "debug", Format: "text", Requests: "errors"},
		Telemetry: Telemetry{
			ServiceName: "mcpgate-eu",
			Traces: TelemetryTraces{Exporter: "otlp", Endpoint: "http://otel-collector:4318", Protocol: "http/protobuf",
				Headers: map[string]string{"X-Tenant": "acme"}, Sampler: "parentbased_traceidratio", Ratio: 0.25,
				QueueSize: 4096, BatchTimeout: 2 * time.Second},
			Metrics:                   TelemetryMetrics{Exporter: "prometheus"},
			RecordToolArguments:       true,
			ResourceFromEnv:           map[string]string{"POD_NAMESPACE": "k8s.namespace.name"},
			AttributeValueLengthLimit: 2048, UserAttribution: "off",
		},
		Audit: Audit{Principal: AuditPrincipalRaw, Fsync: AuditFsyncInterval, FsyncInterval: time.Second,
			QueueSize: DefaultAuditQueueSize, Capture: AuditCapture{MaxBytes: DefaultAuditCaptureMaxBytes},
			RejectedPerSecond: DefaultAuditRejectedPerSecond},
		RateLimits: RateLimits{Store: RateLimitStoreMemory, OnStoreFailure: "local", Replicas: 1},
	}
	got := *c
	got.meta = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("full.yaml parsed to\n%+v\nwant\n%+v", got, want)
	}
	if w, ok := c.Ref("backends[0].headers.Authorization"); !ok || w != "Bearer ${env:SEARCH_TOKEN}" {
		t.Errorf("Ref(Authorization) = %q, %v", w, ok)
	}
	if got := c.RefPaths(); !reflect.DeepEqual(got, []string{"backends[0].headers.Authorization"}) {
		t.Errorf("RefPaths = %q (the $${ escape is not a reference)", got)
	}
	if c.File() != "testdata/full.yaml" {
		t.Errorf("File() = %q", c.File())
	}
}

// TestRelativePaths checks that relative file paths are relative to the
// directory of the config file.
func TestRelativePaths(t *testing.T) {
	src := `tls: {certFile: certs/cert.pem, keyFile: /abs/key.pem}
backends:
  - name: local
    command: ./server
    dir: servers/local
    env:
      TOKEN: ${file:secrets/token}
auth: {mode: anonymous}
`
	c, err := Parse("/etc/mcpgate/mcpgate.yaml", []byte(src), fakeLookup(nil, map[string]string{"/etc/mcpgate/secrets/token": "t0k\n"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.TLS.CertFile != "/etc/mcpgate/certs/cert.pem" || c.TLS.KeyFile != "/abs/key.pem" {
		t.Errorf("tls = %+v", c.TLS)
	}
	b := c.Backends[0]
	if b.Dir != "/etc/mcpgate/servers/local" || b.Env["TOKEN"] != "t0k" || !reflect.DeepEqual(b.Command, []string{"./server"}) {
		t.Errorf("backend = %+v", b)
	}
}

func TestRefs(t *testing.T) {
	env := map[string]string{"TOKEN": "s3cr3t", "EMPTY": "", "PORT": "9090", "PPROF": "false", "SIZE": "1MiB", "WAIT": "15s"}
	files := map[string]string{
		"/run/secrets/key":  "file-secret\n",
		"/run/secrets/crlf": "crlf\r\n",
		"/run/secrets/two":  "two\n\n",
		"/run/secrets/none": "none",
	}
	tests := []struct {
		name  string
		value string // YAML value of backends[0].headers.X-Test
		want  string
	}{
		{"env", `"${env:TOKEN}"`, "s3cr3t"},
		{"env in text", `"Bearer ${env:TOKEN}!"`, "Bearer s3cr3t!"},
		{"env empty but set", `"${env:EMPTY}"`, ""},
		{"two refs", `"${env:TOKEN}:${file:/run/secrets/none}"`, "s3cr3t:none"},
		{"file trims one newline", `"${file:/run/secrets/key}"`, "file-secret"},
		{"file trims CRLF", `"${file:/run/secrets/crlf}"`, "crlf"},
		{"file without newline", `"${file:/run/secrets/none}"`, "none"},
		{"escape", `"$${env:TOKEN}"`, "${env:TOKEN}"},
		{"escape then ref", `"$${x}${env:TOKEN}"`, "${x}s3cr3t"},
		{"lone dollar", `"a$b$$c"`, "a$b$$c"},
		{"plain scalar ref", `${env:TOKEN}`, "s3cr3t"},
		{"resolved value not rescanned", `"${env:DOLLAR}"`, "${env:TOKEN}"},
	}
	env["DOLLAR"] = "${env:TOKEN}"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "backends:\n  - name: a\n    url: http://127.0.0.1:1/mcp\n    headers:\n      X-Test: " + tt.value + "\nauth: {mode: anonymous}\n"
			c, err := Parse("mcpgate.yaml", []byte(src), fakeLookup(env, files))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Backends[0].Headers["X-Test"]; got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("typed fields", func(t *testing.T) {
		src := `listen: 127.0.0.1:${env:PORT}
admin: {pprof: "${env:PPROF}"}
limits: {maxBodyBytes: "${env:SIZE}", maxBatch: "${env:PORT}"}
timeouts: {shutdown: "${env:WAIT}"}
` + minimalURL
		c, err := Parse("mcpgate.yaml", []byte(src), fakeLookup(env, files))
		if err != nil {
			t.Fatal(err)
		}
		if c.Listen != "127.0.0.1:9090" || c.Admin.Pprof || c.Limits.MaxBodyBytes != 1<<20 || c.Limits.MaxBatch != 9090 || c.Timeouts.Shutdown != 15*time.Second {
			t.Errorf("got listen=%q pprof=%v size=%d batch=%d shutdown=%v", c.Listen, c.Admin.Pprof, c.Limits.MaxBodyBytes, c.Limits.MaxBatch, c.Timeouts.Shutdown)
		}
		if got := c.RefPaths(); !reflect.DeepEqual(got, []string{"admin.pprof", "limits.maxBatch", "limits.maxBodyBytes", "listen", "timeouts.shutdown"}) {
			t.Errorf("RefPaths = %q", got)
		}
	})

	t.Run("default lookup uses the process environment", func(t *testing.T) {
		t.Setenv("MCPGATE_TEST_TOKEN", "from-os")
		dir := t.TempDir()
		f := filepath.Join(dir, "secret")
		if err := os.WriteFile(f, []byte("from-file\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		src := "backends:\n  - name: a\n    url: http://127.0.0.1:1/mcp\n    headers:\n      A: ${env:MCPGATE_TEST_TOKEN}\n      B: ${file:" + f + "}\nauth: {mode: anonymous}\n"
		c, err := Parse("mcpgate.yaml", []byte(src), Lookup{})
		if err != nil {
			t.Fatal(err)
		}
		if h := c.Backends[0].Headers; h["A"] != "from-os" || h["B"] != "from-file" {
			t.Errorf("headers = %q", h)
		}
	})
}

// TestParseErrors checks the exact shape of each error: file:line: key path: message.
func TestParseErrors(t *testing.T) {
	env := map[string]string{"SECRET": "hunter2", "BAD_URL": "ftp://hunter2@x", "BAD_DUR": "hunter2s"}
	tests := []struct {
		name string
		src  string
		want string
	}{
		// Structure.
		{"empty file", "", `mcpgate.yaml: the file is empty; it must be a mapping with at least backends and auth.mode`},
		{"comments only", "# nothing\n", `mcpgate.yaml: the file is empty; it must be a mapping with at least backends and auth.mode`},
		{"top level list", "- a\n- b\n", `mcpgate.yaml:1: the top level must be a mapping (key: value pairs), got a list`},
		{"top level scalar", "hello\n", `mcpgate.yaml:1: the top level must be a mapping (key: value pairs), got string "hello"`},
		{"syntax error", "listen: [\n", `mcpgate.yaml:1: invalid YAML: did not find expected node content`},
		{"bad indentation", "admin:\n  listen: x\n pprof: true\n", `mcpgate.yaml:2: invalid YAML: did not find expected key`},
		{"two documents", minimalURL + "---\nlisten: 127.0.0.1:1\n", `mcpgate.yaml:7: multiple YAML documents (---) are not supported; put the whole configuration in one document`},
		{"trailing document marker", minimalURL + "---\n", `mcpgate.yaml:7: multiple YAML documents (---) are not supported; put the whole configuration in one document`},
		{"anchor", "listen: &l 127.0.0.1:1\n" + minimalURL, `mcpgate.yaml:1: listen: anchors (&l) are not supported`},
		{"alias", "admin: {listen: &l 127.0.0.1:2}\nlisten: *l\n" + minimalURL, "mcpgate.yaml:1: admin.listen: anchors (&l) are not supported\nmcpgate.yaml:2: listen: aliases (*l) are not supported; write the value out"},
		{"merge key", "admin:\n  <<: {pprof: true}\n" + minimalURL, `mcpgate.yaml:2: admin: merge keys (<<) are not supported`},
		{"custom tag", "listen: !addr 127.0.0.1:1\n" + minimalURL, `mcpgate.yaml:1: listen: unsupported YAML tag !addr`},
		{"non-string key", "admin:\n  [a]: 1\n" + minimalURL, `mcpgate.yaml:2: admin: keys must be strings, got a list`},

		// Unknown keys at several depths.
		{"unknown top-level key", "upstreams: []\n" + minimalURL, `mcpgate.yaml:1: unknown key "upstreams" (known keys here: listen, path, tls, admin, trustedProxies, allowedHosts, limits, timeouts, sessions, cors, backends, aggregate, auth, pseudonymization, telemetry, audit, authz, rateLimits, log)`},
		{"unknown key with suggestion", "Listen: 127.0.0.1:1\n" + minimalURL, `mcpgate.yaml:1: unknown key "Listen"; did you mean "listen"? (known keys here: listen, path, tls, admin, trustedProxies, allowedHosts, limits, timeouts, sessions, cors, backends, aggregate, auth, pseudonymization, telemetry, audit, authz, rateLimits, log)`},
		{"unknown nested key", "admin:\n  pprof: true\n  metrics: true\n" + minimalURL, `mcpgate.yaml:3: admin: unknown key "metrics" (known keys here: listen, pprof)`},
		{"unknown backend key", "backends:\n  - name: a\n    url: http://127.0.0.1:1\n    tiemouts: {}\nauth: {mode: anonymous}\n", `mcpgate.yaml:4: backends[0]: unknown key "tiemouts"; did you mean "timeouts"? (known keys here: name, url, command, args, env, inheritEnv, dir, isolation, maxSessions, maxSessionsPerPrincipal, restart, include, exclude, headers, forwardHeaders, tls, timeouts)`},
		{"unknown key three deep", "backends:\n  - name: a\n    url: http://127.0.0.1:1\n    timeouts:\n      read: 1s\nauth: {mode: anonymous}\n", `mcpgate.yaml:5: backends[0].timeouts: unknown key "read" (known keys here: connect, firstByte, idle)`},
		{"duplicate key", "listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n" + minimalURL, `mcpgate.yaml:2: duplicate key "listen" (first on line 1)`},
		{"duplicate nested key", "backends:\n  - name: a\n    url: http://127.0.0.1:1\n    name: b\nauth: {mode: anonymous}\n", `mcpgate.yaml:4: backends[0]: duplicate key "name" (first on line 2)`},
		{"duplicate header", "backends:\n  - name: a\n    url: http://127.0.0.1:1\n    headers:\n      X-A: 1\n      X-A: 2\nauth: {mode: anonymous}\n", `mcpgate.yaml:6: backends[0].headers: duplicate key "X-A" (first on line 5)`},

		// Wrong types.
		{"mapping expected", "admin: true\n" + minimalURL, `mcpgate.yaml:1: admin: expected a mapping, got boolean true`},
		{"string expected", "listen: [a]\n" + minimalURL, `mcpgate.yaml:1: listen: expected a string, got a list`},
		{"null string", "path:\n" + minimalURL, `mcpgate.yaml:1: path: expected a string, got null (write "" for an empty string)`},
		{"bool expected", "admin: {pprof: yes}\n" + minimalURL, `mcpgate.yaml:1: admin.pprof: expected a boolean (true or false), got string "yes"`},
		{"quoted bool", "admin: {pprof: \"true\"}\n" + minimalURL, `mcpgate.yaml:1: admin.pprof: expected a boolean (true or false), got string "true"`},
		{"int expected", "limits: {maxBatch: ten}\n" + minimalURL, `mcpgate.yaml:1: limits.maxBatch: expected an integer, got string "ten"`},
		{"float for int", "limits: {maxDepth: 1.5}\n" + minimalURL, `mcpgate.yaml:1: limits.maxDepth: expected an integer, got number 1.5`},
		{"list expected", "trustedProxies: 10.0.0.0/8\n" + minimalURL, `mcpgate.yaml:1: trustedProxies: expected a list of CIDRs or IP addresses, got string "10.0.0.0/8"`},
		{"backends not a list", "backends: {name: a}\nauth: {mode: anonymous}\n", `mcpgate.yaml:1: backends: expected a list of backends, got a mapping`},
		{"null backend", "backends:\n  -\nauth: {mode: anonymous}\n", `mcpgate.yaml:2: backends[0]: expected a backend mapping (name, url or command, …), got null`},
		{"env not a map", "backends:\n  - name: a\n    command: [x]\n    env: [A=1]\nauth: {mode: anonymous}\n", `mcpgate.yaml:4: backends[0].env: expected a mapping of names to strings, got a list`},

		// Durations and sizes.
		{"bad duration", "backends:\n  - name: a\n    url: http://127.0.0.1:1\n    timeouts: {connect: 5x}\nauth: {mode: anonymous}\n", `mcpgate.yaml:4: backends[0].timeouts.connect: invalid duration "5x" (use a number with a unit: ms, s, m, h, e.g. 1m30s)`},
		{"duration without unit", "timeouts: {idle: 30}\n" + minimalURL, `mcpgate.yaml:1: timeouts.idle: invalid duration 30: missing unit (write e.g. 30s)`},
		{"negative duration", "sessions: {idleTimeout: -1m}\n" + minimalURL, `mcpgate.yaml:1: sessions.idleTimeout: duration must not be negative, got "-1m"`},
		{"zero where positive needed", "timeouts: {readHeader: 0}\n" + minimalURL, `mcpgate.yaml:1: timeouts.readHeader: must be greater than 0, got 0s`},
		{"drain delay beyond half the shutdown bound", "timeouts: {shutdown: 10s, drainDelay: 5s}\n" + minimalURL, `mcpgate.yaml:1: timeouts.drainDelay: must be less than half of timeouts.shutdown (10s): the requests in flight need the rest to finish`},
		{"negative drain delay", "timeouts: {drainDelay: -1s}\n" + minimalURL, `mcpgate.yaml:1: timeouts.drainDelay: duration must not be negative, got "-1s"`},
		{"bad size unit", "limits: {maxBodyBytes: 4MB}\n" + minimalURL, `mcpgate.yaml:1: limits.maxBodyBytes: invalid size "4MB" (an integer number of bytes, or an integer with B, KiB, MiB or GiB, e.g. 4MiB; decimal units such as MB are not accepted)`},
		{"fractional size", "limits: {maxBodyBytes: 1.5MiB}\n" + minimalURL, `mcpgate.yaml:1: limits.maxBodyBytes: invalid size "1.5MiB" (an integer number of bytes, or an integer with B, KiB, MiB or GiB, e.g. 4MiB; decimal units such as MB are not accepted)`},
		{"negative size", "limits: {maxHeaderBytes: -1}\n" + minimalURL, `mcpgate.yaml:1: limits.maxHeaderBytes: invalid size -1 (must be a non-negative integer number of bytes)`},
		{"huge size", "limits: {maxBodyBytes: 99999999999GiB}\n" + minimalURL, `mcpgate.yaml:1: limits.maxBodyBytes: size "99999999999GiB" is too large`},
		{"zero size", "limits: {maxBodyBytes: 0}\n" + minimalURL, `mcpgate.yaml:1: limits.maxBodyBytes: must be greater than 0, got 0B`},

		// Addresses, CIDRs, origins.
		{"bad CIDR", "trustedProxies:\n  - 10.0.0.0/8\n  - 10.0.0.0/33\n" + minimalURL, `mcpgate.yaml:3: trustedProxies[1]: "10.0.0.0/33" is not a valid CIDR (e.g. 10.0.0.0/8) or IP address`},
		{"CIDR host bits", "trustedProxies: [10.1.2.3/8]\n" + minimalURL, `mcpgate.yaml:1: trustedProxies[0]: "10.1.2.3/8" has host bits set (did you mean 10.0.0.0/8?)`},
		{"bad IP", "trustedProxies: [proxy.local]\n" + minimalURL, `mcpgate.yaml:1: trustedProxies[0]: "proxy.local" is not a valid CIDR (e.g. 10.0.0.0/8) or IP address`},
		{"listen without port", "listen: 127.0.0.1\n" + minimalURL, `mcpgate.yaml:1: listen: "127.0.0.1" is not a host:port address (e.g. 127.0.0.1:8080 or [::1]:8080)`},
		{"listen bad port", "listen: 127.0.0.1:http\n" + minimalURL, `mcpgate.yaml:1: listen: "127.0.0.1:http" has an invalid port (a number from 0 to 65535)`},
		{"listen bad host", "listen: bad_host:80\n" + minimalURL, `mcpgate.yaml:1: listen: "bad_host:80" has an invalid host (an IP address, localhost or a DNS name)`},
		{"admin same as listen", "listen: 127.0.0.1:9464\n" + minimalURL, `mcpgate.yaml:1: admin.listen: must differ from listen ("127.0.0.1:9464")`},
		{"path", "path: mcp\n" + minimalURL, `mcpgate.yaml:1: path: "mcp" must start with "/"`},
		{"tls half", "tls: {certFile: /c.pem}\n" + minimalURL, `mcpgate.yaml:1: tls: certFile and keyFile must be set together`},
		{"origin trailing slash", "cors: {allowedOrigins: [\"https://a.example.com/\"]}\n" + minimalURL, `mcpgate.yaml:1: cors.allowedOrigins[0]: "https://a.example.com/" must not have a path (remove the trailing "/")`},
		{"origin default port", "cors:\n  allowedOrigins:\n    - https://a.example.com:443\n" + minimalURL, `mcpgate.yaml:3: cors.allowedOrigins[0]: "https://a.example.com:443" must not include the default port (browsers send the origin without it)`},
		{"origin not an origin", "cors: {allowedOrigins: [a.example.com]}\n" + minimalURL, `mcpgate.yaml:1: cors.allowedOrigins[0]: "a.example.com" is not an origin (scheme://host[:port], e.g. https://app.example.com)`},
		{"origin null", "cors: {allowedOrigins: [\"null\"]}\n" + minimalURL, `mcpgate.yaml:1: cors.allowedOrigins[0]: "null" is not allowed ("null" is the origin of sandboxed and file: documents; any page can send it)`},
		{"wildcard with credentials", "cors: {allowedOrigins: [\"*\"], allowCredentials: true}\n" + minimalURL, `mcpgate.yaml:1: cors.allowCredentials: cannot be true when allowedOrigins contains "*" (browsers refuse credentials with a wildcard origin)`},

		// Backends.
		{"no backends", "auth: {mode: anonymous}\n", `mcpgate.yaml: backends: at least one backend is required`},
		{"empty backends", "backends: []\nauth: {mode: anonymous}\n", `mcpgate.yaml:1: backends: at least one backend is required`},
		{"both url and command", "backends:\n  - name: a\n    url: http://127.0.0.1:1\n    command: [x]\nauth: {mode: anonymous}\n", `mcpgate.yaml:2: backends[0]: both url and command are set; a backend is either remote (url) or a local stdio server (command)`},
		{"neither url nor command", "backends:\n  - name: a\nauth: {mode: anonymous}\n", `mcpgate.yaml:2: backends[0]: one of url (a remote MCP server) or command (a local stdio MCP server) is required`},
		{"missing name", "backends:\n  - url: http://127.0.0.1:1\nauth: {mode: anonymous}\n", `mcpgate.yaml:2: backends[0].name: required`},
		{"bad name", "backends:\n  - name: My-Server\n    url: http://127.0.0.1:1\nauth: {mode: anonymous}\n", `mcpgate.yaml:2: backends[0].name: invalid name "My-Server" (1 to 32 of a-z, 0-9, _ and -, starting with a letter or digit)`},
		{"aggregate with one backend", "aggregate: {prefix: false}\n" + minimalURL, `mcpgate.yaml:1: aggregate: only applies with several backends (one backend is relayed unchanged)`},
		{"include with one backend", "backends:\n  - name: a\n    url: http://127.0.0.1:1\n    include: [x]\nauth: {mode: anonymous}\n", `mcpgate.yaml:4: backends[0].include: only applies with several backends (aggregating mode)`},
		{"bad include glob", "backends:\n  - name: a\n    url: http://127.0.0.1:1\n  - name: b\n    url: http://127.0.0.1:2\n    exclude: [\"a[\"]\nauth: {mode: anonymous}\n", `mcpgate.yaml:6: backends[1].exclude[0]: invalid pattern "a[" (a name or a glob: * ? [a-z])`},
		{"empty separator", "aggregate: {separator: \"\"}\nbackends:\n  - name: a\n    url: http://127.0.0.1:1\n  - name: b\n    url: http://127.0.0.1:2\nauth: {mode: anonymous}\n", `mcpgate.yaml:1: aggregate.separator: must not be empty while aggregate.prefix is true`},
		{"bad separator", "aggregate: {separator: \"+\"}\nbackends:\n  - name: a\n    url: http://127.0.0.1:1\n  - name: b\n    url: http://127.0.0.1:2\nauth: {mode: anonymous}\n", `mcpgate.yaml:1: aggregate.separator: invalid separator "+" (use characters from _ - . : /)`},
		{"aggregate maxSessions 0", "aggregate: {maxSessions: 0}\nbackends:\n  - name: a\n    url: http://127.0.0.1:1\n  - name: b\n    url: http://127.0.0.1:2\nauth: {mode: anonymous}\n", `mcpgate.yaml:1: aggregate.maxSessions: must be greater than 0, got 0`},
		{"aggregate maxSessionsPerPrincipal negative", "aggregate: {maxSessionsPerPrincipal: -1}\nbackends:\n  - name: a\n    url: http://127.0.0.1:1\n  - name: b\n    url: http://127.0.0.1:2\nauth: {mode: anonymous}\n", `mcpgate.yaml:1: aggregate.maxSessionsPerPrincipal: must be greater than 0, got -1`},
		{"aggregate initializeTimeout 0", "aggregate: {initializeTimeout: 0s}\nbackends:\n  - name: a\n    url: http://127.0.0.1:1\n  - name: b\n    url: http://127.0.0.1:2\nauth: {mode: anonymous}\n", `mcpgate.yaml:1: aggregate.initializeTimeout: must be greater than 0, got 0s`},
		{"aggregate unknown key", "aggregate: {prefx: false}\nbackends:\n  - name: a\n    url: http://127.0.0.1:1\n  - name: b\n    url: http://127.0.0.1:2\nauth: {mode: anonymous}\n", `mcpgate.yaml:1: aggregate: unknown key "prefx"; did you mean "prefix"? (known keys here: separator, prefix, maxSessions, maxSessionsPerPrincipal, initializeTimeout, stateless)`},
		{"duplicate backend names", "backends:\n  - name: a\n    url: http://127.0.0.1:1\n  - name: a\n    command: [x]\nauth: {mode: anonymous}\n", "mcpgate.yaml:4: backends[1].name: duplicate name \"a\" (also backends[0])"},
		{"url scheme", "backends:\n  - name: a\n    url: ftp://127.0.0.1/x\nauth: {mode: anonymous}\n", `mcpgate.yaml:3: backends[0].url: "ftp://127.0.0.1/x": scheme must be http or https`},
		{"url userinfo", "backends:\n  - name: a\n    url: https://u:p@mcp.example.com/\nauth: {mode: anonymous}\n", `mcpgate.yaml:3: backends[0].url: must not contain credentials (user:password@); send them with headers, e.g. Authorization: "Bearer ${env:TOKEN}"`},
		{"url no host", "backends:\n  - name: a\n    url: http:///mcp\nauth: {mode: anonymous}\n", `mcpgate.yaml:3: backends[0].url: "http:///mcp" has no host`},
		{"command empty", "backends:\n  - name: a\n    command: []\nauth: {mode: anonymous}\n", `mcpgate.yaml:3: backends[0].command: must not be empty (the program to run, then its arguments)`},
		{"url-only key on command", "backends:\n  - name: a\n    command: [x]\n    headers: {A: b}\nauth: {mode: anonymous}\n", `mcpgate.yaml:4: backends[0].headers: only applies to url backends`},
		{"command-only key on url", "backends:\n  - name: a\n    url: http://127.0.0.1:1\n    isolation: shared\nauth: {mode: anonymous}\n", `mcpgate.yaml:4: backends[0].isolation: only applies to command backends`},
		{"bad isolation", "backends:\n  - name: a\n    command: [x]\n    isolation: process\nauth: {mode: anonymous}\n", `mcpgate.yaml:4: backends[0].isolation: unknown isolation "process" (valid: session, shared)`},
		{"maxSessions with shared", "backends:\n  - name: a\n    command: [x]\n    isolation: shared\n    maxSessions: 5\nauth: {mode: anonymous}\n", `mcpgate.yaml:5: backends[0].maxSessions: only applies with isolation: session`},
		{"maxSessionsPerPrincipal with shared", "backends:\n  - name: a\n    command: [x]\n    isolation: shared\n    maxSessionsPerPrincipal: 5\nauth: {mode: anonymous}\n", `mcpgate.yaml:5: backends[0].maxSessionsPerPrincipal: only applies with isolation: session`},
		{"maxSessionsPerPrincipal above maxSessions", "backends:\n  - name: a\n    command: [x]\n    maxSessions: 3\n    maxSessionsPerPrincipal: 4\nauth: {mode: anonymous}\n", `mcpgate.yaml:5: backends[0].maxSessionsPerPrincipal: must be at most maxSessions (3), got 4`},
		{"maxSessionsPerPrincipal zero", "backends:\n  - name: a\n    command: [x]\n    maxSessionsPerPrincipal: 0\nauth: {mode: anonymous}\n", `mcpgate.yaml:4: backends[0].maxSessionsPerPrincipal: must be greater than 0, got 0`},
		{"maxSessionsPerPrincipal on url", "backends:\n  - name: a\n    url: http://127.0.0.1:1\n    maxSessionsPerPrincipal: 2\nauth: {mode: anonymous}\n", `mcpgate.yaml:4: backends[0].maxSessionsPerPrincipal: only applies to command backends`},
		{"inheritEnv on url", "backends:\n  - name: a\n    url: http://127.0.0.1:1\n    inheritEnv: [HOME]\nauth: {mode: anonymous}\n", `mcpgate.yaml:4: backends[0].inheritEnv: only applies to command backends`},
		{"inheritEnv everything", "backends:\n  - name: a\n    command: [x]\n    inheritEnv: [\"*\"]\nauth: {mode: anonymous}\n", `mcpgate.yaml:4: backends[0].inheritEnv[0]: invalid environment variable name "*" (letters, digits and _, not starting with a digit; a trailing * makes it a prefix)`},
		{"inheritEnv bad name", "backends:\n  - name: a\n    command: [x]\n    inheritEnv: [OK, \"A=B\"]\nauth: {mode: anonymous}\n", `mcpgate.yaml:4: backends[0].inheritEnv[1]: invalid environment variable name "A=B" (letters, digits and _, not starting with a digit; a trailing * makes it a prefix)`},
		{"inheritEnv inner star", "backends:\n  - name: a\n    command: [x]\n    inheritEnv: [\"A*B\"]\nauth: {mode: anonymous}\n", `mcpgate.yaml:4: backends[0].inheritEnv[0]: invalid environment variable name "A*B" (letters, digits and _, not starting with a digit; a trailing * makes it a prefix)`},
		{"restart backoff order", "backends:\n  - name: a\n    command: [x]\n    restart: {initialBackoff: 10s, maxBackoff: 1s}\nauth: {mode: anonymous}\n", `mcpgate.yaml:4: backends[0].restart.maxBackoff: must be at least initialBackoff (10s), got 1s`},
		{"tls on http", "backends:\n  - name: a\n    url: http://127.0.0.1:1\n    tls: {serverName: x}\nauth: {mode: anonymous}\n", `mcpgate.yaml:4: backends[0].tls: only applies to https backends (url is http)`},
		{"bad tls version", "backends:\n  - name: a\n    url: https://a.example.com\n    tls: {minVersion: 1.1}\nauth: {mode: anonymous}\n", `mcpgate.yaml:4: backends[0].tls.minVersion: unsupported TLS version "1.1" (use "1.2" or "1.3")`},
		{"hop-by-hop header", "backends:\n  - name: a\n    url: http://127.0.0.1:1\n    headers:\n      Connection: close\nauth: {mode: anonymous}\n", `mcpgate.yaml:5: backends[0].headers.Connection: header Connection may not be set here (hop-by-hop)`},
		{"host header", "backends:\n  - name: a\n    url: http://127.0.0.1:1\n    headers: {host: x}\nauth: {mode: anonymous}\n", `mcpgate.yaml:4: backends[0].headers.host: header host may not be set here (derived from url)`},
		{"bad header name", "backends:\n  - name: a\n    url: http://127.0.0.1:1\n    headers:\n      \"X Bad\": x\nauth: {mode: anonymous}\n", `mcpgate.yaml:5: backends[0].headers["X Bad"]: invalid header name "X Bad"`},
		{"header names differ in case", "backends:\n  - name: a\n    url: http://127.0.0.1:1\n    headers:\n      X-A: 1\n      x-a: 2\nauth: {mode: anonymous}\n", `mcpgate.yaml:6: backends[0].headers.x-a: duplicate header x-a (also X-A; header names are case-insensitive)`},
		{"bad env name", "backends:\n  - name: a\n    command: [x]\n    env: {\"A=B\": x}\nauth: {mode: anonymous}\n", `mcpgate.yaml:4: backends[0].env["A=B"]: invalid environment variable name "A=B"`},

		// Auth.
		{"missing auth", "backends:\n  - name: a\n    url: http://127.0.0.1:1\n", `mcpgate.yaml: auth.mode: required: set auth.mode to oidc, apiKey or anonymous, or a list of them (anonymous serves clients without authentication)`},
		{"missing auth.mode", "backends:\n  - name: a\n    url: http://127.0.0.1:1\nauth:\n  apiKeyHeader: X-Key\n", `mcpgate.yaml:4: auth.mode: required: set auth.mode to oidc, apiKey or anonymous, or a list of them (anonymous serves clients without authentication)`},
		{"auth unknown", "backends:\n  - name: a\n    url: http://127.0.0.1:1\nauth: {mode: basic}\n", `mcpgate.yaml:4: auth.mode: unknown mode "basic" (valid: anonymous, apiKey, oidc)`},
		{"anonymous on public listener", "listen: 0.0.0.0:8080\n" + minimalURL, `mcpgate.yaml:6: auth.mode: anonymous access on the non-loopback listen address "0.0.0.0:8080": anyone who can reach it can use the backends; set auth.allowAnonymousOnPublicListener: true if that is intended`},
		{"log level", "log: {level: verbose}\n" + minimalURL, `mcpgate.yaml:1: log.level: unknown level "verbose" (valid: debug, info, warn, error)`},
		{"log format", "log: {format: xml}\n" + minimalURL, `mcpgate.yaml:1: log.format: unknown format "xml" (valid: json, text)`},
		{"log requests", "log: {requests: some}\n" + minimalURL, `mcpgate.yaml:1: log.requests: unknown value "some" (valid: all, errors, none)`},

		// References.
		{"unset env var", "backends:\n  - name: a\n    url: http://127.0.0.1:1\n    headers:\n      Authorization: Bearer ${env:NOPE}\nauth: {mode: anonymous}\n", `mcpgate.yaml:5: backends[0].headers.Authorization: environment variable NOPE is not set (referenced as ${env:NOPE})`},
		{"missing file", "backends:\n  - name: a\n    url: http://127.0.0.1:1\n    headers:\n      Authorization: ${file:/run/secrets/nope}\nauth: {mode: anonymous}\n", `mcpgate.yaml:5: backends[0].headers.Authorization: cannot read file "/run/secrets/nope" referenced as ${file:/run/secrets/nope}: file does not exist`},
		{"unknown ref kind", "listen: ${vault:x}\n" + minimalURL, `mcpgate.yaml:1: listen: unknown reference "${vault:x}" (a reference is ${env:NAME} or ${file:PATH}; write $${ for a literal ${)`},
		{"unterminated ref", "listen: \"${env:X\"\n" + minimalURL, `mcpgate.yaml:1: listen: unterminated reference "${env:X" (a reference is ${env:NAME} or ${file:PATH}; write $${ for a literal ${)`},
		{"bad env name", "listen: ${env:1X}\n" + minimalURL, `mcpgate.yaml:1: listen: invalid environment variable name "1X" in ${env:…} (letters, digits and _, not starting with a digit)`},
		{"escape is literal", "log:\n  level: $${env:X}\n" + minimalURL, `mcpgate.yaml:2: log.level: unknown level "${env:X}" (valid: debug, info, warn, error)`},

		// Secrets never appear in messages.
		{"secret in bad url", "backends:\n  - name: a\n    url: ${env:BAD_URL}\nauth: {mode: anonymous}\n", `mcpgate.yaml:3: backends[0].url: "${env:BAD_URL}": scheme must be http or https`},
		{"secret in bad duration", "timeouts: {idle: \"${env:BAD_DUR}\"}\n" + minimalURL, `mcpgate.yaml:1: timeouts.idle: invalid duration "${env:BAD_DUR}" (use a number with a unit: ms, s, m, h, e.g. 1m30s)`},
		{"secret in bad bool", "admin: {pprof: \"${env:SECRET}\"}\n" + minimalURL, `mcpgate.yaml:1: admin.pprof: expected a boolean (true or false), got "${env:SECRET}"`},
		{"secret in bad int", "limits: {maxBatch: \"${env:SECRET}\"}\n" + minimalURL, `mcpgate.yaml:1: limits.maxBatch: expected an integer, got "${env:SECRET}"`},
		{"secret in bad size", "limits: {maxBodyBytes: \"${env:SECRET}\"}\n" + minimalURL, `mcpgate.yaml:1: limits.maxBodyBytes: invalid size "${env:SECRET}" (an integer number of bytes, or an integer with B, KiB, MiB or GiB)`},
		{"secret header value with newline", "backends:\n  - name: a\n    url: http://127.0.0.1:1\n    headers: {X-A: \"${env:SECRET}\\n\"}\nauth: {mode: anonymous}\n", `mcpgate.yaml:4: backends[0].headers.X-A: value contains a control character such as a newline (if it comes from ${file:…}, only one trailing newline is removed)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("mcpgate.yaml", []byte(tt.src), fakeLookup(env, nil))
			if err == nil {
				t.Fatalf("Parse succeeded (%+v); want error\n%s", c, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n got: %s\nwant: %s", got, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error reveals a secret: %s", err)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("error %T is not an *Error", err)
			}
		})
	}
}

func TestInheritEnvAndPrincipalShare(t *testing.T) {
	c := mustParse(t, strings.Replace(minimalCommand, "    command:",
		"    inheritEnv: [GITHUB_TOKEN, npm_config_*]\n    maxSessions: 10\n    maxSessionsPerPrincipal: 10\n    command:", 1))
	b := c.Backends[0]
	if !reflect.DeepEqual(b.InheritEnv, []string{"GITHUB_TOKEN", "npm_config_*"}) || b.MaxSessionsPerPrincipal != 10 {
		t.Errorf("inheritEnv %q, maxSessionsPerPrincipal %d", b.InheritEnv, b.MaxSessionsPerPrincipal)
	}
	small := mustParse(t, strings.Replace(minimalCommand, "    command:", "    maxSessions: 3\n    command:", 1))
	if got := small.Backends[0].MaxSessionsPerPrincipal; got != 1 {
		t.Errorf("maxSessions 3: default maxSessionsPerPrincipal %d, want 1", got)
	}
}

func TestSetInheritEnv(t *testing.T) {
	c, err := ForCommand("", []string{"npx", "server"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetInheritEnv([]string{"GITHUB_TOKEN", "npm_config_*"}); err != nil {
		t.Fatal(err)
	}
	if got := c.Backends[0].InheritEnv; !reflect.DeepEqual(got, []string{"GITHUB_TOKEN", "npm_config_*"}) {
		t.Errorf("inheritEnv %q", got)
	}
	for _, bad := range [][]string{{"*"}, {""}, {"1A"}, {"A-B"}} {
		if err := c.SetInheritEnv(bad); err == nil {
			t.Errorf("SetInheritEnv(%q) accepted", bad)
		}
	}
	u, err := ForUpstream("", "http://127.0.0.1:1/mcp")
	if err != nil {
		t.Fatal(err)
	}
	if err := u.SetInheritEnv([]string{"A"}); err == nil {
		t.Error("SetInheritEnv accepted on the --upstream form")
	}
}
