// Command mcpgate is an authenticating, observable gateway in front of MCP
// servers. Run `mcpgate help` for usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/mcpgate/mcpgate/internal/authz"
	"github.com/mcpgate/mcpgate/internal/config"
	"github.com/mcpgate/mcpgate/internal/gateway"
	"github.com/mcpgate/mcpgate/internal/redact"
	"github.com/mcpgate/mcpgate/internal/tracelog"
)

const usage = `mcpgate — an authenticating, observable gateway for MCP servers

Usage:
  mcpgate serve --config FILE                         run with a config file
  mcpgate serve [--listen ADDR] [--admin ADDR] --upstream URL
                                                      try it in front of a Streamable HTTP server
  mcpgate serve [--listen ADDR] [--admin ADDR] -- COMMAND [ARGS...]
                                                      try it in front of a stdio server
  mcpgate validate --config FILE                      check a config file and exit
  mcpgate apikey new --subject NAME [--groups a,b]    make an API key and its config entry
  mcpgate keygen                                      print a fresh 32-byte key (pseudonymization, sessions)
  mcpgate pseudonym --config FILE --issuer I --subject S
                                                      print a principal's pseudonym under every key
  mcpgate authz check --config FILE --principal JSON --method M [--target T]
                    [--arguments JSON] [--backend B] [--annotations JSON]
                                                      print a policy decision (exit 0 allow, 1 deny)
  mcpgate version                                     print the version

The forms without a config file are for trying mcpgate locally: they listen on
loopback only (default 127.0.0.1:8080; admin listener 127.0.0.1:9464, --admin ""
turns it off), do not authenticate clients, and say so at start-up. Clients
connect to http://ADDR/mcp.

Signals: SIGINT/SIGTERM drain and stop; SIGHUP reloads the TLS certificate,
reopens the audit log file and reloads the authz policy files.
Docs: docs/configuration.md, docs/authentication.md, docs/protocol.md, docs/operations.md.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// exitUsage is the exit status for command-line mistakes, like flag's.
const exitUsage = 2

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "validate":
		return validate(args[1:], stdout, stderr)
	case "apikey":
		return apikey(args[1:], stdout, stderr)
	case "keygen":
		return keygen(args[1:], stdout, stderr)
	case "pseudonym":
		return pseudonymCmd(args[1:], stdout, stderr)
	case "authz":
		return authzCmd(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "mcpgate", version())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "mcpgate: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
}

func version() string {
	if gateway.Version != "dev" {
		return gateway.Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return gateway.Version
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("mcpgate "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// loadConfig resolves the three ways serve can be configured.
func loadConfig(file, listen, upstream string, command []string) (*config.Config, error) {
	switch {
	case file != "":
		if upstream != "" || len(command) > 0 || listen != "" {
			return nil, errors.New("--config cannot be combined with --listen, --upstream or a command: put them in the file")
		}
		return config.Load(file)
	case upstream != "" && len(command) > 0:
		return nil, errors.New("give either --upstream URL or -- COMMAND, not both")
	case upstream != "":
		return config.ForUpstream(listen, upstream)
	case len(command) > 0:
		return config.ForCommand(listen, command)
	}
	return nil, errors.New("nothing to serve: give --config FILE, --upstream URL, or -- COMMAND [ARGS...]")
}

// envUserAttribution overrides telemetry.userAttribution; the flag
// overrides both.
const envUserAttribution = "MCPGATE_USER_ATTRIBUTION"

// overrideUserAttribution applies, in rising precedence, the environment
// variable and the --user-attribution flag over the config file's value.
func overrideUserAttribution(cfg *config.Config, flagValue string) error {
	if v, ok := os.LookupEnv(envUserAttribution); ok && v != "" {
		if err := cfg.SetUserAttribution(v, envUserAttribution); err != nil {
			return err
		}
	}
	if flagValue != "" {
		return cfg.SetUserAttribution(flagValue, "--user-attribution")
	}
	return nil
}

// setAdmin applies --admin to a no-file configuration. Like --listen it must
// be loopback: the admin listener serves pprof.
func setAdmin(cfg *config.Config, addr string) error {
	if addr != "" && !config.IsLoopback(addr) {
		return fmt.Errorf("--admin %q is not a loopback address; use a config file to expose the admin listener", addr)
	}
	cfg.Admin.Listen = addr
	return cfg.Validate()
}

func adminSet(fs *flag.FlagSet) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "admin" })
	return set
}

func serve(args []string, stderr io.Writer) int {
	fs := newFlagSet("serve", stderr)
	file := fs.String("config", "", "config `file` (YAML)")
	listen := fs.String("listen", "", "listen `address` for the no-file forms (default 127.0.0.1:8080; loopback only)")
	upstream := fs.String("upstream", "", "Streamable HTTP `URL` of the MCP server to relay to (no-file form)")
	userAttribution := fs.String("user-attribution", "", "identity on spans: off, hashed or raw (overrides "+envUserAttribution+" and telemetry.userAttribution)")
	admin := fs.String("admin", config.DefaultAdminListen, "admin listener `address` for the no-file forms (loopback only; \"\" disables it)")
	inheritEnv := fs.String("inherit-env", "", "comma-separated `names` of mcpgate's environment variables passed to the command of the no-file form (a trailing * makes a prefix); it otherwise gets only PATH, HOME, locale and the like")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	cfg, err := loadConfig(*file, *listen, *upstream, fs.Args())
	if err == nil && *file == "" {
		err = setAdmin(cfg, *admin)
	} else if err == nil && adminSet(fs) {
		err = errors.New("--admin cannot be combined with --config: set admin.listen in the file")
	}
	if err == nil && *inheritEnv != "" {
		err = cfg.SetInheritEnv(strings.Split(*inheritEnv, ","))
	}
	if err == nil {
		err = overrideUserAttribution(cfg, *userAttribution)
	}
	if err != nil {
		fmt.Fprintln(stderr, "mcpgate:", err)
		return 1
	}
	if err := cfg.CheckFiles(); err != nil {
		fmt.Fprintln(stderr, "mcpgate:", err)
		return 1
	}
	log := newLogger(cfg.Log, stderr)
	if cfg.Redacts() {
		// Every component logs through this logger (and slog.Default):
		// no line shows a value a ${env:…}/${file:…} reference resolved to.
		log = redact.Logger(log, cfg.Redact)
	}
	slog.SetDefault(log)
	for _, w := range cfg.Warnings() {
		log.Warn(w)
	}
	log.Info("configuration", "config", cfg)

	g, err := gateway.New(cfg, log)
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			if err := g.ReloadTLS(); err != nil {
				log.Error("TLS reload failed; keeping the old certificate", "error", err)
			} else {
				log.Info("TLS certificate reloaded")
			}
			if err := g.ReopenAudit(); err != nil {
				log.Error("audit log reopen failed", "error", err)
			}
			if g.AuthzOn() {
				// The error names file and position (or the policy id of a
				// type error), never the policy text.
				if n, err := g.ReloadPolicies(); err != nil {
					log.Warn("authz policy reload failed; keeping the policies in force", "error", err, "policies", n)
				} else {
					log.Info("authz policies reloaded", "policies", n)
				}
			}
		}
	}()
	if err := g.Run(ctx, nil); err != nil {
		log.Error("stopped with an error", "error", err)
		return 1
	}
	return 0
}

func validate(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", stderr)
	file := fs.String("config", "", "config `file` to check")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *file == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: mcpgate validate --config FILE")
		return exitUsage
	}
	cfg, err := config.Load(*file)
	if err == nil {
		err = cfg.CheckFiles()
	}
	if err == nil && cfg.Authz.On() {
		// Parsed and type-checked against the schema, as serve would.
		_, err = authz.Load(cfg.Authz.Policies, authz.LoadOptions{})
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintln(stdout, "warning:", cfg.Redact(w))
	}
	fmt.Fprintf(stdout, "%s: ok\n", *file)
	return 0
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(c.Format, "text") {
		return slog.New(tracelog.Handler(slog.NewTextHandler(w, opts)))
	}
	return slog.New(tracelog.Handler(slog.NewJSONHandler(w, opts)))
}
