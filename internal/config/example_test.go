package config_test

import (
	"fmt"

	"github.com/mcpgate/mcpgate/internal/config"
)

func Example() {
	src := []byte(`listen: 127.0.0.1:8080
backends:
  - name: search
    url: https://search.example.com/mcp
    headers:
      Authorization: "Bearer ${env:SEARCH_TOKEN}"
auth:
  mode: anonymous
`)
	// A fake environment; the zero Lookup uses the real one.
	env := config.Lookup{Getenv: func(name string) (string, bool) {
		return "s3cr3t", name == "SEARCH_TOKEN"
	}}
	c, err := config.Parse("mcpgate.yaml", src, env)
	if err != nil {
		fmt.Println(err)
		return
	}
	b := c.Backends[0]
	fmt.Println(b.Name, b.URL, b.Timeouts.Connect, c.Limits.MaxBodyBytes)
	written, _ := c.Ref("backends[0].headers.Authorization")
	fmt.Println("Authorization from", written)

	_, err = config.Parse("mcpgate.yaml", []byte("listen: 127.0.0.1:8080\nupstreams: []\n"), env)
	fmt.Println(err)
	// Output:
	// search https://search.example.com/mcp 10s 4194304
	// Authorization from Bearer ${env:SEARCH_TOKEN}
	// mcpgate.yaml:2: unknown key "upstreams" (known keys here: listen, path, tls, admin, trustedProxies, allowedHosts, limits, timeouts, sessions, cors, backends, aggregate, auth, pseudonymization, telemetry, audit, authz, rateLimits, log)
}
