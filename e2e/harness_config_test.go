package e2e

// The one way a test writes a gateway configuration: gatewayConfig, the
// sections every test sets with the defaults most of them want, rendered as
// YAML and written by writeConfig; and backendSpec, the YAML of a backend.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// adminOn is an admin listener on a free loopback port. listen and
// admin.listen must differ as written, so it takes another loopback address.
const adminOn = `{listen: "127.0.0.2:0"}`

// gatewayConfig is a gateway configuration for one test.
type gatewayConfig struct {
	// port is the listen port on 127.0.0.1; 0 lets the gateway choose. A
	// test whose configuration names its own URL (auth.resource) picks one
	// with freeClosedPort.
	port int
	// admin is the admin block (adminOn, or with more keys); "" disables
	// the admin listener.
	admin string
	// log is the log block; "" is {requests: all}: the tests read the
	// request lines.
	log string
	// auth is the auth block, flow style ("{mode: anonymous}", the default
	// for "") or block style (starting with a newline, indented by two).
	auth string
	// extra is more top-level YAML, verbatim, each line ending in "\n".
	extra string
	// backends are the backends, in order.
	backends []backendSpec
}

// String renders the configuration as YAML.
func (c gatewayConfig) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: 127.0.0.1:%d\n", c.port)
	admin := c.admin
	if admin == "" {
		admin = `{listen: ""}`
	}
	log := c.log
	if log == "" {
		log = "{requests: all}"
	}
	auth := c.auth
	if auth == "" {
		auth = "{mode: anonymous}"
	}
	fmt.Fprintf(&b, "admin: %s\nlog: %s\nauth: %s\n", admin, log, auth)
	b.WriteString(c.extra)
	b.WriteString("backends:")
	for _, be := range c.backends {
		b.WriteString(be.yaml)
	}
	return b.String()
}

// resource is the gateway's MCP URL as auth.resource names it (port must be
// set).
func (c gatewayConfig) resource() string { return fmt.Sprintf("http://127.0.0.1:%d/mcp", c.port) }

// apiKeyEntries renders keys as the items of auth.apiKeys (indented by four).
func apiKeyEntries(keys []apiKey) string {
	var b strings.Builder
	for _, k := range keys {
		b.WriteString("    " + k.Entry + "\n")
	}
	return b.String()
}

// writeConfig writes a configuration to a new file and returns its path.
func writeConfig(t *testing.T, cfg string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mcpgate.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// backendSpec is the YAML of the one backend a gateway fronts.
type backendSpec struct {
	kind string // "stdio" or "http"
	url  string // the HTTP backend's URL
	yaml string
}

// stdioBackend is server-everything over stdio, named everything.
func stdioBackend() backendSpec { return namedStdioBackend("everything") }

// httpBackend is the Streamable HTTP backend at url, named everything.
func httpBackend(url string) backendSpec { return namedHTTPBackend("everything", url) }

func namedStdioBackend(name string) backendSpec {
	return backendSpec{kind: "stdio", yaml: fmt.Sprintf(`
  - name: %s
    command: [%q, %q, "stdio"]
`, name, nodeBin, everythingJS)}
}

func namedHTTPBackend(name, url string) backendSpec {
	return backendSpec{kind: "http", url: url, yaml: fmt.Sprintf(`
  - name: %s
    url: %q
`, name, url)}
}

// gatewayOpts tunes startGateway's configuration.
type gatewayOpts struct {
	admin bool   // enable the admin listener on a free loopback port
	extra string // more top-level YAML
}

// startGateway starts mcpgate in front of backend, anonymous, on a free
// loopback port. At cleanup it sends SIGTERM and asserts a clean exit
// (status 0) within gatewayStopTimeout.
func startGateway(t *testing.T, backend backendSpec, opts gatewayOpts) *gateway {
	t.Helper()
	c := gatewayConfig{extra: opts.extra, backends: []backendSpec{backend}}
	if opts.admin {
		c.admin = adminOn
	}
	return startGatewayConfig(t, nil, c.String())
}
