package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// armSpec says how to start one arm. Every word of argv is a template over
// cmdVars (see template.go).
type armSpec struct {
	name     string
	argv     []string
	config   string // a config template file rendered to {{.ConfigFile}}, or ""
	direct   bool   // no relay: clients talk to the backend itself
	baseline bool   // the arm the others are compared with
	tool     string // the echo tool's name at this arm; "" is "echo"
	bin      string // -config-arm bin=PATH: this mcpgate binary instead of -mcpgate's

	// A replicas arm (-replicas-arm): replicas mcpgate processes behind one
	// HAProxy (the haproxy binary), pinning sessions to replicas if sticky.
	// 0 for every other arm, which is one process.
	replicas int
	sticky   bool
	haproxy  string
}

// The baseline's name is fixed so that benchstat output and JSON lines from
// different runs line up.
const baselineArm = "proxy"

var armNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// armFlags collects repeated -arm name=cmdline flags.
type armFlags []armSpec

func (a *armFlags) String() string { return "" }

func (a *armFlags) Set(v string) error {
	name, cmdline, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want name=command line, got %q", v)
	}
	argv, err := splitCommand(cmdline)
	if err != nil {
		return err
	}
	*a = append(*a, armSpec{name: name, argv: argv})
	return nil
}

// configArmFlags collects repeated -config-arm name=FILE[,tool=NAME][,bin=PATH]
// flags: more mcpgate arms, each from its own config template, so that
// several configurations (or builds: bin) are measured in one run against
// the same proxy rounds.
type configArmFlags []armSpec

func (a *configArmFlags) String() string { return "" }

func (a *configArmFlags) Set(v string) error {
	name, rest, ok := strings.Cut(v, "=")
	if !ok || rest == "" {
		return fmt.Errorf("want name=FILE[,tool=NAME], got %q", v)
	}
	opts := strings.Split(rest, ",")
	spec := armSpec{name: name, config: opts[0]}
	for _, opt := range opts[1:] {
		k, val, _ := strings.Cut(opt, "=")
		switch {
		case val == "":
			return fmt.Errorf("want name=FILE[,tool=NAME][,bin=PATH], got %q", v)
		case k == "tool" && spec.tool == "":
			spec.tool = val
		case k == "bin" && spec.bin == "":
			spec.bin = val
		default:
			return fmt.Errorf("want name=FILE[,tool=NAME][,bin=PATH], got %q", v)
		}
	}
	*a = append(*a, spec)
	return nil
}

// buildArms returns the arms o asks for, the baseline first. The gateway
// arm calls o.tool; config and replicas arms name their own.
func buildArms(o *options) ([]armSpec, error) {
	mcpgate, gatewayConfig, gatewayCmd, tool := o.mcpgate, o.gatewayConfig, o.gatewayCmd, o.tool
	arms := []armSpec{{
		name:     baselineArm,
		argv:     []string{"{{.Self}}", "proxy", "-listen", "{{.Listen}}", "-upstream", "{{.Upstream}}"},
		baseline: true,
	}}
	switch {
	case gatewayCmd != "" && (mcpgate != "" || gatewayConfig != ""):
		return nil, fmt.Errorf("-gateway-cmd replaces -mcpgate and -gateway-config: give one or the other")
	case gatewayCmd != "":
		argv, err := splitCommand(gatewayCmd)
		if err != nil {
			return nil, fmt.Errorf("-gateway-cmd: %w", err)
		}
		arms = append(arms, armSpec{name: "gateway", argv: argv, tool: tool})
	case gatewayConfig != "":
		if mcpgate == "" {
			return nil, fmt.Errorf("-gateway-config needs -mcpgate")
		}
		if _, err := exec.LookPath(mcpgate); err != nil {
			return nil, fmt.Errorf("-mcpgate: %w", err)
		}
		arms = append(arms, armSpec{name: "gateway", argv: []string{mcpgate, "serve", "--config", "{{.ConfigFile}}"}, config: gatewayConfig, tool: tool})
	case mcpgate != "":
		if _, err := exec.LookPath(mcpgate); err != nil {
			return nil, fmt.Errorf("-mcpgate: %w", err)
		}
		// No admin listener (as in configs/relay.yaml): its default
		// address is a fixed port, which two arms or two runs would share.
		arms = append(arms, armSpec{name: "gateway", argv: []string{mcpgate, "serve", "--listen", "{{.Listen}}", "--admin=", "--upstream", "{{.Upstream}}"}, tool: tool})
	}
	arms = append(arms, o.arms...)
	for _, c := range o.configArms {
		bin := c.bin
		if bin == "" {
			bin = mcpgate
		}
		if bin == "" {
			return nil, fmt.Errorf("-config-arm needs -mcpgate or bin=PATH")
		}
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("-config-arm %s: %w", c.name, err)
		}
		c.argv = []string{bin, "serve", "--config", "{{.ConfigFile}}"}
		arms = append(arms, c)
	}
	for _, c := range o.replicaArms {
		bin := c.bin
		if bin == "" {
			bin = mcpgate
		}
		if bin == "" {
			return nil, fmt.Errorf("-replicas-arm needs -mcpgate or bin=PATH")
		}
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("-replicas-arm %s: %w", c.name, err)
		}
		haproxy, err := exec.LookPath(o.haproxy)
		if err != nil {
			return nil, fmt.Errorf("-replicas-arm %s needs HAProxy (-haproxy): %w", c.name, err)
		}
		c.argv = []string{bin, "serve", "--config", "{{.ConfigFile}}"}
		c.haproxy = haproxy
		arms = append(arms, c)
	}
	if o.direct {
		arms = append(arms, armSpec{name: "direct", direct: true})
	}
	if len(arms) < 2 {
		return nil, fmt.Errorf("nothing to compare with the proxy: give -mcpgate, -gateway-cmd or -arm")
	}
	seen := map[string]bool{}
	for _, a := range arms {
		if !armNameRE.MatchString(a.name) {
			return nil, fmt.Errorf("arm name %q: use letters, digits, '_', '.', '-'", a.name)
		}
		if seen[a.name] {
			return nil, fmt.Errorf("two arms named %q", a.name)
		}
		seen[a.name] = true
		// Catch a placeholder typo now, not after the backend has started.
		if _, err := expandArgv(a.argv, cmdVars{}); err != nil {
			return nil, fmt.Errorf("arm %s: %w", a.name, err)
		}
	}
	return arms, nil
}

// armProc is a started arm.
type armProc struct {
	spec armSpec
	// procs are the arm's relay processes, whose CPU time is the arm's
	// relay CPU: one, or a replicas arm's gateways and HAProxy (last);
	// none for the direct arm.
	procs  []*proc
	target *target
	rounds []roundResult
	warmup roundResult
	rss    int64 // the sum of procs' peak RSS
}

// startArm starts an arm's processes, relaying to vars.Upstream, waits
// until they are healthy, and returns them with the URL clients use.
func startArm(spec armSpec, vars cmdVars, dir string, clients int, startTimeout time.Duration) ([]*proc, string, error) {
	if spec.replicas > 0 {
		return startReplicas(spec, vars, dir, clients, startTimeout)
	}
	p, url, err := startProcess(spec, spec.name, vars, dir, startTimeout)
	if err != nil {
		return nil, "", err
	}
	return []*proc{p}, url, nil
}

// startProcess starts one process of spec, named name (its log, rendered
// config and audit file, and {{.Replica}}), listening on a fresh loopback
// port, and waits until it is healthy.
func startProcess(spec armSpec, name string, vars cmdVars, dir string, startTimeout time.Duration) (*proc, string, error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, "", err
	}
	vars.Listen = addr
	vars.Replica = name
	if vars.Front == "" {
		vars.Front = addr
	}
	vars.AuditFile = filepath.Join(dir, name+"-audit.jsonl")
	if spec.config != "" {
		if vars.TemplateDir, err = filepath.Abs(filepath.Dir(spec.config)); err != nil {
			return nil, "", err
		}
		text, err := os.ReadFile(spec.config)
		if err != nil {
			return nil, "", err
		}
		rendered, err := expand(string(text), vars)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", spec.config, err)
		}
		vars.ConfigFile = filepath.Join(dir, name+"-config"+filepath.Ext(spec.config))
		if err := os.WriteFile(vars.ConfigFile, []byte(rendered), 0o600); err != nil {
			return nil, "", err
		}
	}
	argv, err := expandArgv(spec.argv, vars)
	if err != nil {
		return nil, "", fmt.Errorf("arm %s: %w", spec.name, err)
	}
	p, err := startProc(name, argv, dir, nil)
	if err != nil {
		return nil, "", err
	}
	base := "http://" + addr
	if err := p.waitHealthy(base, startTimeout); err != nil {
		p.stop()
		return nil, "", err
	}
	return p, base + "/mcp", nil
}
