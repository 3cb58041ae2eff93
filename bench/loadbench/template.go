package main

import (
	"fmt"
	"strings"
	"text/template"
)

// cmdVars are what a command line or gateway config template can use.
type cmdVars struct {
	Listen     string // host:port the arm must listen on
	Upstream   string // the backend's MCP endpoint URL
	Self       string // this loadbench binary, e.g. to run `{{.Self}} proxy` as an arm
	ConfigFile string // the rendered -gateway-config file
	// TemplateDir is the absolute directory of the config template, for
	// files that live beside it (bench/configs/policies/…).
	TemplateDir string

	// For config templates that turn features on (bench/configs/*-all.yaml):
	Issuer           string // with -oidc: the benchmark's OpenID Connect issuer URL
	Audience         string // with -oidc: the audience of its token
	PseudonymKeyFile string // a fresh pseudonymization key
	AuditFile        string // an audit log path of the arm's own, in the log directory
	// SessionKeyFile is a fresh session-sealing key (32 random bytes,
	// base64, mode 0600), the same for every arm and replica of a run: what
	// lets any replica open the sessions another sealed (sessions.keys).
	SessionKeyFile string
	// Replica is the name of the process being started: the arm's name, or
	// NAME-i for the i-th replica of a replicas arm (sessions.replica).
	Replica string
	// Front is the host:port clients reach the arm at: the load balancer's
	// of a replicas arm, Listen for any other (auth.resource).
	Front string
}

// expand executes text as a template over v. Unknown fields are errors, so a
// typo such as {{.Upsteam}} fails at start instead of launching a gateway
// with a broken flag.
func expand(text string, v cmdVars) (string, error) {
	t, err := template.New("").Option("missingkey=error").Parse(text)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

// expandArgv expands each word of argv, so that a substituted value (a path
// with a space in it, say) stays one argument.
func expandArgv(argv []string, v cmdVars) ([]string, error) {
	out := make([]string, len(argv))
	for i, a := range argv {
		s, err := expand(a, v)
		if err != nil {
			return nil, fmt.Errorf("argument %q: %w", a, err)
		}
		out[i] = s
	}
	return out, nil
}

// splitCommand splits a command line into words at unquoted spaces, as a
// shell would for the simple cases: single quotes keep everything, double
// quotes keep everything but a backslash escape, and a backslash outside
// quotes escapes the next character. It runs no shell, so there are no
// variables, globs or pipes.
func splitCommand(s string) ([]string, error) {
	var (
		words  []string
		cur    strings.Builder
		inWord bool
		quote  byte // 0, '\'' or '"'
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case quote == '"':
			switch {
			case c == '"':
				quote = 0
			case c == '\\' && i+1 < len(s):
				i++
				cur.WriteByte(s[i])
			default:
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote = c
			inWord = true
		case c == '\\':
			if i+1 == len(s) {
				return nil, fmt.Errorf("command %q ends in a backslash", s)
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("command %q has an unclosed %c quote", s, quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("empty command")
	}
	return words, nil
}
