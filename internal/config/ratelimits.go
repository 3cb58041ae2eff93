package config

import (
	"net/url"
	"regexp"
	"time"

	"go.yaml.in/yaml/v3"
)

// The rateLimits section: types, decoding, defaults, validation and
// warnings. docs/rate-limits.md describes it; internal/ratelimit enforces
// it (the gateway maps these strings onto its types).

// RateLimits configures the rate limits (docs/rate-limits.md).
type RateLimits struct {
	Store RateLimitStore // store: memory (default) | redis
	Redis RateLimitRedis // redis: with store: redis
	// OnStoreFailure is what each replica does while Redis is
	// unreachable: local (default), open or closed (store: redis only).
	OnStoreFailure string // onStoreFailure:
	// Replicas is the number of gateway replicas sharing the Redis store
	// (default 1): under onStoreFailure: local each enforces
	// 1/replicas of every limit on its own (store: redis only).
	Replicas int             // replicas:
	Rules    []RateLimitRule // rules:
}

// RateLimitStore is where the buckets live.
type RateLimitStore string

const (
	RateLimitStoreMemory RateLimitStore = "memory" // in each gateway process
	RateLimitStoreRedis  RateLimitStore = "redis"  // shared by every replica
)

// RateLimitRedis is the Redis store's connection.
type RateLimitRedis struct {
	// URL is redis://[user:password@]host:port/db, rediss:// for TLS. A
	// password belongs in a ${env:…} or ${file:…} reference, which the
	// log's redaction hides.
	URL string // url:
}

// RateLimitRule is one rateLimits.rules entry.
type RateLimitRule struct {
	Name    string        // name: [A-Za-z0-9._-]{1,64}, unique; on spans, audit events and metrics
	Per     string        // per: principal | principal+tool | tool | global
	Methods []string      // methods: the MCP methods it covers; "*" is every request
	Limit   int           // limit: requests per window
	Window  time.Duration // window:
	Burst   int           // burst: default limit
}

// KeysOnPrincipal reports whether the rule's buckets are the caller's.
func (r *RateLimitRule) KeysOnPrincipal() bool {
	return r.Per == RatePerPrincipal || r.Per == RatePerPrincipalTool
}

// The values of per.
const (
	RatePerPrincipal     = "principal"
	RatePerPrincipalTool = "principal+tool"
	RatePerTool          = "tool"
	RatePerGlobal        = "global"
)

// maxRateLimitRules bounds the rules: a message records its rule as a
// one-byte index (record.RateLimit), and every request is checked
// against each rule its method matches.
const maxRateLimitRules = 255

var ruleNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func (d *decoder) rateLimits(r *RateLimits) func(*yaml.Node, string) {
	return func(n *yaml.Node, p string) {
		d.mapping(n, p, []field{
			{"store", func(n *yaml.Node, p string) {
				var s string
				d.str(&s)(n, p)
				r.Store = RateLimitStore(s)
			}},
			{"redis", func(n *yaml.Node, p string) {
				d.mapping(n, p, []field{{"url", d.str(&r.Redis.URL)}})
			}},
			{"onStoreFailure", d.str(&r.OnStoreFailure)},
			{"replicas", d.integer(&r.Replicas)},
			{"rules", func(n *yaml.Node, p string) {
				r.Rules = []RateLimitRule{}
				d.list(n, p, "a list of rules", func(it *yaml.Node, ip string) {
					r.Rules = append(r.Rules, RateLimitRule{})
					rule := &r.Rules[len(r.Rules)-1]
					if isNull(it) {
						d.errorf(it.Line, ip, "expected a rule mapping (name, per, methods, limit, window), got null")
						return
					}
					d.mapping(it, ip, []field{
						{"name", d.str(&rule.Name)},
						{"per", d.str(&rule.Per)},
						{"methods", d.strOrList(&rule.Methods)},
						{"limit", d.integer(&rule.Limit)},
						{"window", d.duration(&rule.Window)},
						{"burst", d.integer(&rule.Burst)},
					})
				})
			}},
		})
	}
}

func applyRateLimitDefaults(c *Config) {
	r := &c.RateLimits
	if !c.isSet("rateLimits.store") {
		r.Store = RateLimitStoreMemory
	}
	if !c.isSet("rateLimits.onStoreFailure") {
		r.OnStoreFailure = "local"
	}
	if !c.isSet("rateLimits.replicas") {
		r.Replicas = 1
	}
}

// rateLimits validates the rateLimits section.
func (v *validator) rateLimits(c *Config) {
	r := &c.RateLimits
	switch r.Store {
	case RateLimitStoreMemory:
		// The shared store's keys would be silently ignored: say so.
		for _, k := range []string{"redis", "onStoreFailure", "replicas"} {
			if c.isSet("rateLimits." + k) {
				v.errorf("rateLimits."+k, "only applies with store: redis (store is memory)")
			}
		}
	case RateLimitStoreRedis:
		v.redisURL(r.Redis.URL)
		switch r.OnStoreFailure {
		case "local", "open", "closed":
		default:
			v.errorf("rateLimits.onStoreFailure", "unknown value %s (valid: local, open, closed)", v.m.quote("rateLimits.onStoreFailure", r.OnStoreFailure))
		}
		if r.Replicas < 1 {
			v.errorf("rateLimits.replicas", "must be at least 1 (the number of gateway replicas sharing the store), got %d", r.Replicas)
		}
	default:
		v.errorf("rateLimits.store", "unknown store %s (valid: memory, redis)", v.m.quote("rateLimits.store", string(r.Store)))
	}
	if len(r.Rules) > maxRateLimitRules {
		v.errorf("rateLimits.rules", "at most %d rules, got %d", maxRateLimitRules, len(r.Rules))
	}
	seen := map[string]int{}
	for i := range r.Rules {
		v.rateLimitRule(c, i, seen)
	}
}

func (v *validator) redisURL(s string) {
	const path = "rateLimits.redis.url"
	if s == "" {
		v.errorAtLineOf(path, "rateLimits.store", "required with store: redis, e.g. redis://127.0.0.1:6379/0")
		return
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		// url.Error quotes the URL, password included: say less.
		v.errorf(path, "%s is not a URL", v.m.quote(path, s))
	case u.Scheme != "redis" && u.Scheme != "rediss":
		v.errorf(path, "%s: the scheme must be redis or rediss (TLS)", v.m.quote(path, s))
	case u.Host == "":
		v.errorf(path, "%s names no host (redis://host:port/db)", v.m.quote(path, s))
	}
}

func (v *validator) rateLimitRule(c *Config, i int, seen map[string]int) {
	r := &c.RateLimits.Rules[i]
	p := joinIndex("rateLimits.rules", i)
	switch {
	case r.Name == "":
		v.errorf(p+".name", "required: it names the rule in rejections, spans, audit events and metrics")
	case !ruleNameRE.MatchString(r.Name):
		v.errorf(p+".name", "%s must be 1 to 64 letters, digits, '.', '_' or '-'", v.m.quote(p+".name", r.Name))
	default:
		if first, dup := seen[r.Name]; dup {
			v.errorf(p+".name", "duplicate rule name %q (also rateLimits.rules[%d])", r.Name, first)
		}
		seen[r.Name] = i
	}
	switch r.Per {
	case RatePerPrincipal, RatePerPrincipalTool:
		if len(c.Pseudonymization.Keys) == 0 {
			v.errorf(p+".per", "%s keys buckets on the caller's keyed pseudonym, never the subject: add pseudonymization.keys (mcpgate keygen makes a key)", r.Per)
		}
	case RatePerTool, RatePerGlobal:
	case "":
		v.errorf(p+".per", "required: principal, principal+tool, tool or global")
	default:
		v.errorf(p+".per", "unknown value %s (valid: principal, principal+tool, tool, global)", v.m.quote(p+".per", r.Per))
	}
	if len(r.Methods) == 0 {
		v.errorf(p+".methods", `required: the MCP methods the rule covers, e.g. [tools/call] ("*" covers every request)`)
	}
	for j, m := range r.Methods {
		if m == "" {
			v.errorf(joinIndex(p+".methods", j), "must not be empty")
		}
	}
	switch {
	case r.Limit <= 0:
		v.errorf(p+".limit", "must be greater than 0, got %d", r.Limit)
	case r.Window <= 0:
		v.errorf(p+".window", "must be greater than 0, got %s", r.Window)
	case r.Window/time.Duration(r.Limit) < time.Microsecond:
		v.errorf(p+".limit", "%d per %s is more than one request a microsecond", r.Limit, r.Window)
	}
	if r.Burst < 0 {
		v.errorf(p+".burst", "must not be negative, got %d (0 or absent: the limit)", r.Burst)
	}
}

// rateLimitWarnings lists valid but risky rate-limit settings.
func (c *Config) rateLimitWarnings() []string {
	r := &c.RateLimits
	var w []string
	if r.Store != RateLimitStoreRedis {
		return w
	}
	if _, ref := c.Ref("rateLimits.redis.url"); !ref {
		if u, err := url.Parse(r.Redis.URL); err == nil && u.User != nil {
			if _, has := u.User.Password(); has {
				w = append(w, "rateLimits.redis.url has a password written in the file: use a ${env:…} or ${file:…} reference, which the log's redaction hides")
			}
		}
	}
	if r.OnStoreFailure == "open" {
		w = append(w, "rateLimits.onStoreFailure is open: while Redis is unreachable no request is limited")
	}
	return w
}

// RateLimited reports whether any rate-limit rule is configured.
func (r *RateLimits) RateLimited() bool { return len(r.Rules) > 0 }
