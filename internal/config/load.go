package config

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Load reads the file at path and parses it with the real environment and
// file system; see Parse.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(path, data, Lookup{})
}

// Parse decodes a YAML config file, resolves ${env:…} and ${file:…}
// references through env, applies defaults and validates the result.
// filename is used in error messages and as the base of relative paths.
// The error, if any, is an *Error or several joined with errors.Join.
func Parse(filename string, data []byte, env Lookup) (cfg *Config, err error) {
	d := &decoder{
		look: env,
		meta: &meta{
			file:  filename,
			lines: map[string]int{},
			set:   map[string]bool{},
			refs:  map[string]string{},
		},
	}
	if filename != "" {
		d.dir = filepath.Dir(filename)
	}
	root, err := d.parse(data)
	if err != nil {
		return nil, err
	}
	c := &Config{meta: d.meta}
	d.config(root, c)
	if err := d.errs.err(); err != nil {
		return nil, err
	}
	normalize(c)
	applyDefaults(c)
	if err := c.Validate(); err != nil {
		return nil, err
	}
	d.meta.buildRedactor()
	return c, nil
}

// decoder maps a yaml.Node tree onto a Config, collecting every problem.
type decoder struct {
	look Lookup
	dir  string // base for relative paths; "" or "." = as is
	meta *meta
	errs errorList
}

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parse reads exactly one YAML document whose top level is a mapping.
func (d *decoder) parse(data []byte) (root *yaml.Node, err error) {
	file := d.meta.file
	defer func() {
		// The YAML library is not expected to panic, but a config file
		// must never crash the gateway.
		if r := recover(); r != nil {
			root, err = nil, &Error{File: file, Msg: fmt.Sprintf("cannot parse YAML: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: file, Msg: "the file is empty; it must be a mapping with at least backends and auth.mode"}
		}
		return nil, yamlError(file, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		line := next.Line
		if len(next.Content) > 0 {
			line = next.Content[0].Line
		}
		return nil, &Error{File: file, Line: line, Msg: "multiple YAML documents (---) are not supported; put the whole configuration in one document"}
	case !errors.Is(err, io.EOF):
		return nil, yamlError(file, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, &Error{File: file, Msg: "the top level must be a mapping"}
	}
	root = doc.Content[0]
	if root.Kind != yaml.MappingNode {
		if !d.check(root, "") {
			return nil, d.errs.err()
		}
		return nil, &Error{File: file, Line: root.Line, Msg: "the top level must be a mapping (key: value pairs), got " + describe(root)}
	}
	return root, nil
}

func yamlError(file string, err error) error {
	msg := err.Error()
	if m := yamlLineErr.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Msg: "invalid YAML: " + m[2]}
	}
	return &Error{File: file, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

func (d *decoder) errorf(line int, path, format string, args ...any) {
	d.errs.add(&Error{File: d.meta.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// standardTags may be written explicitly (e.g. !!str 123).
var standardTags = map[string]bool{
	"!!str": true, "!!int": true, "!!float": true, "!!bool": true,
	"!!null": true, "!!map": true, "!!seq": true,
}

// check rejects the YAML features the config does not support on node n:
// aliases, anchors and explicit non-standard tags. It reports whether n is fine.
func (d *decoder) check(n *yaml.Node, path string) bool {
	switch {
	case n.Kind == yaml.AliasNode:
		d.errorf(n.Line, path, "aliases (*%s) are not supported; write the value out", n.Value)
		return false
	case n.Anchor != "":
		d.errorf(n.Line, path, "anchors (&%s) are not supported", n.Anchor)
		return false
	case n.Style&yaml.TaggedStyle != 0 && !standardTags[n.Tag]:
		d.errorf(n.Line, path, "unsupported YAML tag %s", n.Tag)
		return false
	}
	return true
}

// describe names what node n is, for "expected X, got Y" messages. Scalars
// are shown as written in the file, never resolved.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!bool":
			return "boolean " + n.Value
		case "!!int":
			return "integer " + n.Value
		case "!!float":
			return "number " + n.Value
		case "!!str":
			return "string " + shorten(n.Value)
		}
		return "scalar " + shorten(n.Value)
	}
	return "an unexpected YAML node"
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// field is one known key of a mapping.
type field struct {
	key    string
	decode func(n *yaml.Node, path string)
}

// removedKeys are keys that no longer exist, by key path with list
// indices written [], each with why and what to write instead: a file that
// still has one gets that, not an "unknown key" that would leave its
// author guessing.
var removedKeys = map[string]string{
	"backends[].stateless": "nothing ever read it (the gateway behaved the same either way); " +
		"a server that keeps no per-session state can serve every session from one child: isolation: shared",
}

var listIndex = regexp.MustCompile(`\[[0-9]+\]`)

// mapping walks mapping node n at key path path against the known keys.
// A null value (an empty section) counts as an empty mapping.
func (d *decoder) mapping(n *yaml.Node, path string, fields []field) {
	if !d.check(n, path) || isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, path, "expected a mapping, got %s", describe(n))
		return
	}
	d.pairs(n, path, func(k, v *yaml.Node, kp string) {
		for _, f := range fields {
			if f.key == k.Value {
				d.meta.lines[kp] = k.Line
				d.meta.set[kp] = true
				f.decode(v, kp)
				return
			}
		}
		if why, ok := removedKeys[listIndex.ReplaceAllString(kp, "[]")]; ok {
			d.errorf(k.Line, kp, "was removed: %s", why)
			return
		}
		d.errorf(k.Line, path, "%s", unknownKey(k.Value, fields))
	})
}

// pairs calls fn for each key/value of mapping n, rejecting non-string keys,
// merge keys and duplicates.
func (d *decoder) pairs(n *yaml.Node, path string, fn func(k, v *yaml.Node, kp string)) {
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !d.check(k, path) {
			continue
		}
		if k.Kind != yaml.ScalarNode || isNull(k) {
			d.errorf(k.Line, path, "keys must be strings, got %s", describe(k))
			continue
		}
		if k.Tag == "!!merge" {
			d.errorf(k.Line, path, "merge keys (<<) are not supported")
			continue
		}
		kp := joinKey(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.errorf(k.Line, path, "duplicate key %s (first on line %d)", shorten(k.Value), first)
			continue
		}
		seen[k.Value] = k.Line
		fn(k, v, kp)
	}
}

func unknownKey(key string, fields []field) string {
	known := make([]string, len(fields))
	for i, f := range fields {
		known[i] = f.key
	}
	var hint string
	for _, k := range known {
		if strings.EqualFold(k, key) || editDistance(strings.ToLower(k), strings.ToLower(key)) <= 2 {
			hint = fmt.Sprintf("; did you mean %q?", k)
			break
		}
	}
	return fmt.Sprintf("unknown key %s%s (known keys here: %s)", shorten(key), hint, strings.Join(known, ", "))
}

// editDistance is the Levenshtein distance, for short keys.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// scalar returns the text of scalar n with references resolved (for strings),
// recording references in meta. ok is false after an error was reported.
func (d *decoder) scalar(n *yaml.Node, path, want string) (s string, fromRef, ok bool) {
	if !d.check(n, path) {
		return "", false, false
	}
	if n.Kind != yaml.ScalarNode || isNull(n) {
		hint := ""
		if isNull(n) && want == "a string" {
			hint = ` (write "" for an empty string)`
		}
		d.errorf(n.Line, path, "expected %s, got %s%s", want, describe(n), hint)
		return "", false, false
	}
	if n.Tag != "!!str" {
		return n.Value, false, true
	}
	v, had, err := resolveRefs(n.Value, d.dir, d.look, func(ref, value string) { d.meta.secret(path, ref, value) })
	if err != nil {
		d.errorf(n.Line, path, "%v", err)
		return "", false, false
	}
	if had {
		d.meta.refs[path] = n.Value
	}
	return v, had, true
}

// record notes the line of a list element or free-form map entry.
func (d *decoder) record(path string, line int) {
	d.meta.lines[path] = line
	d.meta.set[path] = true
}

func (d *decoder) str(dst *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if s, _, ok := d.scalar(n, path, "a string"); ok {
			*dst = s
		}
	}
}

// filePath decodes a file or directory path, relative to the config file's directory.
func (d *decoder) filePath(dst *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if s, _, ok := d.scalar(n, path, "a path"); ok {
			if s != "" && !filepath.IsAbs(s) && d.dir != "" && d.dir != "." {
				s = filepath.Join(d.dir, s)
			}
			*dst = s
		}
	}
}

func (d *decoder) boolean(dst *bool) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, fromRef, ok := d.scalar(n, path, "a boolean (true or false)")
		if !ok {
			return
		}
		switch {
		case fromRef && (s == "true" || s == "false"):
			*dst = s == "true"
		case !fromRef && n.Tag == "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				d.errorf(n.Line, path, "expected a boolean (true or false), got %s", describe(n))
				return
			}
			*dst = b
		case fromRef:
			d.errorf(n.Line, path, "expected a boolean (true or false), got %s", d.meta.quote(path, s))
		default:
			d.errorf(n.Line, path, "expected a boolean (true or false), got %s", describe(n))
		}
	}
}

func (d *decoder) integer(dst *int) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, fromRef, ok := d.scalar(n, path, "an integer")
		if !ok {
			return
		}
		var v int
		var err error
		switch {
		case fromRef:
			v, err = strconv.Atoi(s)
		case n.Tag == "!!int":
			err = n.Decode(&v)
		default:
			err = errors.New("wrong type")
		}
		if err != nil {
			got := describe(n)
			if fromRef {
				got = d.meta.quote(path, s)
			}
			d.errorf(n.Line, path, "expected an integer, got %s", got)
			return
		}
		*dst = v
	}
}

// duration decodes a Go duration string such as "30s" or "1h30m"; a plain 0
// is accepted too. Negative durations are rejected.
func (d *decoder) duration(dst *time.Duration) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, _, ok := d.scalar(n, path, `a duration such as "30s"`)
		if !ok {
			return
		}
		v, err := time.ParseDuration(s)
		switch {
		case n.Tag == "!!int" && s != "0":
			d.errorf(n.Line, path, "invalid duration %s: missing unit (write e.g. %ss)", s, s)
		case err != nil:
			d.errorf(n.Line, path, "invalid duration %s (use a number with a unit: ms, s, m, h, e.g. 1m30s)", d.meta.quote(path, s))
		case v < 0:
			d.errorf(n.Line, path, "duration must not be negative, got %s", d.meta.quote(path, s))
		default:
			*dst = v
		}
	}
}

// size decodes a byte size: a plain integer, or a string with B/KiB/MiB/GiB.
func (d *decoder) size(dst *int64) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, _, ok := d.scalar(n, path, `a size such as 4MiB`)
		if !ok {
			return
		}
		if n.Tag == "!!int" {
			var v int64
			if err := n.Decode(&v); err != nil || v < 0 {
				d.errorf(n.Line, path, "invalid size %s (must be a non-negative integer number of bytes)", s)
				return
			}
			*dst = v
			return
		}
		v, err := parseSize(s)
		if err != nil {
			msg := err.Error()
			if _, isRef := d.meta.refs[path]; isRef {
				msg = "invalid size " + d.meta.quote(path, s) + " (an integer number of bytes, or an integer with B, KiB, MiB or GiB)"
			}
			d.errorf(n.Line, path, "%s", msg)
			return
		}
		*dst = v
	}
}

// list walks sequence node n (null = empty), calling item for each element.
func (d *decoder) list(n *yaml.Node, path, want string, item func(n *yaml.Node, path string)) {
	if !d.check(n, path) || isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n.Line, path, "expected %s, got %s", want, describe(n))
		return
	}
	for i, it := range n.Content {
		ip := joinIndex(path, i)
		d.record(ip, it.Line)
		item(it, ip)
	}
}

func (d *decoder) strList(dst *[]string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		out := []string{}
		d.list(n, path, "a list of strings", func(it *yaml.Node, ip string) {
			if s, _, ok := d.scalar(it, ip, "a string"); ok {
				out = append(out, s)
			}
		})
		*dst = out
	}
}

// command accepts a list of strings or a single string (the program alone;
// a string is never split on spaces).
func (d *decoder) command(dst *[]string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if n.Kind == yaml.ScalarNode && !isNull(n) {
			if s, _, ok := d.scalar(n, path, "a string"); ok {
				*dst = []string{s}
			}
			return
		}
		d.strList(dst)(n, path)
	}
}

// strMap decodes a mapping of free-form string keys to strings.
func (d *decoder) strMap(dst *map[string]string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if !d.check(n, path) || isNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.errorf(n.Line, path, "expected a mapping of names to strings, got %s", describe(n))
			return
		}
		out := make(map[string]string, len(n.Content)/2)
		d.pairs(n, path, func(k, v *yaml.Node, kp string) {
			d.record(kp, k.Line)
			if s, _, ok := d.scalar(v, kp, "a string"); ok {
				out[k.Value] = s
			}
		})
		*dst = out
	}
}

// prefixes decodes CIDRs or single IP addresses.
func (d *decoder) prefixes(dst *[]netip.Prefix) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		out := []netip.Prefix{}
		d.list(n, path, "a list of CIDRs or IP addresses", func(it *yaml.Node, ip string) {
			s, _, ok := d.scalar(it, ip, "a CIDR or IP address")
			if !ok {
				return
			}
			p, err := parsePrefix(s)
			if err != nil {
				d.errorf(it.Line, ip, "%s %v", d.meta.quote(ip, s), err)
				return
			}
			out = append(out, p)
		})
		*dst = out
	}
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, errors.New("is not a valid CIDR (e.g. 10.0.0.0/8) or IP address")
		}
		if p.Addr().Zone() != "" {
			return netip.Prefix{}, errors.New("must not have an IPv6 zone")
		}
		if m := p.Masked(); m != p {
			return netip.Prefix{}, fmt.Errorf("has host bits set (did you mean %s?)", m)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, errors.New("is not a valid CIDR (e.g. 10.0.0.0/8) or IP address")
	}
	if a.Zone() != "" {
		return netip.Prefix{}, errors.New("must not have an IPv6 zone")
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// tlsVersion decodes "1.2" or "1.3" (quoted or not).
func (d *decoder) tlsVersion(dst *uint16) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, _, ok := d.scalar(n, path, `a TLS version ("1.2" or "1.3")`)
		if !ok {
			return
		}
		switch s {
		case "1.2":
			*dst = tls.VersionTLS12
		case "1.3":
			*dst = tls.VersionTLS13
		default:
			d.errorf(n.Line, path, `unsupported TLS version %s (use "1.2" or "1.3")`, d.meta.quote(path, s))
		}
	}
}

// config walks the top-level mapping into c.
func (d *decoder) config(root *yaml.Node, c *Config) {
	d.mapping(root, "", []field{
		{"listen", d.str(&c.Listen)},
		{"path", d.str(&c.Path)},
		{"tls", func(n *yaml.Node, p string) {
			d.mapping(n, p, []field{
				{"certFile", d.filePath(&c.TLS.CertFile)},
				{"keyFile", d.filePath(&c.TLS.KeyFile)},
			})
		}},
		{"admin", func(n *yaml.Node, p string) {
			d.mapping(n, p, []field{
				{"listen", d.str(&c.Admin.Listen)},
				{"pprof", d.boolean(&c.Admin.Pprof)},
			})
		}},
		{"trustedProxies", d.prefixes(&c.TrustedProxies)},
		{"allowedHosts", d.strList(&c.AllowedHosts)},
		{"limits", func(n *yaml.Node, p string) {
			d.mapping(n, p, []field{
				{"maxBodyBytes", d.size(&c.Limits.MaxBodyBytes)},
				{"maxHeaderBytes", d.size(&c.Limits.MaxHeaderBytes)},
				{"maxBatch", d.integer(&c.Limits.MaxBatch)},
				{"maxDepth", d.integer(&c.Limits.MaxDepth)},
			})
		}},
		{"timeouts", func(n *yaml.Node, p string) {
			d.mapping(n, p, []field{
				{"readHeader", d.duration(&c.Timeouts.ReadHeader)},
				{"readBody", d.duration(&c.Timeouts.ReadBody)},
				{"idle", d.duration(&c.Timeouts.Idle)},
				{"shutdown", d.duration(&c.Timeouts.Shutdown)},
				{"drainDelay", d.duration(&c.Timeouts.DrainDelay)},
			})
		}},
		{"sessions", func(n *yaml.Node, p string) {
			d.mapping(n, p, []field{
				{"idleTimeout", d.duration(&c.Sessions.IdleTimeout)},
				{"keys", d.keyList(&c.Sessions.Keys)},
				{"maxLifetime", d.duration(&c.Sessions.MaxLifetime)},
				{"replica", d.str(&c.Sessions.Replica)},
			})
		}},
		{"cors", func(n *yaml.Node, p string) {
			d.mapping(n, p, []field{
				{"allowedOrigins", d.strList(&c.CORS.AllowedOrigins)},
				{"allowCredentials", d.boolean(&c.CORS.AllowCredentials)},
				{"maxAge", d.duration(&c.CORS.MaxAge)},
			})
		}},
		{"backends", func(n *yaml.Node, p string) {
			c.Backends = []Backend{}
			d.list(n, p, "a list of backends", func(it *yaml.Node, ip string) {
				c.Backends = append(c.Backends, Backend{})
				d.backend(it, ip, &c.Backends[len(c.Backends)-1])
			})
		}},
		{"aggregate", func(n *yaml.Node, p string) {
			d.mapping(n, p, []field{
				{"separator", d.str(&c.Aggregate.Separator)},
				{"prefix", d.boolean(&c.Aggregate.Prefix)},
				{"maxSessions", d.integer(&c.Aggregate.MaxSessions)},
				{"maxSessionsPerPrincipal", d.integer(&c.Aggregate.MaxSessionsPerPrincipal)},
				{"initializeTimeout", d.duration(&c.Aggregate.InitializeTimeout)},
				{"stateless", d.boolean(&c.Aggregate.Stateless)},
			})
		}},
		{"auth", d.auth(&c.Auth)},
		{"pseudonymization", d.pseudonymization(&c.Pseudonymization)},
		{"telemetry", d.telemetry(&c.Telemetry)},
		{"audit", d.audit(&c.Audit)},
		{"authz", d.authz(&c.Authz)},
		{"rateLimits", d.rateLimits(&c.RateLimits)},
		{"log", func(n *yaml.Node, p string) {
			d.mapping(n, p, []field{
				{"level", d.str(&c.Log.Level)},
				{"format", d.str(&c.Log.Format)},
				{"requests", d.str(&c.Log.Requests)},
			})
		}},
	})
}

func (d *decoder) backend(n *yaml.Node, path string, b *Backend) {
	if isNull(n) {
		d.errorf(n.Line, path, "expected a backend mapping (name, url or command, …), got null")
		return
	}
	d.mapping(n, path, []field{
		{"name", d.str(&b.Name)},
		{"url", d.str(&b.URL)},
		{"command", d.command(&b.Command)},
		{"args", d.strList(&b.Args)},
		{"env", d.strMap(&b.Env)},
		{"inheritEnv", d.strList(&b.InheritEnv)},
		{"dir", d.filePath(&b.Dir)},
		{"isolation", func(n *yaml.Node, p string) {
			var s string
			d.str(&s)(n, p)
			b.Isolation = Isolation(s)
		}},
		{"maxSessions", d.integer(&b.MaxSessions)},
		{"maxSessionsPerPrincipal", d.integer(&b.MaxSessionsPerPrincipal)},
		{"restart", func(n *yaml.Node, p string) {
			d.mapping(n, p, []field{
				{"initialBackoff", d.duration(&b.Restart.InitialBackoff)},
				{"maxBackoff", d.duration(&b.Restart.MaxBackoff)},
			})
		}},
		{"include", d.strList(&b.Include)},
		{"exclude", d.strList(&b.Exclude)},
		{"headers", d.strMap(&b.Headers)},
		{"forwardHeaders", d.strList(&b.ForwardHeaders)},
		{"tls", func(n *yaml.Node, p string) {
			d.mapping(n, p, []field{
				{"caFile", d.filePath(&b.TLS.CAFile)},
				{"certFile", d.filePath(&b.TLS.CertFile)},
				{"keyFile", d.filePath(&b.TLS.KeyFile)},
				{"serverName", d.str(&b.TLS.ServerName)},
				{"minVersion", d.tlsVersion(&b.TLS.MinVersion)},
			})
		}},
		{"timeouts", func(n *yaml.Node, p string) {
			d.mapping(n, p, []field{
				{"connect", d.duration(&b.Timeouts.Connect)},
				{"firstByte", d.duration(&b.Timeouts.FirstByte)},
				{"idle", d.duration(&b.Timeouts.Idle)},
			})
		}},
	})
}

// normalize canonicalizes parsed values: allowed hosts and CORS origins are lower-cased and
// the wildcard flag is derived; API key digests are lower-cased.
func normalize(c *Config) {
	for i := range c.Auth.APIKeys {
		c.Auth.APIKeys[i].SHA256 = strings.ToLower(c.Auth.APIKeys[i].SHA256)
	}
	for i, h := range c.AllowedHosts {
		c.AllowedHosts[i] = strings.ToLower(h)
	}
	for i, o := range c.CORS.AllowedOrigins {
		c.CORS.AllowedOrigins[i] = strings.ToLower(o)
		if o == "*" {
			c.CORS.Wildcard = true
		}
	}
}
