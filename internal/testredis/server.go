package testredis

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Server is one redis-server process. Stop and Start again keep its port,
// so that clients configured with URL reach the restarted server.
type Server struct {
	t    testing.TB
	port int
	cmd  *exec.Cmd
}

// Start starts a server for t, stopped when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("MCPGATE_REQUIRE_REDIS") == "1" {
			t.Fatal("redis-server is not installed and MCPGATE_REQUIRE_REDIS=1: .ci/run installs it (Debian: apt-get install redis-server)")
		}
		t.Skip("redis-server is not installed (Debian: apt-get install redis-server); .ci/run installs it")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &Server{t: t, port: port}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's redis:// URL (database 0).
func (s *Server) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.port) }

// Addr is the server's host:port.
func (s *Server) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// Start starts the server again on its port after Stop, and waits until it
// answers PING.
func (s *Server) Start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if reply, err := s.Command("PING"); err == nil && strings.HasPrefix(reply, "+PONG") {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatal("redis-server did not answer PING within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (SIGKILL: an outage, not a shutdown).
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Command sends one inline command and returns its reply as text: a
// status, error or integer line as sent, a bulk string's contents, or an
// array's elements one per line.
func (s *Server) Command(cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, cmd+"\r\n"); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	var b strings.Builder
	if err := readReply(r, &b); err != nil {
		return "", err
	}
	return b.String(), nil
}

func readReply(r *bufio.Reader, b *strings.Builder) error {
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	switch {
	case strings.HasPrefix(line, "$"):
		n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
		if n < 0 {
			return nil // a nil bulk string
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		b.Write(buf[:n])
		return nil
	case strings.HasPrefix(line, "*"):
		n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
		for i := range n {
			if i > 0 {
				b.WriteByte('\n')
			}
			if err := readReply(r, b); err != nil {
				return err
			}
		}
		return nil
	}
	b.WriteString(line)
	return nil
}

// Keys lists the server's keys (KEYS *: a test's few).
func (s *Server) Keys(t testing.TB) []string {
	t.Helper()
	reply, err := s.Command("KEYS *")
	if err != nil {
		t.Fatal(err)
	}
	if reply == "" {
		return nil
	}
	return strings.Split(reply, "\n")
}

// Clients is the number of clients connected, not counting the one asking.
func (s *Server) Clients(t testing.TB) int {
	t.Helper()
	info, err := s.Command("INFO clients")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_clients:"); ok {
			n, _ := strconv.Atoi(v)
			return n - 1
		}
	}
	t.Fatalf("no connected_clients in %q", info)
	return 0
}
