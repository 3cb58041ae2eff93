package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/mcpgate/mcpgate/internal/authn"
)

const apikeyUsage = "usage: mcpgate apikey new --subject NAME [--groups a,b]"

// apikey runs `mcpgate apikey new`: it prints a fresh API key, once, and the
// config entry holding only its digest.
func apikey(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "new" {
		fmt.Fprintln(stderr, apikeyUsage)
		return exitUsage
	}
	fs := newFlagSet("apikey new", stderr)
	subject := fs.String("subject", "", "`name` of the principal the key authenticates (the identity's subject)")
	groups := fs.String("groups", "", "comma-separated `groups` of the principal")
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage
	}
	if *subject == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, apikeyUsage)
		return exitUsage
	}
	for _, r := range *subject {
		if r < ' ' || r == 0x7f {
			fmt.Fprintln(stderr, "mcpgate: --subject must not contain control characters")
			return exitUsage
		}
	}
	key, digest, err := authn.NewAPIKey()
	if err != nil {
		fmt.Fprintln(stderr, "mcpgate:", err)
		return 1
	}
	entry := "    - {subject: " + strconv.Quote(*subject) + ", sha256: " + digest
	if *groups != "" {
		var gs []string
		for g := range strings.SplitSeq(*groups, ",") {
			if g = strings.TrimSpace(g); g != "" {
				gs = append(gs, strconv.Quote(g))
			}
		}
		entry += ", groups: [" + strings.Join(gs, ", ") + "]"
	}
	entry += "}"
	fmt.Fprintf(stdout, `API key (shown once; mcpgate stores only its digest):

    %s

Clients send it as "X-API-Key: <key>" (auth.apiKeyHeader) or "Authorization: Bearer <key>".
Add this entry under auth.apiKeys in the config file (auth.mode must include apiKey):

%s
`, key, entry)
	return 0
}
