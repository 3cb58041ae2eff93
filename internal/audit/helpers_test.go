package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
)

// memWriter collects what the writer goroutine writes.
type memWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (m *memWriter) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.buf.Write(p)
}

func (m *memWriter) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.buf.String()
}

var (
	schemaOnce sync.Once
	schema     *jsonschema.Resolved
	schemaErr  error
)

// eventSchema is docs/audit-event.schema.json, resolved.
func eventSchema(t testing.TB) *jsonschema.Resolved {
	t.Helper()
	schemaOnce.Do(func() {
		data, err := os.ReadFile("../../docs/audit-event.schema.json")
		if err != nil {
			schemaErr = err
			return
		}
		var s jsonschema.Schema
		if err := json.Unmarshal(data, &s); err != nil {
			schemaErr = err
			return
		}
		schema, schemaErr = s.Resolve(nil)
	})
	if schemaErr != nil {
		t.Fatalf("schema: %v", schemaErr)
	}
	return schema
}

// parseLines splits the log into events, checking that each line is one
// JSON object that the schema accepts.
func parseLines(t testing.TB, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSuffix(log, "\n"), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line is not a JSON object: %v\n%s", err, line)
		}
		if err := eventSchema(t).Validate(m); err != nil {
			t.Errorf("event does not match docs/audit-event.schema.json: %v\n%s", err, line)
		}
		out = append(out, m)
	}
	return out
}

// newMemLogger returns a logger writing to memory and a function that
// closes it and returns the events, schema-checked.
func newMemLogger(t testing.TB, opts Options) (*Logger, func() (string, []map[string]any)) {
	t.Helper()
	w := &memWriter{}
	opts.Writer = w
	l, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return l, func() (string, []map[string]any) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := l.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		s := w.String()
		return s, parseLines(t, s)
	}
}

// get walks a decoded event: get(m, "mcp", "tool").
func get(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[p]
	}
	return v
}

// waitFor polls cond until it holds or a bounded wait ends.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
