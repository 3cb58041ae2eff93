package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The audit section: types, decoding, defaults, validation and warnings.
// docs/audit.md describes it.

// Audit configures the audit log: one JSON line per MCP message and per
// rejected request (docs/audit.md).
type Audit struct {
	Enabled bool // enabled: default false
	// Sink is where events go: a file path (appended to, created 0600; its
	// directory must exist), or the word "stdout". Required when enabled;
	// there is no default, so that audit events never land somewhere the
	// operator did not choose.
	Sink       string         // sink: path | stdout
	Principal  AuditPrincipal // principal: raw | hashed
	FailClosed bool           // failClosed: answer 503 while the sink is failing
	Capture    AuditCapture   // capture: opt-in request/response capture
	// Fsync says when written events are forced to disk (file sinks only).
	Fsync         AuditFsync    // fsync: never | always | interval
	FsyncInterval time.Duration // fsyncInterval: with fsync: interval
	QueueSize     int           // queueSize: events buffered before drops
	// RejectedPerSecond caps the rejected events written in full per
	// reason and second; the rest are folded into summaries. 0: none
	// are folded.
	RejectedPerSecond int // rejectedPerSecond
}

// AuditPrincipal says how an event names the authenticated principal.
type AuditPrincipal string

const (
	// AuditPrincipalRaw: subject, issuer and auth method as they are.
	AuditPrincipalRaw AuditPrincipal = "raw"
	// AuditPrincipalHashed: the pseudonymization HMAC of issuer and
	// subject and the key id; needs pseudonymization keys.
	AuditPrincipalHashed AuditPrincipal = "hashed"
)

// AuditFsync is the audit file's fsync policy.
type AuditFsync string

const (
	AuditFsyncNever    AuditFsync = "never"    // leave it to the kernel
	AuditFsyncAlways   AuditFsync = "always"   // after every batch of writes
	AuditFsyncInterval AuditFsync = "interval" // at most every fsyncInterval
)

// AuditCapture turns on capturing (redacted, capped) message bodies.
type AuditCapture struct {
	Requests  bool  // requests: the client's JSON-RPC message
	Responses bool  // responses: the response to it
	MaxBytes  int64 // maxBytes: cap on each captured body, after redaction
}

// AuditSinkStdout is the audit.sink value that writes to standard output.
const AuditSinkStdout = "stdout"

// Defaults of the audit section. docs/configuration.md and docs/audit.md
// list the same values.
const (
	DefaultAuditFsyncInterval   = time.Second
	DefaultAuditQueueSize       = 10000
	DefaultAuditCaptureMaxBytes = 4 << 10
	// maxAuditCaptureBytes bounds capture.maxBytes: each captured body is
	// held in memory until the request ends.
	maxAuditCaptureBytes = 1 << 20
	maxAuditQueueSize    = 1 << 20
)

func (d *decoder) audit(a *Audit) func(*yaml.Node, string) {
	return func(n *yaml.Node, p string) {
		d.mapping(n, p, []field{
			{"enabled", d.boolean(&a.Enabled)},
			{"sink", d.auditSink(&a.Sink)},
			{"principal", func(n *yaml.Node, p string) {
				var s string
				d.str(&s)(n, p)
				a.Principal = AuditPrincipal(s)
			}},
			{"failClosed", d.boolean(&a.FailClosed)},
			{"capture", func(n *yaml.Node, p string) {
				d.mapping(n, p, []field{
					{"requests", d.boolean(&a.Capture.Requests)},
					{"responses", d.boolean(&a.Capture.Responses)},
					{"maxBytes", d.size(&a.Capture.MaxBytes)},
				})
			}},
			{"fsync", func(n *yaml.Node, p string) {
				var s string
				d.str(&s)(n, p)
				a.Fsync = AuditFsync(s)
			}},
			{"fsyncInterval", d.duration(&a.FsyncInterval)},
			{"queueSize", d.integer(&a.QueueSize)},
			{"rejectedPerSecond", d.integer(&a.RejectedPerSecond)},
		})
	}
}

// auditSink decodes audit.sink: "stdout" as is, anything else as a file
// path relative to the config file's directory.
func (d *decoder) auditSink(dst *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		s, _, ok := d.scalar(n, path, `a file path or "stdout"`)
		if !ok {
			return
		}
		if s != "" && s != AuditSinkStdout && !filepath.IsAbs(s) && d.dir != "" && d.dir != "." {
			s = filepath.Join(d.dir, s)
		}
		*dst = s
	}
}

func applyAuditDefaults(c *Config) {
	a := &c.Audit
	if !c.isSet("audit.principal") {
		a.Principal = AuditPrincipalRaw
	}
	if !c.isSet("audit.fsync") {
		a.Fsync = AuditFsyncInterval
	}
	if !c.isSet("audit.fsyncInterval") && a.Fsync == AuditFsyncInterval {
		a.FsyncInterval = DefaultAuditFsyncInterval
	}
	if !c.isSet("audit.queueSize") {
		a.QueueSize = DefaultAuditQueueSize
	}
	if !c.isSet("audit.capture.maxBytes") {
		a.Capture.MaxBytes = DefaultAuditCaptureMaxBytes
	}
	if !c.isSet("audit.rejectedPerSecond") {
		a.RejectedPerSecond = DefaultAuditRejectedPerSecond
	}
}

// DefaultAuditRejectedPerSecond is audit.rejectedPerSecond's default
// (audit.DefaultRejectedPerSecond).
const DefaultAuditRejectedPerSecond = 20

// audit validates the audit section. Its keys are checked whether or not
// the log is enabled, so that turning it on never reveals an old mistake;
// only the sink is required, and only when enabled.
func (v *validator) audit(c *Config) {
	a := &c.Audit
	switch {
	case a.Enabled && a.Sink == "":
		v.errorf("audit.sink", "required when audit.enabled is true: a file path (e.g. /var/log/mcpgate/audit.jsonl) or stdout")
	case a.Sink == "" || a.Sink == AuditSinkStdout:
	case strings.ContainsRune(a.Sink, 0):
		v.errorf("audit.sink", "must not contain a NUL byte")
	case strings.HasSuffix(a.Sink, "/") || strings.HasSuffix(a.Sink, string(filepath.Separator)):
		v.errorf("audit.sink", "%s names a directory; name the file (e.g. %saudit.jsonl)", v.m.quote("audit.sink", a.Sink), a.Sink)
	}

	switch a.Principal {
	case AuditPrincipalRaw:
	case AuditPrincipalHashed:
		if a.Enabled && len(c.Pseudonymization.Keys) == 0 {
			v.errorf("audit.principal", "hashed requires pseudonymization keys: add pseudonymization.keys (create a key with: mcpgate keygen), or use principal: raw")
		}
	default:
		v.errorf("audit.principal", "unknown value %s (valid: raw, hashed)", v.m.quote("audit.principal", string(a.Principal)))
	}

	switch a.Fsync {
	case AuditFsyncInterval:
		v.positiveDuration("audit.fsyncInterval", a.FsyncInterval)
	case AuditFsyncNever, AuditFsyncAlways:
		if c.isSet("audit.fsyncInterval") {
			v.errorf("audit.fsyncInterval", "only applies with fsync: interval (fsync is %s)", a.Fsync)
		}
	default:
		v.errorf("audit.fsync", "unknown policy %s (valid: never, always, interval)", v.m.quote("audit.fsync", string(a.Fsync)))
	}

	switch {
	case a.QueueSize <= 0:
		v.errorf("audit.queueSize", "must be greater than 0, got %d", a.QueueSize)
	case a.QueueSize > maxAuditQueueSize:
		v.errorf("audit.queueSize", "must be at most %d, got %d", maxAuditQueueSize, a.QueueSize)
	}
	switch {
	case a.RejectedPerSecond < 0:
		v.errorf("audit.rejectedPerSecond", "must not be negative, got %d (0 writes every rejected event)", a.RejectedPerSecond)
	case a.RejectedPerSecond > maxAuditQueueSize:
		v.errorf("audit.rejectedPerSecond", "must be at most %d, got %d", maxAuditQueueSize, a.RejectedPerSecond)
	}
	switch m := a.Capture.MaxBytes; {
	case m <= 0:
		v.errorf("audit.capture.maxBytes", "must be greater than 0, got %s", formatSize(m))
	case m > maxAuditCaptureBytes:
		v.errorf("audit.capture.maxBytes", "must be at most %s, got %s (each captured body is held in memory until the request ends)", formatSize(maxAuditCaptureBytes), formatSize(m))
	}
}

// auditWarnings lists valid but risky audit settings.
func (c *Config) auditWarnings() []string {
	a := &c.Audit
	var w []string
	if !a.Enabled {
		if a.Sink != "" {
			w = append(w, fmt.Sprintf("audit.sink is %s but audit.enabled is false: no audit events are written", a.Sink))
		}
		return w
	}
	if a.Capture.Requests || a.Capture.Responses {
		w = append(w, "audit.capture is on: tool arguments and results (redacted, capped) are written to the audit log; they may hold personal data")
	}
	if a.Fsync == AuditFsyncNever && a.Sink != AuditSinkStdout {
		w = append(w, "audit.fsync: never: events the kernel has not written out are lost if the machine crashes")
	}
	return w
}
