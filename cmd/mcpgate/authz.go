package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mcpgate/mcpgate/internal/authz"
	"github.com/mcpgate/mcpgate/internal/config"
	"github.com/mcpgate/mcpgate/internal/identity"
)

const authzUsage = `usage: mcpgate authz check --config FILE --method METHOD [--target NAME]
         [--principal JSON] [--arguments JSON] [--backend NAME] [--annotations JSON]

Evaluates one request against the configuration's policies as enforce mode
would and prints the decision and the determining policies. Exit status: 0
allow, 1 deny, 2 a usage error or policies that do not load.

--principal is the token's claims as JSON: sub, iss, groups, method (oidc or
apiKey; default oidc), scope/scp and any claim authz.claims exposes; omitted,
the caller is anonymous.
`

func authzCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprint(stderr, authzUsage)
		return exitUsage
	}
	fs := newFlagSet("authz check", stderr)
	file := fs.String("config", "", "config `file` whose authz section to use")
	principal := fs.String("principal", "", "the caller's claims as `JSON`; omitted: anonymous")
	method := fs.String("method", "", "the MCP `method` (tools/call, resources/read, …)")
	target := fs.String("target", "", "the tool or prompt `name`, or the resource URI")
	arguments := fs.String("arguments", "", "the call's arguments as a JSON `object`")
	backend := fs.String("backend", "", "the backend the target lives on (default: the only one)")
	annotations := fs.String("annotations", "", "the tool's annotations as `JSON` ({\"destructiveHint\":true,…})")
	fs.Usage = func() { fmt.Fprint(stderr, authzUsage); fs.PrintDefaults() }
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage
	}
	if *file == "" || *method == "" || fs.NArg() > 0 {
		fs.Usage()
		return exitUsage
	}
	req, id, err := checkRequest(*principal, *method, *target, *arguments, *annotations)
	if err != nil {
		fmt.Fprintln(stderr, "mcpgate authz check:", err)
		return exitUsage
	}
	cfg, err := config.Load(*file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	if len(cfg.Authz.Policies) == 0 {
		fmt.Fprintf(stderr, "%s: authz.policies is empty: nothing to check\n", *file)
		return exitUsage
	}
	set, err := authz.Load(cfg.Authz.Policies, authz.LoadOptions{})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	req.Target.Backend = *backend
	if req.Target.Backend == "" && len(cfg.Backends) == 1 {
		req.Target.Backend = cfg.Backends[0].Name
	}
	e := authz.NewWithSet(authz.ModeEnforce, cfg.Authz.Claims, set)
	d := e.Decide(e.Principal(id), req)
	fmt.Fprintf(stdout, "decision: %s\n", d.Effect)
	fmt.Fprintf(stdout, "reason: %s\n", d.Reason)
	if len(d.Policies) > 0 {
		fmt.Fprintf(stdout, "policies: %s\n", strings.Join(d.Policies, ", "))
	}
	if len(d.Errored) > 0 {
		fmt.Fprintf(stdout, "skipped (evaluation error): %s\n", strings.Join(d.Errored, ", "))
	}
	if m := cfg.Authz.Mode; m != config.AuthzEnforce {
		if m == "" {
			m = config.AuthzOff
		}
		fmt.Fprintf(stdout, "note: authz.mode is %s in %s; the decision is what enforce would do\n", m, *file)
	}
	if !d.Allowed() {
		return 1
	}
	return 0
}

// checkRequest builds the request and the identity (nil: anonymous) from
// the flags.
func checkRequest(principal, method, target, arguments, annotations string) (authz.Request, *identity.Identity, error) {
	req := authz.Request{Method: method}
	var id *identity.Identity
	if principal != "" {
		var claims map[string]any
		if err := json.Unmarshal([]byte(principal), &claims); err != nil {
			return req, nil, fmt.Errorf("--principal: %w", err)
		}
		sub, _ := claims["sub"].(string)
		if sub == "" {
			return req, nil, errors.New(`--principal: "sub" must be a non-empty string (omit --principal for an anonymous caller)`)
		}
		id = &identity.Identity{Subject: sub, Method: identity.MethodOIDC, Claims: claims}
		id.Issuer, _ = claims["iss"].(string)
		if m, ok := claims["method"].(string); ok {
			id.Method = identity.Method(m)
		}
		if gs, ok := claims["groups"].([]any); ok {
			for _, g := range gs {
				if s, ok := g.(string); ok {
					id.Groups = append(id.Groups, s)
				}
			}
		}
	}
	if arguments != "" {
		var v map[string]any
		if err := json.Unmarshal([]byte(arguments), &v); err != nil {
			return req, nil, fmt.Errorf("--arguments: want a JSON object: %w", err)
		}
		req.Arguments = []byte(arguments)
	}
	req.Target = authz.Target{Kind: authz.KindFor(method), Name: target}
	if annotations != "" {
		if req.Target.Kind != authz.KindTool {
			return req, nil, errors.New("--annotations: only tools have annotations (--method tools/call)")
		}
		var a struct {
			ReadOnly    *bool `json:"readOnlyHint"`
			Destructive *bool `json:"destructiveHint"`
			Idempotent  *bool `json:"idempotentHint"`
			OpenWorld   *bool `json:"openWorldHint"`
		}
		if err := json.Unmarshal([]byte(annotations), &a); err != nil {
			return req, nil, fmt.Errorf("--annotations: %w", err)
		}
		req.Target.Annotations = authz.Annotations{ReadOnly: authz.HintOf(a.ReadOnly), Destructive: authz.HintOf(a.Destructive),
			Idempotent: authz.HintOf(a.Idempotent), OpenWorld: authz.HintOf(a.OpenWorld)}
	}
	if req.Target.Kind != authz.KindBackend && target == "" && !authz.Admitted(method) {
		return req, nil, fmt.Errorf("--target is required for %s", method)
	}
	return req, id, nil
}
