package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// rateBase is a valid file without a rateLimits section; the section of
// each case starts on line 6.
const rateBase = authBackend + "auth:\n  mode: anonymous\n"

const rateKeys = "pseudonymization: {keys: [{id: k1, env: KEY}]}\n"

func TestRateLimitForms(t *testing.T) {
	perUser := RateLimitRule{Name: "per-user", Per: "principal", Methods: []string{"tools/call"}, Limit: 60, Window: time.Minute}
	tests := []struct {
		name  string
		yaml  string
		want  RateLimits
		warns []string
	}{
		{"absent: no rules, memory", "", RateLimits{Store: "memory", OnStoreFailure: "local", Replicas: 1}, nil},
		{"the issue's interface", rateKeys + `rateLimits:
  store: memory
  rules:
    - {name: per-user, per: principal, methods: [tools/call], limit: 60, window: 1m}
`, RateLimits{Store: "memory", OnStoreFailure: "local", Replicas: 1, Rules: []RateLimitRule{perUser}}, nil},
		{"redis, every key", rateKeys + `rateLimits:
  store: redis
  redis: {url: "redis://127.0.0.1:6379/0"}
  onStoreFailure: closed
  replicas: 3
  rules:
    - {name: per-user, per: principal, methods: [tools/call], limit: 60, window: 1m}
    - {name: search.each, per: principal+tool, methods: tools/call, limit: 10, window: 1m, burst: 2}
    - {name: render, per: tool, methods: [tools/call, prompts/get], limit: 100, window: 1m}
    - {name: all, per: global, methods: ["*"], limit: 5000, window: 1s}
`, RateLimits{Store: "redis", Redis: RateLimitRedis{URL: "redis://127.0.0.1:6379/0"}, OnStoreFailure: "closed", Replicas: 3,
			Rules: []RateLimitRule{perUser,
				{Name: "search.each", Per: "principal+tool", Methods: []string{"tools/call"}, Limit: 10, Window: time.Minute, Burst: 2},
				{Name: "render", Per: "tool", Methods: []string{"tools/call", "prompts/get"}, Limit: 100, Window: time.Minute},
				{Name: "all", Per: "global", Methods: []string{"*"}, Limit: 5000, Window: time.Second},
			}}, nil},
		{"tool and global rules need no keys", `rateLimits:
  rules: [{name: all, per: global, methods: ["*"], limit: 10, window: 1s}]
`, RateLimits{Store: "memory", OnStoreFailure: "local", Replicas: 1,
			Rules: []RateLimitRule{{Name: "all", Per: "global", Methods: []string{"*"}, Limit: 10, Window: time.Second}}}, nil},
		{"an inline password warns", `rateLimits:
  store: redis
  redis: {url: "redis://:hunter22@redis.internal:6379/0"}
`, RateLimits{Store: "redis", Redis: RateLimitRedis{URL: "redis://:hunter22@redis.internal:6379/0"}, OnStoreFailure: "local", Replicas: 1},
			[]string{"rateLimits.redis.url has a password written in the file"}},
		{"a password by reference does not", `rateLimits:
  store: redis
  redis: {url: "redis://:${env:REDIS_PASSWORD}@redis.internal:6379/0"}
`, RateLimits{Store: "redis", Redis: RateLimitRedis{URL: "redis://:s3cret-pw@redis.internal:6379/0"}, OnStoreFailure: "local", Replicas: 1}, nil},
		{"open warns", `rateLimits: {store: redis, redis: {url: "redis://r:6379"}, onStoreFailure: open}
`, RateLimits{Store: "redis", Redis: RateLimitRedis{URL: "redis://r:6379"}, OnStoreFailure: "open", Replicas: 1},
			[]string{"onStoreFailure is open"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("/etc/mcpgate/mcpgate.yaml", []byte(rateBase+tt.yaml),
				fakeLookup(map[string]string{"KEY": testPseudonymKey, "REDIS_PASSWORD": "s3cret-pw"}, nil))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.RateLimits, tt.want) {
				t.Errorf("rateLimits = %+v\nwant       %+v", c.RateLimits, tt.want)
			}
			warnings := strings.Join(c.Warnings(), "\n")
			for _, w := range tt.warns {
				if !strings.Contains(warnings, w) {
					t.Errorf("warnings %q lack %q", warnings, w)
				}
			}
			if tt.warns == nil && strings.Contains(warnings, "rateLimits") {
				t.Errorf("unexpected rateLimits warning: %q", warnings)
			}
		})
	}
}

// TestRateLimitRedisURLRedacted: a password given by reference is hidden
// by the configuration's redaction, so that no log line (a Redis dial
// error quoting the address, the limiter's outage warning) shows it.
func TestRateLimitRedisURLRedacted(t *testing.T) {
	c, err := Parse("mcpgate.yaml", []byte(rateBase+`rateLimits:
  store: redis
  redis: {url: "redis://:${env:REDIS_PASSWORD}@redis.internal:6379/0"}
`), fakeLookup(map[string]string{"REDIS_PASSWORD": "s3cret-pw"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	got := c.Redact("dial redis://:s3cret-pw@redis.internal:6379/0: refused")
	if want := "dial redis://:${env:REDIS_PASSWORD}@redis.internal:6379/0: refused"; got != want {
		t.Errorf("Redact = %q, want %q", got, want)
	}
}

func TestRateLimitErrors(t *testing.T) {
	rule := func(s string) string { return "rateLimits:\n  rules:\n    - " + s + "\n" }
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown store", "rateLimits:\n  store: etcd\n",
			`mcpgate.yaml:7: rateLimits.store: unknown store "etcd" (valid: memory, redis)`},
		{"redis without url", "rateLimits:\n  store: redis\n",
			`mcpgate.yaml:7: rateLimits.redis.url: required with store: redis, e.g. redis://127.0.0.1:6379/0`},
		{"redis url with another scheme", "rateLimits:\n  store: redis\n  redis: {url: \"http://r:6379\"}\n",
			`mcpgate.yaml:8: rateLimits.redis.url: "http://r:6379": the scheme must be redis or rediss (TLS)`},
		{"redis keys with the memory store", "rateLimits:\n  redis: {url: \"redis://r:6379\"}\n  replicas: 2\n",
			"mcpgate.yaml:7: rateLimits.redis: only applies with store: redis (store is memory)\n" +
				"mcpgate.yaml:8: rateLimits.replicas: only applies with store: redis (store is memory)"},
		{"unknown onStoreFailure", "rateLimits:\n  store: redis\n  redis: {url: \"redis://r:6379\"}\n  onStoreFailure: retry\n",
			`mcpgate.yaml:9: rateLimits.onStoreFailure: unknown value "retry" (valid: local, open, closed)`},
		{"zero replicas", "rateLimits:\n  store: redis\n  redis: {url: \"redis://r:6379\"}\n  replicas: 0\n",
			`mcpgate.yaml:9: rateLimits.replicas: must be at least 1 (the number of gateway replicas sharing the store), got 0`},
		{"principal without keys", rule("{name: u, per: principal, methods: [tools/call], limit: 1, window: 1s}"),
			`mcpgate.yaml:8: rateLimits.rules[0].per: principal keys buckets on the caller's keyed pseudonym, never the subject: add pseudonymization.keys (mcpgate keygen makes a key)`},
		{"principal+tool without keys", rule("{name: u, per: principal+tool, methods: [tools/call], limit: 1, window: 1s}"),
			`mcpgate.yaml:8: rateLimits.rules[0].per: principal+tool keys buckets on the caller's keyed pseudonym, never the subject: add pseudonymization.keys (mcpgate keygen makes a key)`},
		{"no name", rule("{per: global, methods: [tools/call], limit: 1, window: 1s}"),
			`mcpgate.yaml:8: rateLimits.rules[0].name: required: it names the rule in rejections, spans, audit events and metrics`},
		{"a name with a colon", rule("{name: \"a:b\", per: global, methods: [tools/call], limit: 1, window: 1s}"),
			`mcpgate.yaml:8: rateLimits.rules[0].name: "a:b" must be 1 to 64 letters, digits, '.', '_' or '-'`},
		{"duplicate names", "rateLimits:\n  rules:\n    - {name: a, per: global, methods: [x], limit: 1, window: 1s}\n    - {name: a, per: tool, methods: [x], limit: 1, window: 1s}\n",
			`mcpgate.yaml:9: rateLimits.rules[1].name: duplicate rule name "a" (also rateLimits.rules[0])`},
		{"unknown per", rule("{name: a, per: user, methods: [x], limit: 1, window: 1s}"),
			`mcpgate.yaml:8: rateLimits.rules[0].per: unknown value "user" (valid: principal, principal+tool, tool, global)`},
		{"no per", rule("{name: a, methods: [x], limit: 1, window: 1s}"),
			`mcpgate.yaml:8: rateLimits.rules[0].per: required: principal, principal+tool, tool or global`},
		{"no methods", rule("{name: a, per: global, limit: 1, window: 1s}"),
			`mcpgate.yaml:8: rateLimits.rules[0].methods: required: the MCP methods the rule covers, e.g. [tools/call] ("*" covers every request)`},
		{"zero limit", rule("{name: a, per: global, methods: [x], limit: 0, window: 1s}"),
			`mcpgate.yaml:8: rateLimits.rules[0].limit: must be greater than 0, got 0`},
		{"no window", rule("{name: a, per: global, methods: [x], limit: 1}"),
			`mcpgate.yaml:8: rateLimits.rules[0].window: must be greater than 0, got 0s`},
		{"too fast", rule("{name: a, per: global, methods: [x], limit: 2000000, window: 1s}"),
			`mcpgate.yaml:8: rateLimits.rules[0].limit: 2000000 per 1s is more than one request a microsecond`},
		{"negative burst", rule("{name: a, per: global, methods: [x], limit: 1, window: 1s, burst: -1}"),
			`mcpgate.yaml:8: rateLimits.rules[0].burst: must not be negative, got -1 (0 or absent: the limit)`},
		{"unknown rule key", rule("{name: a, per: global, methods: [x], limit: 1, window: 1s, scope: ip}"),
			`mcpgate.yaml:8: rateLimits.rules[0]: unknown key "scope" (known keys here: name, per, methods, limit, window, burst)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("mcpgate.yaml", []byte(rateBase+tt.yaml), fakeLookup(nil, nil))
			if err == nil {
				t.Fatalf("Parse succeeded (%+v); want error\n%s", c.RateLimits, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

// TestRateLimitLogValue: the start-up summary names the store and the rule
// count, and never a Redis password: a reference is shown as written, an
// inline password masked.
func TestRateLimitLogValue(t *testing.T) {
	tests := []struct{ name, url, want string }{
		{"by reference", "redis://:${env:REDIS_PASSWORD}@r.internal:6379/0", "redis://:${env:REDIS_PASSWORD}@r.internal:6379/0"},
		{"inline", "redis://:hunter22@r.internal:6379/0", "redis://:xxxxx@r.internal:6379/0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("m.yaml", []byte(rateBase+"rateLimits:\n  store: redis\n  redis: {url: \""+tt.url+"\"}\n"+
				"  rules: [{name: all, per: global, methods: [\"*\"], limit: 1, window: 1s}]\n"),
				fakeLookup(map[string]string{"REDIS_PASSWORD": "s3cret-pw"}, nil))
			if err != nil {
				t.Fatal(err)
			}
			out := c.LogValue().String()
			if strings.Contains(out, "s3cret-pw") || strings.Contains(out, "hunter22") {
				t.Errorf("summary reveals the password: %s", out)
			}
			if !strings.Contains(out, tt.want) || !strings.Contains(out, "rules=1") {
				t.Errorf("summary %s lacks %s and rules=1", out, tt.want)
			}
		})
	}
}
