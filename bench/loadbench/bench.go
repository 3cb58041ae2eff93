package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// The kinds of backend (-backend).
const (
	backendSession   = "session"
	backendStateless = "stateless"
)

// maxPayload is the largest -payload: 1 MiB, the gateway's default
// limits.maxBodyBytes being 4 MiB and the SDK's request limit as much.
const maxPayload = 1 << 20

// options are the benchmark's flags.
type options struct {
	clients       int
	rounds        int
	duration      time.Duration
	warmup        time.Duration
	timeout       time.Duration
	startTimeout  time.Duration
	maxRequests   int
	payload       int
	sse           bool
	backend       string // backendSession or backendStateless
	direct        bool
	mcpgate       string
	gatewayConfig string
	gatewayCmd    string
	arms          armFlags
	configArms    configArmFlags
	replicaArms   replicaArmFlags
	haproxy       string
	compare       compareFlags
	sessions      int // -sessions: new sessions per client per round, 0 for tools/call rounds
	jsonPath      string
	benchfmtPath  string
	rowsPath      string
	minRatio      float64
	logDir        string
	keepLogs      bool
	tool          string
	oidc          bool
}

func parseOptions(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("loadbench", flag.ContinueOnError)
	fs.IntVar(&o.clients, "c", 16, "concurrent `clients` (MCP sessions) per arm")
	fs.IntVar(&o.rounds, "rounds", 5, "measured `rounds` per arm, interleaved across arms")
	fs.DurationVar(&o.duration, "d", 5*time.Second, "`duration` of each round")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured warm-up `duration` per arm before the rounds")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "per-request `timeout`")
	fs.DurationVar(&o.startTimeout, "start-timeout", 30*time.Second, "how long a server may take to become healthy")
	fs.IntVar(&o.maxRequests, "max-requests", 1_000_000, "cap on requests per client per round, besides -d")
	fs.IntVar(&o.payload, "payload", 64, "echo message size in `bytes`")
	fs.StringVar(&o.tool, "tool", "echo", "the echo tool's `name` at the gateway arm (an aggregating gateway prefixes it: bench_echo); the other arms call echo")
	fs.BoolVar(&o.oidc, "oidc", false, "start an OpenID Connect issuer ({{.Issuer}}, {{.Audience}} in config templates) and send its bearer token on every request of every arm")
	fs.StringVar(&o.backend, "backend", backendSession, "`kind` of backend: session (the SDK's Streamable HTTP handler with sessions) or stateless (Stateless: true, no sessions)")
	fs.BoolVar(&o.sse, "sse", false, "backend answers POSTs with text/event-stream instead of application/json")
	fs.BoolVar(&o.direct, "direct", false, "add an arm `direct` with no relay, clients talking to the backend")
	fs.StringVar(&o.mcpgate, "mcpgate", "", "mcpgate binary `path`: runs `mcpgate serve --listen ADDR --upstream URL`")
	fs.StringVar(&o.gatewayConfig, "gateway-config", "", "config template `file` for mcpgate: runs `mcpgate serve --config RENDERED` ({{.Listen}}, {{.Upstream}} substituted)")
	fs.StringVar(&o.gatewayCmd, "gateway-cmd", "", "gateway `command line` instead of -mcpgate, with {{.Listen}}, {{.Upstream}}, {{.Self}} placeholders")
	fs.Var(&o.arms, "arm", "extra arm `name=command line` (same placeholders as -gateway-cmd); repeatable")
	fs.Var(&o.configArms, "config-arm", "extra mcpgate arm `name=FILE[,tool=NAME]` from config template FILE (as -gateway-config), calling tool NAME; repeatable")
	fs.Var(&o.replicaArms, "replicas-arm", "extra arm `"+replicaArmUsage+"`: N mcpgate processes from config template FILE behind one HAProxy (balance roundrobin; sticky: pinned by Mcp-Session-Id); repeatable")
	fs.StringVar(&o.haproxy, "haproxy", "haproxy", "HAProxy `binary` for -replicas-arm")
	fs.Var(&o.compare, "compare", "also compare arm A with arm B (`A/B`), besides each with the proxy; repeatable")
	fs.IntVar(&o.sessions, "sessions", 0, "measure session creation instead of calls: each client opens up to `N` new sessions per round (initialize + notifications/initialized, timed; then DELETE, untimed)")
	fs.StringVar(&o.jsonPath, "json", "", "also write the JSON result line to `file`")
	fs.StringVar(&o.benchfmtPath, "benchfmt", "", "write per-round results in Go benchmark format to `file` (- for stdout), for benchstat")
	fs.StringVar(&o.rowsPath, "rows", "", "append one Markdown table row per arm (against the proxy) to `file`, for bench/run-matrix.sh")
	fs.Float64Var(&o.minRatio, "min-ratio", 0, "fail when an arm's median throughput / the proxy's is below this (0: off)")
	fs.StringVar(&o.logDir, "logdir", "", "`directory` for server logs and rendered configs (default: a temporary one)")
	fs.BoolVar(&o.keepLogs, "keep-logs", false, "keep the log directory after a successful run")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case o.clients < 1 || o.clients > 4096:
		return nil, errors.New("-c must be in 1..4096")
	case o.rounds < 1 || o.rounds > 1000:
		return nil, errors.New("-rounds must be in 1..1000")
	case o.duration <= 0 || o.duration > time.Hour:
		return nil, errors.New("-d must be in (0, 1h]")
	case o.warmup < 0 || o.warmup > time.Hour:
		return nil, errors.New("-warmup must be in [0, 1h]")
	case o.maxRequests < 1:
		return nil, errors.New("-max-requests must be positive")
	case o.payload < 0 || o.payload > maxPayload:
		return nil, fmt.Errorf("-payload must be in 0..%d", maxPayload)
	case o.backend != backendSession && o.backend != backendStateless:
		return nil, fmt.Errorf("-backend must be %s or %s", backendSession, backendStateless)
	case o.minRatio < 0:
		return nil, errors.New("-min-ratio must not be negative")
	case o.sessions < 0:
		return nil, errors.New("-sessions must not be negative")
	}
	return o, nil
}

func runBench(args []string) error {
	o, err := parseOptions(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	arms, err := buildArms(o)
	if err != nil {
		return err
	}
	if err := checkCompare(o.compare, arms); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}

	dir := o.logDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "loadbench-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ok := false
	defer func() {
		if ok && !o.keepLogs && o.logDir == "" {
			os.RemoveAll(dir)
		} else {
			fmt.Fprintf(os.Stderr, "loadbench: server logs in %s\n", dir)
		}
	}()

	// Stop on SIGINT/SIGTERM: the deferred stops then end every server.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	rep, err := run(ctx, o, arms, self, dir)
	if err != nil {
		return err
	}
	if err := writeReport(os.Stdout, rep, o); err != nil {
		return err
	}
	if rep.Failure != "" {
		return errors.New(rep.Failure)
	}
	ok = true
	return nil
}

// run starts the backend and the arms, measures, and stops them all.
func run(ctx context.Context, o *options, specs []armSpec, self, dir string) (*report, error) {
	backendArgv := []string{self, "backend", "-listen", "127.0.0.1:0"}
	if o.sse {
		backendArgv = append(backendArgv, "-sse")
	}
	if o.backend == backendStateless {
		backendArgv = append(backendArgv, "-stateless")
	}
	lines := make(chan string, 1)
	backend, err := startProc("backend", backendArgv, dir, lines)
	if err != nil {
		return nil, err
	}
	defer backend.stop()
	upstream, err := backend.waitURL(lines, o.startTimeout)
	if err != nil {
		return nil, err
	}
	if _, err := parseLoopbackURL(upstream); err != nil {
		return nil, fmt.Errorf("backend address: %w", err)
	}
	if err := backend.waitHealthy(upstream[:len(upstream)-len("/mcp")], o.startTimeout); err != nil {
		return nil, err
	}
	logf("backend at %s", upstream)

	vars := cmdVars{Upstream: upstream, Self: self}
	if vars.PseudonymKeyFile, err = writePseudonymKey(dir); err != nil {
		return nil, err
	}
	if vars.SessionKeyFile, err = writeSessionKey(dir); err != nil {
		return nil, err
	}
	var bearer string
	if o.oidc {
		// The token outlives any run -rounds and -d allow.
		iss, err := startIssuer(2*time.Duration(o.rounds+1)*(o.duration+o.warmup) + time.Hour)
		if err != nil {
			return nil, fmt.Errorf("issuer: %w", err)
		}
		defer iss.close()
		vars.Issuer, vars.Audience, bearer = iss.URL, benchAudience, "Bearer "+iss.Token
		logf("OpenID Connect issuer at %s", iss.URL)
	}
	var arms []*armProc
	defer func() {
		for _, a := range arms {
			for _, p := range a.procs {
				p.stop()
			}
		}
	}()
	for _, spec := range specs {
		a := &armProc{spec: spec}
		url := upstream
		if !spec.direct {
			procs, u, err := startArm(spec, vars, dir, o.clients, o.startTimeout)
			if err != nil {
				return nil, err
			}
			a.procs, url = procs, u
		}
		a.target = newTarget(spec.name, url, o.clients, o.timeout)
		a.target.tool = spec.tool
		a.target.authorization = bearer
		arms = append(arms, a)
		logf("arm %s at %s", spec.name, url)
	}

	cfg := loadConfig{clients: o.clients, maxRequests: o.maxRequests, message: makeMessage(o.payload)}
	if o.sessions > 0 {
		cfg.newSessions, cfg.maxRequests = true, o.sessions
		cfg.requireSessionID = o.backend == backendSession
	}
	// Warm-up: connections, caches, and the Go runtimes' heaps settle before
	// anything is measured.
	if o.warmup > 0 {
		cfg.duration = o.warmup
		for _, a := range arms {
			a.warmup = runRound(ctx, a.target, cfg)
			logf("warm-up %-10s %v", a.spec.name, a.warmup)
			if err := checkArm(ctx, a); err != nil {
				return nil, err
			}
		}
	}
	// Rounds interleave the arms (A B A B …), so that slow drift in the
	// machine's state (thermal, other load, page cache) hits all arms alike.
	cfg.duration = o.duration
	for r := range o.rounds {
		for _, a := range arms {
			cpu0 := sampleCPU(a.procs, backend)
			res := runRound(ctx, a.target, cfg)
			res.CPU = cpu0.perRequest(sampleCPU(a.procs, backend), res.Requests)
			a.rounds = append(a.rounds, res)
			logf("round %d/%d %-10s %v", r+1, o.rounds, a.spec.name, res)
			if err := checkArm(ctx, a); err != nil {
				return nil, err
			}
		}
	}

	backendRSS, err := backend.peakRSS()
	if err != nil {
		logf("backend peak RSS: %v", err)
	}
	for _, a := range arms {
		a.target.closeIdle()
		for _, p := range a.procs {
			rss, err := p.peakRSS()
			if err != nil {
				logf("%s peak RSS: %v", p.name, err)
			}
			a.rss += rss
		}
	}
	return buildReport(o, arms, backendRSS), nil
}

// checkArm fails the run early when it was interrupted or an arm's process
// died; request errors are counted and fail it at the end.
func checkArm(ctx context.Context, a *armProc) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	for _, p := range a.procs {
		if err := p.alive(); err != nil {
			return err
		}
	}
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadbench: "+format+"\n", args...)
}
