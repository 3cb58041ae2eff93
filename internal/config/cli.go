package config

import (
	"errors"
	"fmt"
	"slices"
)

// ForUpstream builds the Config of the no-file form
// `serve --listen ADDR --upstream URL`: every default, anonymous access, and
// one remote backend named "default". listen "" means DefaultListen. The
// listen address must be loopback: without a config file there is no way to
// configure authentication, so the gateway refuses to face the network.
func ForUpstream(listen, upstream string) (*Config, error) {
	return forCLI(listen, Backend{Name: DefaultBackendName, URL: upstream}, "backends[0].url")
}

// ForCommand builds the Config of the no-file form
// `serve --listen ADDR -- COMMAND ARGS...`: every default, anonymous access,
// and one stdio backend named "default" running argv (isolation session).
// listen "" means DefaultListen; it must be loopback, as for ForUpstream.
func ForCommand(listen string, argv []string) (*Config, error) {
	if len(argv) == 0 {
		return nil, errors.New("no command given: use serve --listen ADDR -- COMMAND [ARGS...]")
	}
	return forCLI(listen, Backend{Name: DefaultBackendName, Command: slices.Clone(argv)}, "backends[0].command")
}

// cliNames maps key paths to the command-line spelling in ForUpstream and
// ForCommand errors.
var cliNames = map[string]string{
	"listen":                 "--listen",
	"backends[0].url":        "--upstream",
	"backends[0].command":    "command",
	"backends[0].command[0]": "command",
}

func forCLI(listen string, b Backend, backendKey string) (*Config, error) {
	if listen == "" {
		listen = DefaultListen
	}
	if err := checkListen(listen); err != nil {
		return nil, fmt.Errorf("--listen %q %v", listen, err)
	}
	if !IsLoopback(listen) {
		return nil, fmt.Errorf("--listen %q is not a loopback address: without a config file mcpgate serves clients without authentication, so it only listens on 127.0.0.1, ::1 or localhost; use a config file (auth.allowAnonymousOnPublicListener) to listen elsewhere", listen)
	}
	c := &Config{
		Listen:   listen,
		Backends: []Backend{b},
		Auth:     Auth{Mode: []AuthMode{AuthAnonymous}},
		meta: &meta{
			noFile: true,
			lines:  map[string]int{},
			refs:   map[string]string{},
			set: map[string]bool{
				"listen": true, "backends": true, "backends[0].name": true,
				backendKey: true, "auth": true, "auth.mode": true,
			},
		},
	}
	applyDefaults(c)
	err := c.Validate()
	if err == nil {
		return c, nil
	}
	rename := func(err error) {
		var e *Error
		if errors.As(err, &e) {
			if n, ok := cliNames[e.Path]; ok {
				e.Path = n
			}
		}
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			rename(e)
		}
	} else {
		rename(err)
	}
	return nil, err
}

// SetInheritEnv sets the no-file command form's inheritEnv (the
// --inherit-env flag): without a file there is no other way to pass one of
// mcpgate's variables, such as a token, to the child, and putting it on the
// command line would show it in the process list and the startup log.
func (c *Config) SetInheritEnv(names []string) error {
	if c.meta == nil || !c.meta.noFile || len(c.Backends) != 1 || !c.Backends[0].IsCommand() {
		return errors.New("--inherit-env only applies to the no-file command form (serve -- COMMAND); in a file, set backends[].inheritEnv")
	}
	for _, n := range names {
		if !validInheritName(n) {
			return fmt.Errorf("--inherit-env: invalid environment variable name %s (letters, digits and _, not starting with a digit; a trailing * makes it a prefix)", shorten(n))
		}
	}
	c.Backends[0].InheritEnv = slices.Clone(names)
	return nil
}
