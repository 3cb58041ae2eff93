package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// report is the run's result; it is printed as a table and marshalled as
// the one-line JSON record.
type report struct {
	Benchmark string       `json:"benchmark"` // always "loadbench", to find the line in a log
	Time      string       `json:"time"`
	Config    reportConfig `json:"config"`
	Arms      []armReport  `json:"arms"`
	Ratios    []armRatios  `json:"ratios"`
	// Comparisons are the -compare pairs: one arm over another.
	Comparisons []armRatios `json:"comparisons,omitempty"`
	BackendRSS  int64       `json:"backend_peak_rss_bytes,omitempty"`
	Errors      int         `json:"errors"`
	OK          bool        `json:"ok"`
	Failure     string      `json:"failure,omitempty"`
}

type reportConfig struct {
	Clients   int     `json:"clients"`
	Rounds    int     `json:"rounds"`
	RoundSecs float64 `json:"round_s"`
	WarmupSec float64 `json:"warmup_s"`
	SSE       bool    `json:"sse"`
	Backend   string  `json:"backend"` // session or stateless
	Payload   int     `json:"payload_bytes"`
	CPUs      int     `json:"cpus"`
	MinRatio  float64 `json:"min_ratio,omitempty"`
	// Sessions is -sessions: when set, every figure is of opening a
	// session (initialize + notifications/initialized), not of a call.
	Sessions int `json:"sessions_per_client,omitempty"`
}

type armReport struct {
	Name       string  `json:"name"`
	Baseline   bool    `json:"baseline,omitempty"`
	Throughput float64 `json:"req_per_s"` // median over rounds
	P50us      float64 `json:"p50_us"`    // median over rounds of each round's p50
	P99us      float64 `json:"p99_us"`
	PeakRSS    int64   `json:"peak_rss_bytes,omitempty"`
	// RelayProcesses are the processes a replicas arm's relay CPU and peak
	// RSS are the sums over: its gateways and HAProxy.
	RelayProcesses []string `json:"relay_processes,omitempty"`
	// RelayByProcess is the median over rounds of each relay process's CPU
	// per request (µs), in RelayProcesses' order.
	RelayByProcess []float64   `json:"relay_cpu_us_per_req_by_process,omitempty"`
	Errors         int         `json:"errors"`
	CPU            cpuJSON     `json:"cpu_us_per_req"` // median over rounds of each party's
	Rounds         []roundJSON `json:"rounds"`

	rounds []roundResult
}

type roundJSON struct {
	Throughput float64 `json:"req_per_s"`
	P50us      float64 `json:"p50_us"`
	P99us      float64 `json:"p99_us"`
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`
	Conns      int64   `json:"conns_opened"`
	CPU        cpuJSON `json:"cpu_us_per_req"`
	FirstError string  `json:"first_error,omitempty"`
}

// cpuJSON is CPU time per request in microseconds: the relay under test
// (0 for the direct arm), the backend, and the load-generating clients.
type cpuJSON struct {
	Relay   float64 `json:"relay"`
	Backend float64 `json:"backend"`
	Client  float64 `json:"client"`
	Total   float64 `json:"total"`
}

func cpuUS(c cpuPerRequest) cpuJSON {
	return cpuJSON{Relay: us(c.Relay), Backend: us(c.Backend), Client: us(c.Client), Total: us(c.total())}
}

// armRatios compares one arm with the baseline. Throughput above 1 and
// latencies below 1 mean the arm did better than the baseline.
type armRatios struct {
	Arm              string   `json:"arm"`
	Baseline         string   `json:"baseline"`
	Throughput       *float64 `json:"throughput"`        // median / median
	ThroughputPaired *float64 `json:"throughput_paired"` // median of per-round ratios
	P50              *float64 `json:"p50"`
	P99              *float64 `json:"p99"`
	// RelayCPU is the arm's relay CPU per request over the baseline's; it
	// says what the gateway's own work costs, whatever else ran.
	RelayCPU *float64 `json:"relay_cpu"`
	// TotalCPU is the whole system's (relay, backend, clients) CPU per
	// request over the baseline's: on a CPU-bound machine, about the
	// inverse of the throughput ratio.
	TotalCPU *float64 `json:"total_cpu"`
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// finite returns a pointer to x, or nil (JSON null) for NaN and infinities,
// which encoding/json refuses.
func finite(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

func buildReport(o *options, arms []*armProc, backendRSS int64) *report {
	rep := &report{
		Benchmark: "loadbench",
		Time:      time.Now().UTC().Format(time.RFC3339),
		Config: reportConfig{
			Clients: o.clients, Rounds: o.rounds, RoundSecs: o.duration.Seconds(), WarmupSec: o.warmup.Seconds(),
			SSE: o.sse, Backend: o.backend, Payload: o.payload, CPUs: runtime.NumCPU(), MinRatio: o.minRatio,
			Sessions: o.sessions,
		},
		BackendRSS: backendRSS,
	}
	var failures []string
	for _, a := range arms {
		ar := armReport{Name: a.spec.name, Baseline: a.spec.baseline, PeakRSS: a.rss, RelayProcesses: relayProcesses(a.spec), rounds: a.rounds}
		var tp, p50, p99, relay, backend, client, total []float64
		for _, r := range a.rounds {
			tp = append(tp, r.Throughput)
			p50 = append(p50, us(r.P50))
			p99 = append(p99, us(r.P99))
			c := cpuUS(r.CPU)
			if c.Total > 0 {
				relay, backend, client, total = append(relay, c.Relay), append(backend, c.Backend), append(client, c.Client), append(total, c.Total)
			}
			ar.Errors += r.Errors
			ar.Rounds = append(ar.Rounds, roundJSON{
				Throughput: r.Throughput, P50us: us(r.P50), P99us: us(r.P99),
				Requests: r.Requests, Errors: r.Errors, Conns: r.Dials, CPU: c, FirstError: r.FirstError,
			})
		}
		ar.Throughput, ar.P50us, ar.P99us = median(tp), median(p50), median(p99)
		ar.CPU = cpuJSON{Relay: median(relay), Backend: median(backend), Client: median(client), Total: median(total)}
		ar.RelayByProcess = relayByProcess(a.rounds, len(ar.RelayProcesses))
		rep.Errors += ar.Errors + a.warmup.Errors
		if n := ar.Errors + a.warmup.Errors; n > 0 {
			first := a.warmup.FirstError
			for _, r := range a.rounds {
				if first == "" {
					first = r.FirstError
				}
			}
			failures = append(failures, fmt.Sprintf("%s: %d failed requests (first: %s)", a.spec.name, n, first))
		}
		rep.Arms = append(rep.Arms, ar)
	}
	base := rep.Arms[0] // buildArms puts the baseline first
	for _, ar := range rep.Arms[1:] {
		r := compareArms(ar, base)
		if o.minRatio > 0 && (r.Throughput == nil || *r.Throughput < o.minRatio) {
			failures = append(failures, fmt.Sprintf("%s: throughput ratio %s is below -min-ratio %.3f", ar.Name, fmtRatio(r.Throughput), o.minRatio))
		}
		rep.Ratios = append(rep.Ratios, r)
	}
	byName := map[string]armReport{}
	for _, ar := range rep.Arms {
		byName[ar.Name] = ar
	}
	for _, p := range o.compare {
		rep.Comparisons = append(rep.Comparisons, compareArms(byName[p.arm], byName[p.baseline]))
	}
	rep.Failure = strings.Join(failures, "; ")
	rep.OK = rep.Failure == ""
	return rep
}

// relayByProcess is the median over rounds of each of n relay processes'
// CPU per request, in µs; nil unless every part was measured in some round.
func relayByProcess(rounds []roundResult, n int) []float64 {
	if n == 0 {
		return nil
	}
	parts := make([][]float64, n)
	for _, r := range rounds {
		if len(r.CPU.RelayParts) != n {
			continue
		}
		for i, d := range r.CPU.RelayParts {
			parts[i] = append(parts[i], us(d))
		}
	}
	out := make([]float64, n)
	for i, p := range parts {
		if len(p) == 0 {
			return nil
		}
		out[i] = median(p)
	}
	return out
}

// compareArms is ar's figures over base's.
func compareArms(ar, base armReport) armRatios {
	return armRatios{
		Arm: ar.Name, Baseline: base.Name,
		Throughput:       finite(ratio(ar.Throughput, base.Throughput)),
		ThroughputPaired: finite(median(pairedRatios(throughputs(ar.rounds), throughputs(base.rounds)))),
		P50:              finite(ratio(ar.P50us, base.P50us)),
		P99:              finite(ratio(ar.P99us, base.P99us)),
		RelayCPU:         finite(ratio(ar.CPU.Relay, base.CPU.Relay)),
		TotalCPU:         finite(ratio(ar.CPU.Total, base.CPU.Total)),
	}
}

func throughputs(rs []roundResult) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = r.Throughput
	}
	return out
}

// writeReport prints the table and the JSON line to w, and writes the
// -json and -benchfmt files.
func writeReport(w io.Writer, rep *report, o *options) error {
	c := rep.Config
	mode := "application/json"
	if c.SSE {
		mode = "text/event-stream"
	}
	what, unit := "tools/call echo", "req"
	if c.Sessions > 0 {
		what, unit = fmt.Sprintf("session creation (initialize + notifications/initialized timed, then DELETE; up to %d per client per round)", c.Sessions), "session"
	}
	fmt.Fprintf(w, "loadbench: %s, %d clients, %d rounds x %gs per arm (warm-up %gs), %s backend answers %s, message %d B, %d CPUs\n\n",
		what, c.Clients, c.Rounds, c.RoundSecs, c.WarmupSec, c.Backend, mode, c.Payload, c.CPUs)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "round\tarm\t%[1]s/s\tp50\tp99\trelay CPU/%[1]s\tall CPU/%[1]s\tconns\terrors\t\n", unit)
	for i := range rep.Arms[0].Rounds {
		for _, a := range rep.Arms {
			if i < len(a.Rounds) {
				r := a.Rounds[i]
				fmt.Fprintf(tw, "%d\t%s\t%.0f\t%s\t%s\t%s\t%s\t%d\t%d\t\n", i+1, a.Name, r.Throughput, fmtUS(r.P50us), fmtUS(r.P99us),
					fmtUS(r.CPU.Relay), fmtUS(r.CPU.Total), r.Conns, r.Errors)
			}
		}
	}
	fmt.Fprintln(tw, "\t\t\t\t\t\t\t\t\t")
	fmt.Fprintf(tw, "median\tarm\t%[1]s/s\tp50\tp99\trelay CPU/%[1]s\tall CPU/%[1]s\tpeak RSS\terrors\t\n", unit)
	for _, a := range rep.Arms {
		fmt.Fprintf(tw, "\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%d\t\n", a.Name, a.Throughput, fmtUS(a.P50us), fmtUS(a.P99us),
			fmtUS(a.CPU.Relay), fmtUS(a.CPU.Total), fmtBytes(a.PeakRSS), a.Errors)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if rep.BackendRSS > 0 {
		fmt.Fprintf(w, "(backend peak RSS %s)\n", fmtBytes(rep.BackendRSS))
	}
	for _, a := range rep.Arms {
		if len(a.RelayProcesses) > 0 {
			fmt.Fprintf(w, "(%s: relay CPU and peak RSS are the sums over %s", a.Name, strings.Join(a.RelayProcesses, ", "))
			if len(a.RelayByProcess) == len(a.RelayProcesses) {
				var parts []string
				for i, p := range a.RelayProcesses {
					parts = append(parts, p+" "+fmtUS(a.RelayByProcess[i]))
				}
				fmt.Fprintf(w, "; relay CPU/%s by process, medians: %s", unit, strings.Join(parts, ", "))
			}
			fmt.Fprintln(w, ")")
		}
	}
	fmt.Fprintln(w)
	for _, r := range append(slices.Clip(rep.Ratios), rep.Comparisons...) {
		fmt.Fprintf(w, "%s/%s: throughput %s (paired rounds %s), p50 latency %s, p99 latency %s, relay CPU per %s %s, all CPU per %s %s\n",
			r.Arm, r.Baseline, fmtRatio(r.Throughput), fmtRatio(r.ThroughputPaired), fmtRatio(r.P50), fmtRatio(r.P99),
			unit, fmtRatio(r.RelayCPU), unit, fmtRatio(r.TotalCPU))
	}
	if rep.OK {
		fmt.Fprintln(w, "ok")
	} else {
		fmt.Fprintln(w, "FAIL:", rep.Failure)
	}

	line, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	if _, err := w.Write(line); err != nil {
		return err
	}
	if o.jsonPath != "" {
		if err := os.WriteFile(o.jsonPath, line, 0o644); err != nil {
			return err
		}
	}
	if o.rowsPath != "" {
		if err := appendRows(o.rowsPath, rep); err != nil {
			return err
		}
	}
	if o.benchfmtPath != "" {
		return writeBenchfmt(o.benchfmtPath, w, rep)
	}
	return nil
}

// rowsHeader is the header of the table appendRows writes rows of.
const rowsHeader = "| backend | resp | c | message | arm | throughput / proxy | paired rounds | relay CPU/req | proxy CPU/req | relay CPU / proxy | peak RSS | errors |\n" +
	"| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"

// rowLines are the Markdown table rows of rep: one per arm but the
// baseline, with its ratios to it.
func rowLines(rep *report) []string {
	c := rep.Config
	resp := "json"
	if c.SSE {
		resp = "sse"
	}
	base := rep.Arms[0]
	var lines []string
	for i, r := range rep.Ratios {
		a := rep.Arms[i+1]
		lines = append(lines, fmt.Sprintf("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %d |",
			c.Backend, resp, c.Clients, fmtSize(c.Payload), r.Arm, fmtRatio(r.Throughput), fmtRatio(r.ThroughputPaired),
			fmtUS(a.CPU.Relay), fmtUS(base.CPU.Relay), fmtRatio(r.RelayCPU), fmtBytes(a.PeakRSS), a.Errors))
	}
	return lines
}

// appendRows appends rep's rows to path, with the header if the file is new.
func appendRows(path string, rep *report) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err == nil && st.Size() == 0 {
		_, err = io.WriteString(f, rowsHeader)
	}
	for _, l := range rowLines(rep) {
		if err == nil {
			_, err = io.WriteString(f, l+"\n")
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// fmtSize is a message size as the docs write it: 64 B, 64 KiB, 1 MiB.
func fmtSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// writeBenchfmt writes one Go benchmark result line per arm and round, so
// that benchstat can compare arms within a run (-col /arm) or two runs.
// ns/op is wall time over requests: the inverse of throughput, as
// b.RunParallel reports it.
func writeBenchfmt(path string, stdout io.Writer, rep *report) error {
	var out io.Writer = stdout
	if path != "-" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	bw := bufio.NewWriter(out)
	for _, l := range benchfmtLines(rep) {
		bw.WriteString(l)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

func benchfmtLines(rep *report) []string {
	c := rep.Config
	resp := "json"
	if c.SSE {
		resp = "sse"
	}
	lines := []string{
		"goos: " + runtime.GOOS,
		"goarch: " + runtime.GOARCH,
		"pkg: github.com/mcpgate/mcpgate/bench/loadbench",
	}
	if cpu := cpuModel(); cpu != "" {
		lines = append(lines, "cpu: "+cpu)
	}
	for _, a := range rep.Arms {
		bench := "BenchmarkRelay"
		if c.Sessions > 0 {
			bench = "BenchmarkSessionCreate"
		}
		name := fmt.Sprintf("%s/arm=%s/backend=%s/resp=%s/c=%d/payload=%d-%d", bench, a.Name, c.Backend, resp, c.Clients, c.Payload, c.CPUs)
		for _, r := range a.Rounds {
			if r.Requests == 0 {
				continue
			}
			nsPerOp := 1e9 / r.Throughput
			lines = append(lines, fmt.Sprintf("%s\t%d\t%.0f ns/op\t%.1f req/s\t%.0f p50-ns\t%.0f p99-ns",
				name, r.Requests, nsPerOp, r.Throughput, r.P50us*1e3, r.P99us*1e3))
		}
	}
	return lines
}

// cpuModel returns the first "model name" in /proc/cpuinfo, as go test
// prints it in its "cpu:" line.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func fmtUS(x float64) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%.2fs", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.2fms", x/1e3)
	default:
		return fmt.Sprintf("%.0fµs", x)
	}
}

func fmtBytes(n int64) string {
	if n <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func fmtRatio(r *float64) string {
	if r == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.3fx", *r)
}
