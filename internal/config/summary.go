package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
)

// Warnings lists valid but risky settings, one sentence each, for the
// gateway to log at startup.
func (c *Config) Warnings() []string {
	var w []string
	if c.meta != nil && c.meta.noFile {
		w = append(w, fmt.Sprintf("running without a config file: clients are not authenticated (auth.mode anonymous); listening on loopback %s only", c.Listen))
	}
	if c.CORS.Wildcard {
		w = append(w, `cors.allowedOrigins contains "*": any web page a user visits can call the gateway from their browser`)
	}
	if !IsLoopback(c.Listen) && c.Auth.Resource == "" && len(c.AllowedHosts) == 0 {
		w = append(w, fmt.Sprintf("listen %s is not loopback, and neither auth.resource nor allowedHosts names the host clients use: only requests with Host localhost, 127.0.0.1, [::1] or the listen address are answered (others get 403); add the public names to allowedHosts", c.Listen))
	}
	if slices.Contains(c.AllowedHosts, "*") {
		w = append(w, `allowedHosts contains "*": the Host header is not checked, so a DNS-rebinding page can reach the gateway through a browser on this network (same-origin requests then need cors.allowedOrigins too)`)
	}
	if c.Auth.Anonymous() && c.Auth.AllowAnonymousOnPublicListener && !IsLoopback(c.Listen) {
		w = append(w, fmt.Sprintf("auth.mode anonymous on non-loopback listen address %s (allowAnonymousOnPublicListener: true): anyone who can reach it can use the backends", c.Listen))
	}
	w = append(w, c.authWarnings()...)
	w = append(w, c.auditWarnings()...)
	w = append(w, c.rateLimitWarnings()...)
	if c.Admin.Listen != "" && !IsLoopback(c.Admin.Listen) {
		what := "metrics"
		if c.Admin.Pprof {
			what = "metrics and /debug/pprof"
		}
		w = append(w, fmt.Sprintf("admin.listen %s is not loopback: %s are reachable from the network", c.Admin.Listen, what))
	}
	for i, b := range c.Backends {
		if len(b.Headers) > 0 && strings.HasPrefix(strings.ToLower(b.URL), "http://") {
			host := b.URL[len("http://"):]
			if j := strings.IndexAny(host, "/?#"); j >= 0 {
				host = host[:j]
			}
			if !IsLoopback(host) {
				w = append(w, fmt.Sprintf("backends[%d] (%s): headers are sent over plain http to a non-loopback host", i, b.Name))
			}
		}
	}
	return w
}

// LogValue summarizes c for the startup log. Values that came from ${env:…}
// or ${file:…} references are shown as written in the file; static header
// and env values are never shown, only their names.
func (c *Config) LogValue() slog.Value {
	show := func(path, value string) string {
		if w, ok := c.meta.ref(path); ok {
			return w
		}
		return value
	}
	attrs := []slog.Attr{
		slog.String("file", c.File()),
		slog.String("listen", c.Listen),
		slog.String("path", c.Path),
		slog.Bool("tls", c.TLS.Enabled()),
		slog.String("admin", c.Admin.Listen),
		slog.Any("auth", c.Auth.Mode),
	}
	if len(c.Auth.OIDC.Issuers) > 0 {
		iss := make([]string, len(c.Auth.OIDC.Issuers))
		for i, is := range c.Auth.OIDC.Issuers {
			iss[i] = is.Issuer
		}
		attrs = append(attrs, slog.Any("oidcIssuers", iss))
	}
	if len(c.Auth.APIKeys) > 0 {
		attrs = append(attrs, slog.Int("apiKeys", len(c.Auth.APIKeys)))
	}
	if r := &c.RateLimits; r.RateLimited() {
		ra := []slog.Attr{slog.String("store", string(r.Store)), slog.Int("rules", len(r.Rules))}
		if r.Store == RateLimitStoreRedis {
			// As written when it is a reference; else with any password
			// written inline masked.
			u := show("rateLimits.redis.url", r.Redis.URL)
			if _, ref := c.meta.ref("rateLimits.redis.url"); !ref {
				if pu, err := url.Parse(u); err == nil {
					u = pu.Redacted()
				}
			}
			ra = append(ra, slog.String("redis", u), slog.String("onStoreFailure", r.OnStoreFailure), slog.Int("replicas", r.Replicas))
		}
		attrs = append(attrs, slog.Attr{Key: "rateLimits", Value: slog.GroupValue(ra...)})
	}
	for i, b := range c.Backends {
		p := joinIndex("backends", i)
		ba := []slog.Attr{slog.String("name", b.Name)}
		if b.URL != "" {
			ba = append(ba, slog.String("url", show(p+".url", b.URL)))
		}
		if len(b.Command) > 0 {
			argv := make([]string, 0, len(b.Command)+len(b.Args))
			for j, a := range b.Command {
				argv = append(argv, show(joinIndex(p+".command", j), a))
			}
			for j, a := range b.Args {
				argv = append(argv, show(joinIndex(p+".args", j), a))
			}
			ba = append(ba, slog.Any("command", argv), slog.String("isolation", string(b.Isolation)))
		}
		if len(b.Headers) > 0 {
			ba = append(ba, slog.Any("headers", sortedKeys(b.Headers)))
		}
		if len(b.Env) > 0 {
			ba = append(ba, slog.Any("env", sortedKeys(b.Env)))
		}
		if len(b.InheritEnv) > 0 {
			ba = append(ba, slog.Any("inheritEnv", b.InheritEnv))
		}
		attrs = append(attrs, slog.Attr{Key: p, Value: slog.GroupValue(ba...)})
	}
	return slog.GroupValue(attrs...)
}
