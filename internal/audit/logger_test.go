package audit

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/record"
)

// numbered is event n, told apart by its backend name.
func numbered(n int) *Event {
	return &Event{Time: t0, Event: KindToolCall, Outcome: OutcomeSuccess, Backend: "b" + itoa(n), HTTP: HTTP{Method: "POST", Status: 200}}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func closeLogger(t *testing.T, l *Logger) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func readEvents(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseLines(t, string(data))
}

func TestFileSink(t *testing.T) {
	for _, policy := range []Fsync{FsyncNever, FsyncAlways, FsyncInterval} {
		t.Run(string(policy), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			l, err := New(Options{Sink: path, Fsync: policy, FsyncInterval: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				l.Log(numbered(i))
			}
			closeLogger(t, l)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if perm := fi.Mode().Perm(); perm != 0o600 {
				t.Errorf("mode %v, want 0600", perm)
			}
			// A second logger appends.
			l, err = New(Options{Sink: path, Fsync: policy})
			if err != nil {
				t.Fatal(err)
			}
			l.Log(numbered(3))
			closeLogger(t, l)
			evs := readEvents(t, path)
			if len(evs) != 4 {
				t.Fatalf("%d events, want 4", len(evs))
			}
			for i, e := range evs {
				if e["backend"] != "b"+itoa(i) {
					t.Errorf("event %d is %v", i, e["backend"])
				}
			}
		})
	}
}

func TestFileSinkErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, path, want string }{
		{"missing directory", filepath.Join(dir, "nope", "audit.jsonl"), "directory " + filepath.Join(dir, "nope") + " does not exist"},
		{"a directory", dir, "is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Options{Sink: tt.path})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestReopenAfterRename is log rotation: rename, then SIGHUP (Reopen).
func TestReopenAfterRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	l, err := New(Options{Sink: path})
	if err != nil {
		t.Fatal(err)
	}
	const before, after = 500, 300
	for i := range before {
		l.Log(numbered(i))
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	for i := before; i < before+after; i++ {
		l.Log(numbered(i))
	}
	closeLogger(t, l)
	if l.Dropped() != 0 {
		t.Fatalf("%d dropped", l.Dropped())
	}
	old, cur := readEvents(t, path+".1"), readEvents(t, path)
	seen := map[any]bool{}
	for _, e := range append(old, cur...) {
		if seen[e["backend"]] {
			t.Errorf("%v written twice", e["backend"])
		}
		seen[e["backend"]] = true
	}
	if len(seen) != before+after {
		t.Errorf("%d distinct events, want %d (old file %d, new %d)", len(seen), before+after, len(old), len(cur))
	}
	// Everything logged after Reopen returned is in the new file.
	inNew := map[any]bool{}
	for _, e := range cur {
		inNew[e["backend"]] = true
	}
	for i := before; i < before+after; i++ {
		if !inNew["b"+itoa(i)] {
			t.Fatalf("event %d, logged after Reopen, is not in the new file", i)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("new file: %v %v", fi, err)
	}
}

// TestReopenFailsThenRecovers: the directory disappears (an unwritable
// path); the log reports it, counts what it loses, and recovers once the
// path works again.
func TestReopenFailsThenRecovers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "audit.jsonl")
	l, err := New(Options{Sink: path, FailClosed: true})
	if err != nil {
		t.Fatal(err)
	}
	defer closeLogger(t, l)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err == nil {
		t.Fatal("Reopen succeeded without a directory")
	}
	if err := l.Healthy(); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Healthy() = %v", err)
	}
	l.Log(numbered(1))
	waitFor(t, "the event to be lost", func() bool { return l.Lost() == 1 })
	if l.Errors() < 2 {
		t.Errorf("Errors() = %d, want at least 2 (reopen, write)", l.Errors())
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	l.Log(numbered(2))
	waitFor(t, "recovery", func() bool { return l.Healthy() == nil })
	closeLogger(t, l)
	if evs := readEvents(t, path); len(evs) != 1 || evs[0]["backend"] != "b2" {
		t.Errorf("events %v", evs)
	}
}

// diskFull fails every write with ENOSPC while full is set.
type diskFull struct {
	mu   sync.Mutex
	full bool
	memWriter
}

func (d *diskFull) set(full bool) { d.mu.Lock(); d.full = full; d.mu.Unlock() }

func (d *diskFull) Write(p []byte) (int, error) {
	d.mu.Lock()
	full := d.full
	d.mu.Unlock()
	if full {
		return 0, &os.PathError{Op: "write", Path: "audit.jsonl", Err: syscall.ENOSPC}
	}
	return d.memWriter.Write(p)
}

func TestSinkFailureAndGuard(t *testing.T) {
	for _, failClosed := range []bool{false, true} {
		t.Run(map[bool]string{false: "failOpen", true: "failClosed"}[failClosed], func(t *testing.T) {
			w := &diskFull{full: true}
			l, err := New(Options{Writer: w, FailClosed: failClosed})
			if err != nil {
				t.Fatal(err)
			}
			defer closeLogger(t, l)
			guarded := l.Guard()(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
			call := func() (*httptest.ResponseRecorder, *record.Record) {
				rec := &record.Record{Ops: []record.Op{toolCall("42", "x")}}
				req := httptest.NewRequest("POST", "/mcp", nil)
				rw := httptest.NewRecorder()
				guarded.ServeHTTP(rw, req.WithContext(record.NewContext(req.Context(), rec)))
				return rw, rec
			}
			if rw, _ := call(); rw.Code != http.StatusOK {
				t.Fatalf("healthy: status %d", rw.Code)
			}

			l.Log(numbered(1))
			waitFor(t, "the write to fail", func() bool { return l.Errors() > 0 })
			if err := l.Healthy(); !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("Healthy() = %v, want ENOSPC", err)
			}
			if l.Lost() != 1 {
				t.Errorf("Lost() = %d", l.Lost())
			}
			rw, rec := call()
			switch {
			case failClosed && rw.Code != http.StatusServiceUnavailable:
				t.Errorf("failClosed: status %d, want 503", rw.Code)
			case failClosed:
				var body struct {
					ID    int `json:"id"`
					Error struct {
						Code int `json:"code"`
					} `json:"error"`
				}
				if err := json.Unmarshal(rw.Body.Bytes(), &body); err != nil || body.ID != 42 || body.Error.Code != -32000 {
					t.Errorf("503 body %s (%v)", rw.Body, err)
				}
				if rec.Reason != record.ReasonAuditUnavailable || rw.Header().Get("Retry-After") == "" {
					t.Errorf("reason %q, Retry-After %q", rec.Reason, rw.Header().Get("Retry-After"))
				}
			case rw.Code != http.StatusOK:
				t.Errorf("fail open: status %d, want 200", rw.Code)
			}

			// Space is freed: the next event is written and health returns.
			w.set(false)
			l.Log(numbered(2))
			waitFor(t, "recovery", func() bool { return l.Healthy() == nil })
			if rw, _ := call(); rw.Code != http.StatusOK {
				t.Errorf("recovered: status %d", rw.Code)
			}
			if got := w.String(); !strings.Contains(got, `"b2"`) || strings.Contains(got, `"b1"`) {
				t.Errorf("written: %s", got)
			}
		})
	}
}

// blocked is a sink whose Write waits until released.
type blocked struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	memWriter
}

func (b *blocked) Write(p []byte) (int, error) {
	b.once.Do(func() { close(b.entered) })
	<-b.release
	return b.memWriter.Write(p)
}

func TestQueueFullDropsWithoutBlocking(t *testing.T) {
	w := &blocked{entered: make(chan struct{}), release: make(chan struct{})}
	l, err := New(Options{Writer: w, QueueSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	l.Log(numbered(0))
	<-w.entered // the writer holds event 0 and is stuck in the sink
	start := time.Now()
	for i := 1; i <= 10; i++ {
		l.Log(numbered(i))
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Log blocked for %v", d)
	}
	if l.Dropped() != 8 {
		t.Errorf("Dropped() = %d, want 8 (queue of 2)", l.Dropped())
	}
	if err := l.Healthy(); !errors.Is(err, ErrQueueFull) {
		t.Errorf("Healthy() = %v, want ErrQueueFull", err)
	}
	close(w.release)
	closeLogger(t, l)
	evs := parseLines(t, w.String())
	if len(evs) != 3 {
		t.Errorf("%d events written, want 3", len(evs))
	}
}

func TestCloseFlushes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	// Never syncing and a long interval: only Close writes the buffer out.
	l, err := New(Options{Sink: path, Fsync: FsyncNever})
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	for i := range n {
		l.Log(numbered(i))
	}
	closeLogger(t, l)
	if got := len(readEvents(t, path)); got != n-int(l.Dropped()) || l.Dropped() != 0 {
		t.Errorf("%d events in the file, %d dropped; want %d", got, l.Dropped(), n)
	}
	l.Log(numbered(n))
	if l.Dropped() != 1 {
		t.Errorf("Log after Close: Dropped() = %d, want 1", l.Dropped())
	}
	if err := l.Healthy(); !errors.Is(err, ErrClosed) {
		t.Errorf("Healthy() after Close = %v", err)
	}
	if err := l.Reopen(); !errors.Is(err, ErrClosed) {
		t.Errorf("Reopen() after Close = %v", err)
	}
	closeLogger(t, l) // twice is fine
}

func TestCloseHonoursContext(t *testing.T) {
	w := &blocked{entered: make(chan struct{}), release: make(chan struct{})}
	l, err := New(Options{Writer: w})
	if err != nil {
		t.Fatal(err)
	}
	l.Log(numbered(0))
	<-w.entered
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := l.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want the context's error", err)
	}
	close(w.release)
	closeLogger(t, l)
}

func TestStdoutSink(t *testing.T) {
	w := &memWriter{}
	l, err := New(Options{Sink: SinkStdout, Stdout: w, Fsync: FsyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	l.Log(numbered(1))
	if err := l.Reopen(); err != nil {
		t.Errorf("Reopen of stdout: %v", err)
	}
	closeLogger(t, l)
	if evs := parseLines(t, w.String()); len(evs) != 1 {
		t.Errorf("%d events", len(evs))
	}
}

// TestConcurrentLog runs Log, Reopen and Close concurrently (for -race).
func TestConcurrentLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := New(Options{Sink: path, QueueSize: 100000})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				l.Log(numbered(g*1000 + i))
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			_ = l.Reopen()
			_ = l.Healthy()
		}
	})
	wg.Wait()
	closeLogger(t, l)
	if got := len(readEvents(t, path)); got != 1600 {
		t.Errorf("%d events, want 1600", got)
	}
}
