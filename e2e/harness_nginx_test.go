package e2e

// nginx (Debian's, open source) in front of gateway replicas, for the
// affinity snippet of docs/deployment.md. Like HAProxy it is skipped where
// it is not installed, except with MCPGATE_REQUIRE_NGINX=1 (.ci/run).

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// nginxBin returns the nginx executable, or skips (fails with
// MCPGATE_REQUIRE_NGINX=1).
func nginxBin(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	if os.Getenv("MCPGATE_REQUIRE_NGINX") == "1" {
		t.Fatal("nginx is not installed and MCPGATE_REQUIRE_NGINX=1: .ci/run installs it (Debian: apt-get install nginx)")
	}
	t.Skip("nginx is not installed (Debian: apt-get install nginx); .ci/run installs it")
	return ""
}

// nginx is a running nginx in front of a replicaSet.
type nginx struct {
	*proc
	port int
	Cfg  string
}

func (n *nginx) URL() string { return fmt.Sprintf("http://127.0.0.1:%d/mcp", n.port) }

// nginxConfig: %[1]s the prefix directory, %[2]s the upstream's balancing
// line, %[3]s its server lines, %[4]d the listen port. Its access log (on
// stderr) names the replica of each request: E2E upstream status session.
const nginxConfig = `daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
events { worker_connections 512; }
http {
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    log_format e2e 'E2E $upstream_addr $status $http_mcp_session_id';
    access_log /dev/stderr e2e;
    upstream mcpgate {
        %[2]s
%[3]s    }
    server {
        listen 127.0.0.1:%[4]d;
        location / {
            proxy_pass http://mcpgate;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # The gateway checks Host (DNS rebinding): pass the client's.
            proxy_set_header Host $http_host;
            # SSE: pass every event on as it comes; long quiet streams.
            proxy_buffering off;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
        }
    }
}
`

// startNginx starts nginx on port in front of rs's replicas with the
// upstream balancing line balance (e.g. "hash $remote_addr consistent;").
func startNginx(t *testing.T, rs *replicaSet, port int, balance string) *nginx {
	t.Helper()
	bin := nginxBin(t)
	dir := t.TempDir()
	var servers strings.Builder
	for _, p := range rs.ports {
		fmt.Fprintf(&servers, "        server 127.0.0.1:%d;\n", p)
	}
	cfg := fmt.Sprintf(nginxConfig, dir, balance, servers.String(), port)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-p", dir, "-c", path, "-e", "stderr"}
	if out, err := exec.Command(bin, append(args, "-t")...).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s\nconfiguration:\n%s", err, out, cfg)
	}
	p, err := startProc(exec.Command(bin, args...))
	if err != nil {
		t.Fatal(err)
	}
	n := &nginx{proc: p, port: port, Cfg: cfg}
	t.Cleanup(func() {
		p.halt()
		if t.Failed() {
			t.Logf("nginx log:\n%s", tail(p.Log.String(), 4000))
		}
	})
	if err := waitAccepts(fmt.Sprintf("127.0.0.1:%d", port), peerStartTimeout); err != nil {
		t.Fatalf("nginx does not accept on port %d: %v\nlog:\n%s", port, err, p.Log.String())
	}
	return n
}

// upstreams returns, for requests carrying session sid, how many nginx
// sent to each replica address.
func (n *nginx) upstreams(sid string) map[string]int {
	out := map[string]int{}
	for _, l := range n.Log.Lines() {
		i := strings.Index(l, "E2E ")
		if i < 0 {
			continue
		}
		f := strings.Fields(l[i+4:])
		if len(f) == 3 && f[2] == sid {
			out[f[0]]++
		}
	}
	return out
}
