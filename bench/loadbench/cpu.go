package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is Linux's USER_HZ, the unit of utime and stime in
// /proc/PID/stat. It is 100 on every architecture Go supports on Linux;
// reading it properly needs sysconf(_SC_CLK_TCK), i.e. cgo.
const clockTicks = 100

// cpuSample is the CPU time (user + system) each party had used at one
// moment. Throughput on a shared 2-core machine moves with everything else
// that runs; CPU time per request is what each process spent on the work,
// and so the steadier figure to compare a gateway with a bare proxy by.
type cpuSample struct {
	relay, backend, client time.Duration
	relayParts             []time.Duration // each relay process's, when there are several
	ok                     bool
}

// sampleCPU reads the relay's and the backend's CPU time from /proc and
// the clients' (this process) from getrusage. The relay's is the sum over
// relays: one process, none for the direct arm, or a replicas arm's
// gateways and HAProxy. A failed read makes the sample unusable rather
// than wrong.
func sampleCPU(relays []*proc, backend *proc) cpuSample {
	var s cpuSample
	for _, p := range relays {
		c, err := procCPU(p.cmd.Process.Pid)
		if err != nil {
			return s
		}
		s.relay += c
		if len(relays) > 1 {
			s.relayParts = append(s.relayParts, c)
		}
	}
	var err error
	if s.backend, err = procCPU(backend.cmd.Process.Pid); err != nil {
		return s
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return s
	}
	s.client = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	s.ok = true
	return s
}

// perRequest is the CPU each party spent per successful request between
// two samples; zero when either sample failed or nothing succeeded.
func (s cpuSample) perRequest(end cpuSample, requests int) cpuPerRequest {
	if !s.ok || !end.ok || requests == 0 {
		return cpuPerRequest{}
	}
	n := time.Duration(requests)
	c := cpuPerRequest{
		Relay:   (end.relay - s.relay) / n,
		Backend: (end.backend - s.backend) / n,
		Client:  (end.client - s.client) / n,
	}
	for i := range min(len(s.relayParts), len(end.relayParts)) {
		c.RelayParts = append(c.RelayParts, (end.relayParts[i]-s.relayParts[i])/n)
	}
	return c
}

// cpuPerRequest is CPU time per successful request in one round. The round
// includes its sessions' handshakes and DELETEs, a few dozen requests
// against tens of thousands.
type cpuPerRequest struct {
	Relay, Backend, Client time.Duration
	// RelayParts is Relay by process when the relay is several (a replicas
	// arm: its gateways, then HAProxy), to see where spreading costs.
	RelayParts []time.Duration
}

func (c cpuPerRequest) total() time.Duration { return c.Relay + c.Backend + c.Client }

// procCPU returns utime + stime of a process from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads fields 14 (utime) and 15 (stime) of a /proc/PID/stat
// line. The command name (field 2) is in parentheses and may itself hold
// spaces and parentheses, so fields are counted after its last ')'.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("no command name in stat")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 13 {
		return 0, fmt.Errorf("stat has %d fields after the command name, want at least 13", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad CPU time %q in stat", s)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}
