package main

import (
	"fmt"
	"io"

	"github.com/mcpgate/mcpgate/internal/config"
	"github.com/mcpgate/mcpgate/internal/pseudonym"
)

// keygen prints a fresh 32-byte key, fit for pseudonymization.keys and
// sessions.keys alike. The key goes to stdout only,
// so it can be redirected straight into a secret file.
func keygen(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: mcpgate keygen > /run/secrets/mcpgate-pseudonym-key")
		return exitUsage
	}
	fmt.Fprintln(stdout, pseudonym.NewKey())
	return 0
}

const pseudonymUsage = "usage: mcpgate pseudonym --config FILE --issuer ISSUER --subject SUBJECT"

// pseudonymCmd prints a principal's pseudonym under every configured key,
// active key first: what an investigator with access to the keys needs to
// find a person's spans, before and after a key rotation.
func pseudonymCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("pseudonym", stderr)
	file := fs.String("config", "", "config `file` naming the pseudonymization keys")
	issuer := fs.String("issuer", "", "the principal's `issuer` (for API keys: urn:mcpgate:apikey)")
	subject := fs.String("subject", "", "the principal's `subject`")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *file == "" || *issuer == "" || *subject == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, pseudonymUsage)
		return exitUsage
	}
	cfg, err := config.Load(*file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if len(cfg.Pseudonymization.Keys) == 0 {
		fmt.Fprintf(stderr, "mcpgate: %s configures no pseudonymization.keys\n", *file)
		return 1
	}
	p, err := pseudonym.New(cfg.Pseudonymization.PseudonymKeys())
	if err != nil {
		fmt.Fprintln(stderr, "mcpgate:", err)
		return 1
	}
	for i, ps := range p.All(*issuer, *subject) {
		state := "retired"
		if i == 0 {
			state = "active"
		}
		fmt.Fprintf(stdout, "%s\t%s\t%s\n", ps.KeyID, ps.Hash, state)
	}
	return 0
}
