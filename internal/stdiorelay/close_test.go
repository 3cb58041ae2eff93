package stdiorelay

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCloseStopsChildrenAndGrandchildren(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "grandchildren")
	cmd := fakeCommand(t)
	// The shell starts a grandchild in the child's process group, records
	// its pid and becomes the fake server.
	cmd.Argv = []string{"sh", "-c", `sleep 300 & echo $! >> "$PIDFILE"; exec "$0"`, cmd.Argv[0]}
	cmd.Env = append(cmd.Env, "PIDFILE="+pidFile)
	h := newHarness(t, Options{Command: cmd})
	var pids []int
	for range 3 {
		pids = append(pids, h.whoami(h.initialize()))
	}
	// A session ended just before Close is still stopping: Close waits for
	// its child too.
	ended := h.initialize()
	pids = append(pids, h.whoami(ended))
	resp := h.do(t.Context(), http.MethodDelete, ended, "", "")
	resp.Body.Close()

	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	for f := range strings.FieldsSeq(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	if len(pids) != 8 {
		t.Fatalf("pids %v", pids)
	}

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := h.relay.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Children are reaped by the time Close returns. Grandchildren are
	// orphans that init reaps when it gets to it (if ever, in a
	// container), so a zombie counts as stopped.
	for _, pid := range pids[:4] {
		if !gone(pid) {
			t.Errorf("child %d survived Close", pid)
		}
	}
	for _, pid := range pids[4:] {
		eventually(t, "grandchild "+strconv.Itoa(pid)+" exits", func() bool { return gone(pid) || zombie(pid) })
	}
	// Closed: no new sessions.
	_, resp = h.tryInitialize()
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatal("initialize after Close succeeded")
	}
}

// A child that stops reading stdin blocks the write of a large request;
// stopping it must not wait for that write.
func TestCloseWithBlockedWrite(t *testing.T) {
	h := newHarness(t, Options{})
	sid := h.initialize()
	pid := h.whoami(sid)
	if got := h.call(sid, 1, "deaf", nil).text(t); got != "deaf" {
		t.Fatalf("deaf = %q", got)
	}
	// Much more than a pipe holds.
	body := callBody(2, "echo", map[string]any{"text": strings.Repeat("z", 8<<20)}, nil)
	sent := make(chan struct{})
	go func() {
		req, _ := http.NewRequest(http.MethodPost, h.srv.URL, &signalEOF{r: strings.NewReader(body), eof: sent})
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", acceptJSON)
		req.Header.Set("Mcp-Session-Id", sid)
		if resp, err := h.srv.Client().Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	select {
	case <-sent:
	case <-time.After(wait):
		t.Fatal("request body not sent")
	}
	// The write to the child's stdin holds the line lock while it blocks.
	w := &h.relay.lookup(sid).backend().(*ownChild).child.wmu
	eventually(t, "the write to the child blocks", func() bool {
		if w.TryLock() {
			w.Unlock()
			return false
		}
		return true
	})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := h.relay.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !gone(pid) {
		t.Fatalf("child %d survived Close", pid)
	}
}

type signalEOF struct {
	r   io.Reader
	eof chan struct{}
}

func (s *signalEOF) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err == io.EOF {
		select {
		case <-s.eof:
		default:
			close(s.eof)
		}
	}
	return n, err
}

// zombie reports whether pid has exited but not been reaped.
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) state ...; comm may hold spaces, so look after the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}
