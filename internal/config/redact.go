package config

import (
	"cmp"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Redaction of resolved references.
//
// A value written as ${env:NAME} or ${file:PATH} is usually a secret: a
// backend's token in a header, an api_key in its URL's query, a password
// in its userinfo. Validate never prints one (meta.quote shows the value as
// written), and Redact gives everything else the same guarantee: errors a
// URL or a header ends up in (url.Error quotes the whole URL, query
// included; go-sdk and net/http wrap it further), the gateway's log lines,
// /readyz's lastError, a request's logged detail. It replaces each resolved
// value by the reference that produced it, so the text stays readable
// ("Post \"https://api.example.com/mcp?api_key=${env:API_KEY}\": dial tcp:
// …") and names what to look at.
//
// The alternative — masking every URL's query values and userinfo, and
// every header value, wherever they appear — was rejected: it needs every
// error path to know which text is a URL (they are formatted strings by
// the time they are logged), it would miss a secret in a URL's path
// (…/mcp/sk-…/sse, as some hosted MCP servers have it) or in a command's
// arguments, and it would hide values that are not secret. The
// configuration knows exactly which values came from references, and the
// replacement works on any text. What it cannot know is a secret written
// inline in the file; the documentation says to use references for those.
//
// Values shorter than minRedactLen are left alone (no secret is that short,
// and replacing "1" everywhere would garble every message), and so are the
// values of the keys in plainKeys, enumerations that appear verbatim in
// messages of their own (log.level: ${env:LOG_LEVEL} would otherwise turn
// every "debug" into ${env:LOG_LEVEL}).

const minRedactLen = 4

// plainKeys are keys (the last element of a key path) whose values are
// never secrets.
var plainKeys = map[string]bool{
	"level": true, "format": true, "requests": true, "exporter": true, "protocol": true,
	"sampler": true, "principal": true, "fsync": true, "userAttribution": true, "mode": true,
	"separator": true, "minVersion": true,
}

// secret records that the reference ref, in the value at key path,
// resolved to value.
func (m *meta) secret(path, ref, value string) {
	if len(value) < minRedactLen {
		return
	}
	key := path[strings.LastIndexAny(path, ".]")+1:]
	if plainKeys[key] {
		return
	}
	if m.secrets == nil {
		m.secrets = map[string]string{}
	}
	m.secrets[value] = ref
}

// buildRedactor prepares Redact once the file is loaded. Besides the value
// itself it replaces the forms it takes in a URL (query and path escaping)
// and in Go's %q quoting, which url.Error uses.
func (m *meta) buildRedactor() {
	if m == nil || len(m.secrets) == 0 {
		return
	}
	type pair struct{ old, ref string }
	var pairs []pair
	seen := map[string]bool{}
	for v, ref := range m.secrets {
		q := strconv.Quote(v)
		for _, form := range []string{v, url.QueryEscape(v), url.PathEscape(v), q[1 : len(q)-1]} {
			if !seen[form] {
				seen[form] = true
				pairs = append(pairs, pair{form, ref})
			}
		}
	}
	// Longest first: a secret that contains another is replaced whole.
	slices.SortFunc(pairs, func(a, b pair) int {
		return cmp.Or(cmp.Compare(len(b.old), len(a.old)), strings.Compare(a.old, b.old))
	})
	args := make([]string, 0, 2*len(pairs))
	for _, p := range pairs {
		args = append(args, p.old, p.ref)
	}
	m.redactor = strings.NewReplacer(args...)
}

// Redact returns s with every value that a ${env:…} or ${file:…} reference
// in the configuration resolved to replaced by the reference as written.
// It returns s itself when the configuration has no such value.
func (c *Config) Redact(s string) string {
	if c == nil || c.meta == nil || c.meta.redactor == nil {
		return s
	}
	return c.meta.redactor.Replace(s)
}

// Redacts reports whether Redact can change anything, so that callers can
// skip wrapping (a log handler, say) when it cannot.
func (c *Config) Redacts() bool { return c != nil && c.meta != nil && c.meta.redactor != nil }

// RedactError returns err with its message redacted (nil for nil). The
// result unwraps to err, so errors.Is and errors.As still classify it;
// only its text changes.
func (c *Config) RedactError(err error) error {
	if err == nil || !c.Redacts() {
		return err
	}
	msg := err.Error()
	if r := c.Redact(msg); r != msg {
		return &redactedError{msg: r, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
