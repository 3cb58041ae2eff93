package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a server process the benchmark started: the backend or an arm.
// Its stdout and stderr go to a log file, since a gateway may log every
// request and the report must stay readable.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{} // closed when the process has exited
	waitErr error
}

// startProc starts argv with its output in dir/name.log. The process is
// killed if loadbench dies (Pdeathsig), so no server outlives a run.
// When firstLine is set, it gets the first line of the process's stdout,
// which is how the backend reports its address.
func startProc(name string, argv []string, dir string, firstLine chan<- string) (*proc, error) {
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stdout io.ReadCloser
	if firstLine != nil {
		if stdout, err = cmd.StdoutPipe(); err != nil {
			logf.Close()
			return nil, err
		}
	} else {
		cmd.Stdout = logf
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	copied := make(chan struct{})
	if stdout != nil {
		go func() {
			defer close(copied)
			br := bufio.NewReader(stdout)
			line, err := br.ReadString('\n')
			if err == nil {
				firstLine <- strings.TrimSpace(line)
			}
			fmt.Fprint(logf, line)
			io.Copy(logf, br)
		}()
	} else {
		close(copied)
	}
	go func() {
		<-copied // Wait must not close the pipe before it is read
		p.waitErr = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	return p, nil
}

// waitURL waits for the first line of stdout (the process's URL).
func (p *proc) waitURL(lines <-chan string, timeout time.Duration) (string, error) {
	select {
	case u := <-lines:
		return u, nil
	case <-p.exited:
		return "", fmt.Errorf("%s exited before printing its address: %v%s", p.name, p.waitErr, p.logTail())
	case <-time.After(timeout):
		return "", fmt.Errorf("%s printed no address within %v%s", p.name, timeout, p.logTail())
	}
}

// waitHealthy polls GET base/healthz until it answers 200.
func (p *proc) waitHealthy(base string, timeout time.Duration) error {
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited during start-up: %v%s", p.name, p.waitErr, p.logTail())
		default:
		}
		resp, err := hc.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /healthz: HTTP %s", resp.Status)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not healthy within %v: %v%s", p.name, timeout, last, p.logTail())
}

// stop asks the process to exit (SIGTERM), and kills it if it has not
// within a few seconds.
func (p *proc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// alive reports an error if the process has exited: a server that died
// mid-run would otherwise show up only as a pile of connection errors.
func (p *proc) alive() error {
	select {
	case <-p.exited:
		return fmt.Errorf("%s exited: %v%s", p.name, p.waitErr, p.logTail())
	default:
		return nil
	}
}

// peakRSS returns the process's peak resident set size in bytes, from
// VmHWM ("high water mark") in /proc/PID/status.
func (p *proc) peakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	return parseVmHWM(string(b))
}

// parseVmHWM finds "VmHWM:   1234 kB" in a /proc/PID/status text.
func parseVmHWM(status string) (int64, error) {
	for line := range strings.Lines(status) {
		rest, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("unexpected VmHWM line %q", line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, err
		}
		return kb << 10, nil
	}
	return 0, errors.New("no VmHWM in status")
}

// logTail returns the end of the process's log, for error messages.
func (p *proc) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil || len(b) == 0 {
		return ""
	}
	const n = 2000
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return fmt.Sprintf("\n--- end of %s ---\n%s", p.logPath, b)
}

// freeLoopbackAddr returns a 127.0.0.1 address with a port that was free a
// moment ago, for an arm that must be told where to listen (mcpgate's
// --listen takes no port 0 report-back). Another process could take the port
// in between; on a benchmark machine that is rare, and start-up then fails
// loudly rather than measuring the wrong thing.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
