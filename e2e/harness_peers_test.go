package e2e

// The peers the gateway talks to in the tests, each started for one test
// and stopped at its cleanup: server-everything over stdio (a command in the
// configuration, see stdioBackend) and over Streamable HTTP, the other
// e2e/node servers. Jaeger is in harness_jaeger_test.go, the OTLP sinks in
// harness_otlp_test.go.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nodePeer is an MCP server of e2e/node over Streamable HTTP on a port the
// test may choose, so that it can be killed and started again at the same
// address.
type nodePeer struct {
	*proc
	port int
}

func (b *nodePeer) URL() string  { return fmt.Sprintf("http://127.0.0.1:%d/mcp", b.port) }
func (b *nodePeer) Addr() string { return fmt.Sprintf("127.0.0.1:%d", b.port) }

// startEverythingHTTP starts server-everything in streamableHttp mode on a
// free 127.0.0.1 port and returns its MCP URL once it accepts connections.
func startEverythingHTTP(t *testing.T) string {
	t.Helper()
	return startEverythingHTTPOn(t, 0).URL()
}

// startEverythingHTTPOn starts server-everything (streamableHttp) on
// 127.0.0.1:port (0: a free one) and waits until it accepts connections. A
// start that loses the port (a previous instance's socket not yet gone) is
// retried, bounded.
func startEverythingHTTPOn(t *testing.T, port int) *nodePeer {
	t.Helper()
	return startNodeHTTPPeer(t, "everything-http.mjs", "server-everything", port)
}

// startNodeHTTPPeer starts the e2e/node script (an MCP server that reports
// "E2E_LISTENING <port>" on stderr) on 127.0.0.1:port (0: a free one) and
// waits until it accepts connections; what names it in failures.
func startNodeHTTPPeer(t *testing.T, script, what string, port int) *nodePeer {
	t.Helper()
	re := regexp.MustCompile(`^E2E_LISTENING (\d+)$`)
	var lastLog string
	for attempt := 0; attempt < 10; attempt++ {
		cmd := exec.Command(nodeBin, filepath.Join(nodeDir, script))
		cmd.Dir = nodeDir
		cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port))
		p, err := startProc(cmd)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		t.Cleanup(p.halt)
		line, ok := p.Log.waitFor(peerStartTimeout, func(l string) bool { return re.MatchString(l) })
		if !ok {
			p.halt()
			lastLog = p.Log.String()
			if strings.Contains(lastLog, "EADDRINUSE") {
				time.Sleep(200 * time.Millisecond)
				continue
			}
			t.Fatalf("%s did not start within %v:\n%s", what, peerStartTimeout, tail(lastLog, 3000))
		}
		got, _ := strconv.Atoi(re.FindStringSubmatch(line)[1])
		if port != 0 && got != port {
			t.Fatalf("%s listens on %d, want %d", what, got, port)
		}
		b := &nodePeer{proc: p, port: got}
		if err := waitAccepts(b.Addr(), peerStartTimeout); err != nil {
			t.Fatalf("%s does not accept on %s: %v", what, b.Addr(), err)
		}
		return b
	}
	t.Fatalf("%s could not listen on port %d:\n%s", what, port, tail(lastLog, 3000))
	return nil
}

// backendCase is one backend kind a test body runs against.
type backendCase struct {
	name  string
	start func(t *testing.T) backendSpec
}

// backends lists the two relay backends: a stdio child per session, and
// server-everything over Streamable HTTP.
func backends() []backendCase {
	return []backendCase{
		{"stdio", func(*testing.T) backendSpec { return stdioBackend() }},
		{"http", func(t *testing.T) backendSpec { return httpBackend(startEverythingHTTP(t)) }},
	}
}
