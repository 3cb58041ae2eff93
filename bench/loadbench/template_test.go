package main

import (
	"slices"
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	vars := cmdVars{Listen: "127.0.0.1:4000", Upstream: "http://127.0.0.1:5000/mcp", Self: "/tmp/loadbench", ConfigFile: "/tmp/c.yaml"}
	for _, tt := range []struct {
		text, want string
		err        bool
	}{
		{"--listen {{.Listen}}", "--listen 127.0.0.1:4000", false},
		{"listen: {{.Listen}}\nupstreams:\n  - url: {{.Upstream}}\n", "listen: 127.0.0.1:4000\nupstreams:\n  - url: http://127.0.0.1:5000/mcp\n", false},
		{"{{.Self}} --config {{.ConfigFile}}", "/tmp/loadbench --config /tmp/c.yaml", false},
		{"no placeholders", "no placeholders", false},
		{"{{.Upsteam}}", "", true}, // a typo fails
		{"{{.Listen", "", true},
	} {
		got, err := expand(tt.text, vars)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("expand(%q) = %q, %v; want %q, error %v", tt.text, got, err, tt.want, tt.err)
		}
	}

	argv, err := expandArgv([]string{"{{.Self}}", "proxy", "-upstream", "{{.Upstream}}"}, cmdVars{Self: "/a dir/loadbench", Upstream: "u"})
	if want := []string{"/a dir/loadbench", "proxy", "-upstream", "u"}; err != nil || !slices.Equal(argv, want) {
		t.Errorf("expandArgv = %q, %v; want %q", argv, err, want)
	}
}

func TestSplitCommand(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
		err  bool
	}{
		{"mcpgate serve --listen {{.Listen}}", []string{"mcpgate", "serve", "--listen", "{{.Listen}}"}, false},
		{"  a \t b\n", []string{"a", "b"}, false},
		{`a 'b c' "d e"`, []string{"a", "b c", "d e"}, false},
		{`a "b \"c\"" 'it''s'`, []string{"a", `b "c"`, "its"}, false},
		{`a\ b c`, []string{"a b", "c"}, false},
		{`''`, []string{""}, false},
		{`x "" y`, []string{"x", "", "y"}, false},
		{`'unclosed`, nil, true},
		{`trailing\`, nil, true},
		{"   ", nil, true},
	} {
		got, err := splitCommand(tt.in)
		if (err != nil) != tt.err || !slices.Equal(got, tt.want) {
			t.Errorf("splitCommand(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestBuildArms(t *testing.T) {
	var extra armFlags
	if err := extra.Set("p2={{.Self}} proxy -listen {{.Listen}} -upstream {{.Upstream}}"); err != nil {
		t.Fatal(err)
	}
	var configArms configArmFlags
	for _, v := range []string{"traced=t.yaml", "agg=a.yaml,tool=bench_echo"} {
		if err := configArms.Set(v); err != nil {
			t.Fatalf("-config-arm %s: %v", v, err)
		}
	}
	var binArm configArmFlags
	if err := binArm.Set("before=r.yaml,bin=/bin/true,tool=echo"); err != nil {
		t.Fatalf("-config-arm with bin=: %v", err)
	}
	for _, tt := range []struct {
		name                        string
		mcpgate, config, gatewayCmd string
		extra, configArms           []armSpec
		replicaArms                 []armSpec
		haproxy                     string
		direct                      bool
		want                        []string // arm names; nil: an error
		wantTools                   []string // each arm's tool, when set
		wantBin                     string   // the last arm's binary, when set
		wantErr                     string
	}{
		{name: "gateway command", gatewayCmd: "x {{.Listen}}", want: []string{"proxy", "gateway"}},
		{name: "mcpgate", mcpgate: "/bin/true", want: []string{"proxy", "gateway"}},
		{name: "mcpgate with config", mcpgate: "/bin/true", config: "c.yaml", want: []string{"proxy", "gateway"}},
		{name: "extra and direct", extra: extra, direct: true, want: []string{"proxy", "p2", "direct"}},
		{name: "config arms", mcpgate: "/bin/true", configArms: configArms,
			want: []string{"proxy", "gateway", "traced", "agg"}, wantTools: []string{"", "", "", "bench_echo"}},
		{name: "config arm without mcpgate", gatewayCmd: "x", configArms: configArms, wantErr: "-config-arm needs -mcpgate"},
		{name: "config arm with its own binary", gatewayCmd: "x", configArms: binArm,
			want: []string{"proxy", "gateway", "before"}, wantBin: "/bin/true"},
		{name: "config arm binary missing", gatewayCmd: "x", configArms: []armSpec{{name: "b", config: "r.yaml", bin: "/nonexistent/mcpgate"}}, wantErr: "-config-arm b"},
		{name: "replicas arms", replicaArms: []armSpec{{name: "one", replicas: 1, config: "s.yaml"}, {name: "three", replicas: 3, config: "s.yaml", bin: "/bin/true"}},
			mcpgate: "/bin/true", want: []string{"proxy", "gateway", "one", "three"}, wantBin: "/bin/true"},
		{name: "replicas arm alone", replicaArms: []armSpec{{name: "three", replicas: 3, config: "s.yaml", bin: "/bin/true"}},
			want: []string{"proxy", "three"}},
		{name: "replicas arm without mcpgate", replicaArms: []armSpec{{name: "three", replicas: 3, config: "s.yaml"}},
			wantErr: "-replicas-arm needs -mcpgate"},
		{name: "replicas arm without haproxy", replicaArms: []armSpec{{name: "three", replicas: 3, config: "s.yaml", bin: "/bin/true"}},
			haproxy: "/nonexistent/haproxy", wantErr: "needs HAProxy"},
		{name: "nothing to compare", wantErr: "nothing to compare"},
		{name: "config without mcpgate", config: "c.yaml", wantErr: "needs -mcpgate"},
		{name: "both", mcpgate: "/bin/true", gatewayCmd: "x", wantErr: "one or the other"},
		{name: "missing binary", mcpgate: "/nonexistent/mcpgate", wantErr: "-mcpgate"},
		{name: "duplicate name", extra: []armSpec{{name: "proxy", argv: []string{"x"}}}, wantErr: "two arms"},
		{name: "bad name", extra: []armSpec{{name: "a/b", argv: []string{"x"}}}, wantErr: "arm name"},
		{name: "placeholder typo", gatewayCmd: "x {{.Lisen}}", wantErr: "Lisen"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := &options{mcpgate: tt.mcpgate, gatewayConfig: tt.config, gatewayCmd: tt.gatewayCmd, arms: tt.extra,
				configArms: tt.configArms, replicaArms: tt.replicaArms, haproxy: tt.haproxy, direct: tt.direct}
			if o.haproxy == "" {
				o.haproxy = "/bin/true" // any executable: buildArms only looks it up
			}
			arms, err := buildArms(o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, a := range arms {
				names = append(names, a.name)
			}
			if !slices.Equal(names, tt.want) || !arms[0].baseline {
				t.Errorf("arms = %v, want %v with the baseline first", names, tt.want)
			}
			if last := arms[len(arms)-1]; tt.wantBin != "" && last.argv[0] != tt.wantBin {
				t.Errorf("last arm runs %q, want %q", last.argv[0], tt.wantBin)
			}
			if tt.wantTools != nil {
				var tools []string
				for _, a := range arms {
					tools = append(tools, a.tool)
				}
				if !slices.Equal(tools, tt.wantTools) {
					t.Errorf("tools = %q, want %q", tools, tt.wantTools)
				}
			}
		})
	}
	if err := extra.Set("no-equals-sign"); err == nil {
		t.Error("-arm without name= accepted")
	}
	for _, bad := range []string{"x", "x=", "x=f.yaml,tool=", "x=f.yaml,tools=y", "x=f.yaml,bin=", "x=f.yaml,tool=a,tool=b"} {
		if err := configArms.Set(bad); err == nil {
			t.Errorf("-config-arm %q accepted", bad)
		}
	}
}

func TestBenchfmtLines(t *testing.T) {
	rep := &report{
		Config: reportConfig{Clients: 16, Backend: backendStateless, Payload: 64, CPUs: 2},
		Arms: []armReport{{Name: "proxy", Rounds: []roundJSON{
			{Throughput: 2000, P50us: 1500, P99us: 4000, Requests: 10000},
			{Throughput: 0, Requests: 0}, // a round with nothing done has no ns/op
		}}},
	}
	var got []string
	for _, l := range benchfmtLines(rep) {
		if strings.HasPrefix(l, "Benchmark") {
			got = append(got, l)
		}
	}
	want := []string{"BenchmarkRelay/arm=proxy/backend=stateless/resp=json/c=16/payload=64-2\t10000\t500000 ns/op\t2000.0 req/s\t1500000 p50-ns\t4000000 p99-ns"}
	if !slices.Equal(got, want) {
		t.Errorf("benchfmt lines:\n%q\nwant\n%q", got, want)
	}
}

func TestRowLines(t *testing.T) {
	x := func(v float64) *float64 { return &v }
	tests := []struct {
		name string
		rep  *report
		want []string
	}{
		{
			name: "one arm against the proxy",
			rep: &report{
				Config: reportConfig{Clients: 16, Backend: backendStateless, Payload: 64 << 10},
				Arms: []armReport{
					{Name: "proxy", CPU: cpuJSON{Relay: 150}},
					{Name: "gateway", CPU: cpuJSON{Relay: 140}, PeakRSS: 30 << 20, Errors: 0},
				},
				Ratios: []armRatios{{Arm: "gateway", Baseline: "proxy", Throughput: x(1.02), ThroughputPaired: x(1.01), RelayCPU: x(140.0 / 150)}},
			},
			want: []string{"| stateless | json | 16 | 64 KiB | gateway | 1.020x | 1.010x | 140µs | 150µs | 0.933x | 30.0 MiB | 0 |"},
		},
		{
			name: "sse, odd size, no ratio",
			rep: &report{
				Config: reportConfig{Clients: 1, Backend: backendSession, SSE: true, Payload: 100},
				Arms:   []armReport{{Name: "proxy"}, {Name: "all", Errors: 3}},
				Ratios: []armRatios{{Arm: "all", Baseline: "proxy"}},
			},
			want: []string{"| session | sse | 1 | 100 B | all | n/a | n/a | 0µs | 0µs | n/a | - | 3 |"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rowLines(tt.rep); !slices.Equal(got, tt.want) {
				t.Errorf("rows:\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}
