package config

import (
	"strings"
	"testing"
	"time"
)

// auditBase is a valid file without an audit section; the audit section of
// each case starts on line 6.
const auditBase = authBackend + "auth:\n  mode: anonymous\n"

// testPseudonymKey is 32 zero bytes, base64.
const testPseudonymKey = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

func TestAuditForms(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		want  Audit
		warns []string // substrings of Warnings()
	}{
		{"absent: off, with defaults", "", Audit{
			Principal: AuditPrincipalRaw, Fsync: AuditFsyncInterval, FsyncInterval: time.Second,
			QueueSize: 10000, Capture: AuditCapture{MaxBytes: 4096}, RejectedPerSecond: 20,
		}, nil},
		{"file sink relative to the config file", "audit: {enabled: true, sink: logs/audit.jsonl}\n", Audit{
			Enabled: true, Sink: "/etc/mcpgate/logs/audit.jsonl", Principal: AuditPrincipalRaw,
			Fsync: AuditFsyncInterval, FsyncInterval: time.Second, QueueSize: 10000, Capture: AuditCapture{MaxBytes: 4096}, RejectedPerSecond: 20,
		}, nil},
		{"stdout is not a path", "audit: {enabled: true, sink: stdout}\n", Audit{
			Enabled: true, Sink: "stdout", Principal: AuditPrincipalRaw,
			Fsync: AuditFsyncInterval, FsyncInterval: time.Second, QueueSize: 10000, Capture: AuditCapture{MaxBytes: 4096}, RejectedPerSecond: 20,
		}, nil},
		{"every key", `audit:
  enabled: true
  sink: /var/log/mcpgate/audit.jsonl
  principal: hashed
  failClosed: true
  capture: {requests: true, responses: true, maxBytes: 16KiB}
  fsync: always
  queueSize: 500
  rejectedPerSecond: 0
pseudonymization: {keys: [{id: k1, env: KEY}]}
`, Audit{
			Enabled: true, Sink: "/var/log/mcpgate/audit.jsonl", Principal: AuditPrincipalHashed, FailClosed: true,
			Capture: AuditCapture{Requests: true, Responses: true, MaxBytes: 16 << 10}, Fsync: AuditFsyncAlways, QueueSize: 500,
		}, []string{"audit.capture is on"}},
		{"fsync never warns", "audit: {enabled: true, sink: /var/log/a.jsonl, fsync: never}\n", Audit{
			Enabled: true, Sink: "/var/log/a.jsonl", Principal: AuditPrincipalRaw, Fsync: AuditFsyncNever,
			QueueSize: 10000, Capture: AuditCapture{MaxBytes: 4096}, RejectedPerSecond: 20,
		}, []string{"audit.fsync: never"}},
		{"sink without enabled warns", "audit: {sink: /var/log/a.jsonl}\n", Audit{
			Sink: "/var/log/a.jsonl", Principal: AuditPrincipalRaw, Fsync: AuditFsyncInterval, FsyncInterval: time.Second,
			QueueSize: 10000, Capture: AuditCapture{MaxBytes: 4096}, RejectedPerSecond: 20,
		}, []string{"audit.enabled is false"}},
		{"hashed while disabled needs no keys", "audit: {principal: hashed}\n", Audit{
			Principal: AuditPrincipalHashed, Fsync: AuditFsyncInterval, FsyncInterval: time.Second,
			QueueSize: 10000, Capture: AuditCapture{MaxBytes: 4096}, RejectedPerSecond: 20,
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("/etc/mcpgate/mcpgate.yaml", []byte(auditBase+tt.yaml), fakeLookup(map[string]string{"KEY": testPseudonymKey}, nil))
			if err != nil {
				t.Fatal(err)
			}
			if c.Audit != tt.want {
				t.Errorf("audit = %+v\nwant    %+v", c.Audit, tt.want)
			}
			warnings := strings.Join(c.Warnings(), "\n")
			for _, w := range tt.warns {
				if !strings.Contains(warnings, w) {
					t.Errorf("warnings %q lack %q", warnings, w)
				}
			}
			if tt.warns == nil && strings.Contains(warnings, "audit") {
				t.Errorf("unexpected audit warning: %q", warnings)
			}
		})
	}
}

func TestAuditErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"enabled without sink", "audit:\n  enabled: true\n",
			`mcpgate.yaml:6: audit.sink: required when audit.enabled is true: a file path (e.g. /var/log/mcpgate/audit.jsonl) or stdout`},
		{"hashed without keys", "audit:\n  enabled: true\n  sink: stdout\n  principal: hashed\n",
			`mcpgate.yaml:9: audit.principal: hashed requires pseudonymization keys: add pseudonymization.keys (create a key with: mcpgate keygen), or use principal: raw`},
		{"unknown principal", "audit:\n  principal: email\n",
			`mcpgate.yaml:7: audit.principal: unknown value "email" (valid: raw, hashed)`},
		{"unknown fsync", "audit:\n  fsync: sometimes\n",
			`mcpgate.yaml:7: audit.fsync: unknown policy "sometimes" (valid: never, always, interval)`},
		{"interval with another policy", "audit:\n  fsync: always\n  fsyncInterval: 5s\n",
			`mcpgate.yaml:8: audit.fsyncInterval: only applies with fsync: interval (fsync is always)`},
		{"zero interval", "audit:\n  fsyncInterval: 0s\n",
			`mcpgate.yaml:7: audit.fsyncInterval: must be greater than 0, got 0s`},
		{"zero queue", "audit:\n  queueSize: 0\n",
			`mcpgate.yaml:7: audit.queueSize: must be greater than 0, got 0`},
		{"negative rejectedPerSecond", "audit:\n  rejectedPerSecond: -1\n",
			`mcpgate.yaml:7: audit.rejectedPerSecond: must not be negative, got -1 (0 writes every rejected event)`},
		{"huge capture", "audit:\n  capture:\n    maxBytes: 2MiB\n",
			`mcpgate.yaml:8: audit.capture.maxBytes: must be at most 1MiB, got 2MiB (each captured body is held in memory until the request ends)`},
		{"sink is a directory", "audit:\n  sink: /var/log/\n",
			`mcpgate.yaml:7: audit.sink: "/var/log/" names a directory; name the file (e.g. /var/log/audit.jsonl)`},
		{"unknown key", "audit:\n  file: /var/log/a.jsonl\n",
			`mcpgate.yaml:7: audit: unknown key "file" (known keys here: enabled, sink, principal, failClosed, capture, fsync, fsyncInterval, queueSize, rejectedPerSecond)`},
		{"wrong type", "audit:\n  enabled: yes please\n",
			`mcpgate.yaml:7: audit.enabled: expected a boolean (true or false), got string "yes please"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("mcpgate.yaml", []byte(auditBase+tt.yaml), fakeLookup(nil, nil))
			if err == nil {
				t.Fatalf("Parse succeeded (%+v); want error\n%s", c.Audit, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}
