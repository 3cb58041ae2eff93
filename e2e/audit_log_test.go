package e2e

// Reading the audit log in the end-to-end tests (audit_test.go and the
// tests that check what else it records): its events, checked against
// docs/audit-event.schema.json, and the secrets that must not be in it.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
)

// ---------------------------------------------------------------------------
// The audit file

// auditEvent is one line of the audit log.
type auditEvent struct {
	line string
	m    map[string]any
}

// str returns the string at a dotted path ("principal.subject"), "" when
// absent.
func (e auditEvent) str(path string) string {
	v, _ := e.get(path).(string)
	return v
}

// get returns the value at a dotted path, nil when absent.
func (e auditEvent) get(path string) any {
	var v any = e.m
	for k := range strings.SplitSeq(path, ".") {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		if v, ok = o[k]; !ok {
			return nil
		}
	}
	return v
}

// has reports whether the dotted path is present.
func (e auditEvent) has(path string) bool { return e.get(path) != nil }

var (
	eventSchemaOnce sync.Once
	eventSchema     *jsonschema.Resolved
	eventSchemaErr  error
)

// auditEventSchema is docs/audit-event.schema.json, resolved.
func auditEventSchema(t *testing.T) *jsonschema.Resolved {
	t.Helper()
	eventSchemaOnce.Do(func() {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(nodeDir), "..", "docs", "audit-event.schema.json"))
		if err != nil {
			eventSchemaErr = err
			return
		}
		var s jsonschema.Schema
		if err := json.Unmarshal(data, &s); err != nil {
			eventSchemaErr = err
			return
		}
		eventSchema, eventSchemaErr = s.Resolve(nil)
	})
	if eventSchemaErr != nil {
		t.Fatalf("docs/audit-event.schema.json: %v", eventSchemaErr)
	}
	return eventSchema
}

// parseAuditLog splits an audit log into events: every line must be one JSON
// object that the schema accepts, ending with a newline.
func parseAuditLog(t *testing.T, what string, data []byte) []auditEvent {
	t.Helper()
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Errorf("%s does not end with a newline: …%s", what, tail(string(data), 300))
	}
	var out []auditEvent
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("%s: a line is not a JSON object (%v): %s", what, err, line)
			continue
		}
		if err := auditEventSchema(t).Validate(m); err != nil {
			t.Errorf("%s: an event does not match docs/audit-event.schema.json: %v\n%s", what, err, line)
		}
		out = append(out, auditEvent{line: line, m: m})
	}
	return out
}

// readAuditLog reads and parses the audit file at path.
func readAuditLog(t *testing.T, path string) ([]auditEvent, []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the audit file: %v", err)
	}
	return parseAuditLog(t, filepath.Base(path), data), data
}

// waitAuditLines waits (at most 10s) until the file at path holds at least n
// lines and returns its events.
func waitAuditLines(t *testing.T, path string, n int) []auditEvent {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		if bytes.Count(data, []byte{'\n'}) >= n {
			return parseAuditLog(t, filepath.Base(path), data)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d line(s) after 10s, want at least %d:\n%s", path, bytes.Count(data, []byte{'\n'}), n, tail(string(data), 3000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sessionRef is the sessionRef of a session id (docs/audit.md: the first 16
// hex digits of its SHA-256), computed independently.
func sessionRef(sid string) string {
	s := sha256.Sum256([]byte(sid))
	return hex.EncodeToString(s[:])[:16]
}

// eventsByID indexes events by mcp.id ("7", "call-b"), failing on a duplicate.
func eventsByID(t *testing.T, events []auditEvent) map[string]auditEvent {
	t.Helper()
	m := map[string]auditEvent{}
	for _, e := range events {
		id := e.get("mcp.id")
		if id == nil {
			continue
		}
		k := fmt.Sprint(id)
		if prev, dup := m[k]; dup {
			t.Errorf("two events with mcp.id %s:\n%s\n%s", k, prev.line, e.line)
		}
		m[k] = e
	}
	return m
}

// noSecrets fails when any of secrets occurs in data.
func noSecrets(t *testing.T, what string, data []byte, secrets map[string]string) {
	t.Helper()
	for name, s := range secrets {
		if s != "" && bytes.Contains(data, []byte(s)) {
			t.Errorf("%s contains %s (%.10s…)", what, name, s)
		}
	}
}

// jwtSecrets lists a JWT and its three parts, any of which must not be
// in the audit log.
func jwtSecrets(name, tok string, into map[string]string) {
	into[name] = tok
	for i, part := range strings.Split(tok, ".") {
		if len(part) >= 16 {
			into[fmt.Sprintf("%s (part %d)", name, i)] = part
		}
	}
}

// checkBurstEvents requires the events of openSession (ids 1) and echoBurst(n),
// each exactly once, and nothing else.
func checkBurstEvents(t *testing.T, events []auditEvent, n int) {
	t.Helper()
	byID := eventsByID(t, events)
	for i := range n {
		id := fmt.Sprint(100 + i)
		if e, ok := byID[id]; !ok {
			t.Errorf("no event for echo %s", id)
		} else if e.str("event") != "tool_call" || e.str("outcome") != "success" {
			t.Errorf("echo %s: %s", id, e.line)
		}
	}
	if _, ok := byID["1"]; !ok {
		t.Errorf("no event for initialize")
	}
	if len(events) != n+2 {
		t.Errorf("%d events, want %d (initialize, notifications/initialized, %d calls)", len(events), n+2, n)
	}
}
