package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReplicaArmFlags(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    armSpec
		wantErr string
	}{
		{name: "plain", in: "three=3,config=s.yaml", want: armSpec{name: "three", replicas: 3, config: "s.yaml"}},
		{name: "sticky", in: "aff=3,config=r.yaml,sticky", want: armSpec{name: "aff", replicas: 3, config: "r.yaml", sticky: true}},
		{name: "every option", in: "x=1,sticky,tool=bench_echo,bin=/tmp/m,config=a.yaml",
			want: armSpec{name: "x", replicas: 1, config: "a.yaml", sticky: true, tool: "bench_echo", bin: "/tmp/m"}},
		{name: "no config", in: "three=3", wantErr: "config=FILE is required"},
		{name: "no name", in: "=3,config=s.yaml", wantErr: "no name="},
		{name: "no equals", in: "three", wantErr: "no name="},
		{name: "zero replicas", in: "z=0,config=s.yaml", wantErr: "1..16"},
		{name: "too many replicas", in: "z=17,config=s.yaml", wantErr: "1..16"},
		{name: "not a number", in: "z=three,config=s.yaml", wantErr: "1..16"},
		{name: "sticky with a value", in: "z=2,config=s.yaml,sticky=yes", wantErr: "sticky takes no value"},
		{name: "empty value", in: "z=2,config=", wantErr: `"config" needs a value`},
		{name: "unknown option", in: "z=2,config=s.yaml,replicas=3", wantErr: `unknown option "replicas"`},
		{name: "twice", in: "z=2,config=s.yaml,config=t.yaml", wantErr: "config given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f replicaArmFlags
			err := f.Set(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Set(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(f) != 1 || f[0].name != tt.want.name || f[0].replicas != tt.want.replicas || f[0].config != tt.want.config ||
				f[0].sticky != tt.want.sticky || f[0].tool != tt.want.tool || f[0].bin != tt.want.bin {
				t.Errorf("Set(%q) = %+v, want %+v", tt.in, f, tt.want)
			}
		})
	}
}

func TestBuildArmsReplicas(t *testing.T) {
	o := &options{haproxy: "true", replicaArms: []armSpec{{name: "three", replicas: 3, config: "s.yaml", bin: "/bin/true"}}}
	arms, err := buildArms(o)
	if err != nil {
		t.Fatal(err)
	}
	a := arms[len(arms)-1]
	if a.haproxy == "" || !filepath.IsAbs(a.haproxy) {
		t.Errorf("haproxy = %q, want the binary's absolute path", a.haproxy)
	}
	if want := []string{"/bin/true", "serve", "--config", "{{.ConfigFile}}"}; strings.Join(a.argv, " ") != strings.Join(want, " ") {
		t.Errorf("argv = %q, want %q", a.argv, want)
	}
	if got, want := strings.Join(relayProcesses(a), " "), "three-0 three-1 three-2 three-haproxy"; got != want {
		t.Errorf("relay processes = %q, want %q", got, want)
	}
	if relayProcesses(arms[0]) != nil {
		t.Errorf("the proxy arm has relay processes %q, want none listed", relayProcesses(arms[0]))
	}
}

func TestCompareFlags(t *testing.T) {
	arms := []armSpec{{name: "proxy"}, {name: "one"}, {name: "three"}}
	for _, tt := range []struct {
		in, wantErr string
	}{
		{in: "three/one"},
		{in: "one/proxy"},
		{in: "three/four", wantErr: `no arm named "four"`},
		{in: "three", wantErr: "want A/B"},
		{in: "three/three", wantErr: "want A/B"},
		{in: "a b/c", wantErr: "want A/B"},
		{in: "/one", wantErr: "want A/B"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			var c compareFlags
			err := c.Set(tt.in)
			if err == nil {
				err = checkCompare(c, arms)
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("-compare %s: error %v, want %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestHAProxyConfig(t *testing.T) {
	servers := []string{"127.0.0.1:4001", "127.0.0.1:4002", "127.0.0.1:4003"}
	stick := []string{
		"stick-table type string len 2048 size 1m expire 30m",
		"stick store-response res.hdr(mcp-session-id)",
		"stick match req.hdr(mcp-session-id)",
	}
	for _, sticky := range []bool{false, true} {
		cfg := haproxyConfig("127.0.0.1:4000", servers, sticky, 16)
		for _, want := range []string{
			"bind 127.0.0.1:4000\n", "balance roundrobin\n", "maxconn 96\n", "mode http\n",
			"server gw0 127.0.0.1:4001\n", "server gw1 127.0.0.1:4002\n", "server gw2 127.0.0.1:4003\n",
		} {
			if !strings.Contains(cfg, want) {
				t.Errorf("sticky=%v: config lacks %q:\n%s", sticky, want, cfg)
			}
		}
		for _, s := range stick {
			if strings.Contains(cfg, s) != sticky {
				t.Errorf("sticky=%v: %q present = %v:\n%s", sticky, s, !sticky, cfg)
			}
		}
		// A gateway's health check (`check`) or a preference for the last
		// server would change what is measured.
		for _, not := range []string{" check", "prefer-last-server", "http-server-close", "httpclose"} {
			if strings.Contains(cfg, not) {
				t.Errorf("sticky=%v: config has %q:\n%s", sticky, not, cfg)
			}
		}
		// HAProxy itself must accept it.
		haproxy := lookHAProxy(t)
		path := filepath.Join(t.TempDir(), "h.cfg")
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(haproxy, "-c", "-f", path).CombinedOutput(); err != nil {
			t.Errorf("sticky=%v: haproxy -c: %v\n%s\n%s", sticky, err, out, cfg)
		}
	}
}

// lookHAProxy returns the haproxy binary (Debian's is in /usr/sbin, not
// always in PATH), or skips the test without one: the benchmark's replicas
// arms need it, its other tests do not. Where .ci/run installed it
// (MCPGATE_REQUIRE_HAPROXY=1) a missing one fails the test instead: a skip
// there would be a check counted as a pass.
func lookHAProxy(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/haproxy"); err == nil {
		return "/usr/sbin/haproxy"
	}
	if os.Getenv("MCPGATE_REQUIRE_HAPROXY") == "1" {
		t.Fatal("haproxy is not installed and MCPGATE_REQUIRE_HAPROXY=1 (Debian: apt-get install haproxy)")
	}
	t.Skip("no haproxy in PATH (Debian: apt-get install haproxy)")
	return ""
}

// TestRoundThroughHAProxy runs rounds through a real HAProxy with the
// generated config in front of two bare proxies to one backend, and checks
// where each session's requests went: without sticky, round robin spreads
// one session's calls over both proxies (what sealed sessions must
// survive); with sticky, every request of a session lands where its
// initialize did (the affinity setup).
func TestRoundThroughHAProxy(t *testing.T) {
	haproxy := lookHAProxy(t)
	backend := httptest.NewServer(newBackend(false, false))
	defer backend.Close()
	u, err := url.Parse(backend.URL + "/mcp")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]map[int]int{} // session id -> proxy index -> requests
	var servers []string
	for i := range 2 {
		p := newProxy(u)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				id := r.Header.Get("Mcp-Session-Id")
				mu.Lock()
				if seen[id] == nil {
					seen[id] = map[int]int{}
				}
				seen[id][i]++
				mu.Unlock()
			}
			p.ServeHTTP(w, r)
		}))
		defer srv.Close()
		servers = append(servers, strings.TrimPrefix(srv.URL, "http://"))
	}
	for _, sticky := range []bool{false, true} {
		t.Run(map[bool]string{false: "round robin", true: "sticky"}[sticky], func(t *testing.T) {
			mu.Lock()
			clear(seen)
			mu.Unlock()
			dir := t.TempDir()
			addr, err := freeLoopbackAddr()
			if err != nil {
				t.Fatal(err)
			}
			cfg := filepath.Join(dir, "haproxy.cfg")
			if err := os.WriteFile(cfg, []byte(haproxyConfig(addr, servers, sticky, 4)), 0o644); err != nil {
				t.Fatal(err)
			}
			p, err := startProc("haproxy", []string{haproxy, "-db", "-f", cfg}, dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer p.stop()
			if err := p.waitHealthy("http://"+addr, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			tg := newTarget("haproxy", "http://"+addr+"/mcp", 4, 5*time.Second)
			defer tg.closeIdle()
			res := runRound(context.Background(), tg, loadConfig{clients: 4, duration: 5 * time.Second, maxRequests: 20, message: makeMessage(10)})
			if res.Errors != 0 || res.Requests != 80 {
				t.Fatalf("%v (first error: %s), want 80 calls and no error", res, res.FirstError)
			}
			mu.Lock()
			defer mu.Unlock()
			sessions, spread := 0, 0
			for id, by := range seen {
				if id == "" {
					continue // initialize
				}
				sessions++
				if len(by) > 1 {
					spread++
				}
			}
			if sessions != 4 {
				t.Fatalf("saw %d sessions, want 4: %v", sessions, seen)
			}
			if sticky && spread != 0 || !sticky && spread != sessions {
				t.Errorf("%d of %d sessions reached both proxies: %v", spread, sessions, seen)
			}
		})
	}
}

// TestSessionRound checks the -sessions mode: every iteration opens (and
// deletes) a session, bounded by the count, and a missing session id is an
// error where one is required.
func TestSessionRound(t *testing.T) {
	tests := []struct {
		name      string
		stateless bool
		requireID bool
		wantOK    bool
	}{
		{name: "sessions", requireID: true, wantOK: true},
		{name: "stateless", stateless: true, wantOK: true},
		{name: "stateless, id required", stateless: true, requireID: true, wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			methods := map[string]int{}
			h := newBackend(false, tt.stateless)
			backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				methods[r.Method]++
				mu.Unlock()
				h.ServeHTTP(w, r)
			}))
			defer backend.Close()
			tg := newTarget("direct", backend.URL+"/mcp", 3, 5*time.Second)
			defer tg.closeIdle()
			cfg := loadConfig{clients: 3, duration: 5 * time.Second, maxRequests: 7, newSessions: true, requireSessionID: tt.requireID}
			res := runRound(context.Background(), tg, cfg)
			if !tt.wantOK {
				if res.Errors == 0 || res.Requests != 0 {
					t.Fatalf("%v: want every session counted as an error", res)
				}
				return
			}
			if res.Errors != 0 || res.Requests != 21 {
				t.Fatalf("%v (first error: %s), want 21 sessions and no error", res, res.FirstError)
			}
			if res.P50 <= 0 || res.P99 < res.P50 {
				t.Errorf("implausible latencies %v", res)
			}
			mu.Lock()
			defer mu.Unlock()
			wantDeletes := 21
			if tt.stateless {
				wantDeletes = 0 // nothing to delete
			}
			if methods[http.MethodPost] != 42 || methods[http.MethodDelete] != wantDeletes {
				t.Errorf("backend saw %v, want 42 POSTs (initialize, initialized) and %d DELETEs", methods, wantDeletes)
			}
		})
	}
}

func TestRelayByProcess(t *testing.T) {
	us := time.Microsecond
	round := func(parts ...time.Duration) roundResult { return roundResult{CPU: cpuPerRequest{RelayParts: parts}} }
	tests := []struct {
		name   string
		rounds []roundResult
		n      int
		want   []float64
	}{
		{name: "not a replicas arm", rounds: []roundResult{round()}, n: 0, want: nil},
		{name: "medians by process", rounds: []roundResult{round(100*us, 10*us), round(300*us, 30*us), round(200*us, 20*us)}, n: 2, want: []float64{200, 20}},
		{name: "a round without a sample is left out", rounds: []roundResult{round(100*us, 10*us), round()}, n: 2, want: []float64{100, 10}},
		{name: "never sampled", rounds: []roundResult{round(), round()}, n: 2, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := relayByProcess(tt.rounds, tt.n)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("relayByProcess = %v, want %v", got, tt.want)
			}
		})
	}
	// perRequest splits the relay's CPU by process when it sampled parts.
	s0 := cpuSample{relay: 30 * time.Millisecond, relayParts: []time.Duration{10 * time.Millisecond, 20 * time.Millisecond}, ok: true}
	s1 := cpuSample{relay: 60 * time.Millisecond, relayParts: []time.Duration{30 * time.Millisecond, 30 * time.Millisecond}, ok: true}
	c := s0.perRequest(s1, 10)
	if c.Relay != 3*time.Millisecond || fmt.Sprint(c.RelayParts) != fmt.Sprint([]time.Duration{2 * time.Millisecond, time.Millisecond}) {
		t.Errorf("perRequest = %+v, want relay 3ms split 2ms, 1ms", c)
	}
}
