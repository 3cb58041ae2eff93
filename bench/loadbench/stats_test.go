package main

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(xs ...int) []time.Duration {
		out := make([]time.Duration, len(xs))
		for i, x := range xs {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, tt := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample p50", ms(7), 50, 7 * time.Millisecond},
		{"one sample p99", ms(7), 99, 7 * time.Millisecond},
		{"two samples p50 is the lower", ms(1, 2), 50, time.Millisecond},
		{"two samples p51 is the upper", ms(1, 2), 51, 2 * time.Millisecond},
		{"odd count p50 is the middle", ms(1, 2, 3), 50, 2 * time.Millisecond},
		{"p100 is the max", ms(1, 2, 3), 100, 3 * time.Millisecond},
		{"tiny p is the min", ms(1, 2, 3), 0.001, time.Millisecond},
		{"1..100 p50", ms(hundred...), 50, 50 * time.Millisecond},
		{"1..100 p99", ms(hundred...), 99, 99 * time.Millisecond},
		{"1..100 p99.5", ms(hundred...), 99.5, 100 * time.Millisecond},
		{"ten samples p99 is the max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	for _, tt := range []struct {
		xs   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{5}, 5},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{10, 10, 1000}, 10}, // one disturbed round barely moves it
	} {
		in := slices.Clone(tt.xs)
		if got := median(tt.xs); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.xs, got, tt.want)
		}
		if !slices.Equal(in, tt.xs) {
			t.Errorf("median reordered its input: %v", tt.xs)
		}
	}
}

func TestRatios(t *testing.T) {
	for _, tt := range []struct {
		a, b float64
		want float64 // NaN: no ratio
	}{
		{970, 1000, 0.97},
		{1000, 1000, 1},
		{1, 0, math.NaN()},
		{0, 10, 0},
	} {
		got := ratio(tt.a, tt.b)
		if math.IsNaN(tt.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-tt.want) > 1e-12) {
			t.Errorf("ratio(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
	for _, tt := range []struct {
		a, b, want []float64
	}{
		{[]float64{90, 200}, []float64{100, 200}, []float64{0.9, 1}},
		{[]float64{90, 200, 5}, []float64{100, 0}, []float64{0.9}}, // uneven, zero baseline skipped
		{nil, []float64{1}, []float64{}},
	} {
		if got := pairedRatios(tt.a, tt.b); !slices.Equal(got, tt.want) {
			t.Errorf("pairedRatios(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
	if finite(math.NaN()) != nil || finite(math.Inf(1)) != nil || *finite(0.5) != 0.5 {
		t.Error("finite does not map NaN and Inf to nil")
	}
}

// TestBuildReport checks the ratio math end to end and the -min-ratio gate.
func TestBuildReport(t *testing.T) {
	round := func(tp float64, p50, p99 time.Duration) roundResult {
		return roundResult{Requests: int(tp), Throughput: tp, P50: p50, P99: p99}
	}
	proxy := &armProc{spec: armSpec{name: "proxy", baseline: true}, rounds: []roundResult{
		round(1000, time.Millisecond, 4*time.Millisecond),
		round(900, time.Millisecond, 4*time.Millisecond),
		round(1100, 3*time.Millisecond, 8*time.Millisecond),
	}}
	gw := &armProc{spec: armSpec{name: "gateway"}, rounds: []roundResult{
		round(950, 2*time.Millisecond, 5*time.Millisecond),
		round(850, 2*time.Millisecond, 5*time.Millisecond),
		round(1000, 2*time.Millisecond, 6*time.Millisecond),
	}}
	for _, tt := range []struct {
		minRatio float64
		wantOK   bool
	}{{0, true}, {0.9, true}, {0.97, false}} {
		rep := buildReport(&options{minRatio: tt.minRatio}, []*armProc{proxy, gw}, 0)
		r := rep.Ratios[0]
		if got, want := *r.Throughput, 950.0/1000; math.Abs(got-want) > 1e-12 {
			t.Errorf("throughput ratio = %v, want %v", got, want)
		}
		// Pairs: 0.95, 0.944…, 0.909…: the median is 0.944….
		if got, want := *r.ThroughputPaired, 850.0/900; math.Abs(got-want) > 1e-12 {
			t.Errorf("paired throughput ratio = %v, want %v", got, want)
		}
		if got, want := *r.P50, 2.0; math.Abs(got-want) > 1e-12 {
			t.Errorf("p50 ratio = %v, want %v", got, want)
		}
		if got, want := *r.P99, 5.0/4; math.Abs(got-want) > 1e-12 {
			t.Errorf("p99 ratio = %v, want %v", got, want)
		}
		if rep.OK != tt.wantOK {
			t.Errorf("-min-ratio %v: ok = %v, want %v (%s)", tt.minRatio, rep.OK, tt.wantOK, rep.Failure)
		}
	}

	gw.rounds[1].Errors = 2
	gw.rounds[1].FirstError = "boom"
	if rep := buildReport(&options{}, []*armProc{proxy, gw}, 0); rep.OK || rep.Errors != 2 {
		t.Errorf("failed requests: ok = %v, errors = %d; want a failed report with 2 errors", rep.OK, rep.Errors)
	}
}

func TestParseVmHWM(t *testing.T) {
	for _, tt := range []struct {
		status string
		want   int64
		err    bool
	}{
		{"Name:\tmcpgate\nVmPeak:\t  99 kB\nVmHWM:\t   18124 kB\nVmRSS:\t 1 kB\n", 18124 << 10, false},
		{"Name:\tx\n", 0, true},
		{"VmHWM:\t12 MB\n", 0, true},
	} {
		got, err := parseVmHWM(tt.status)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseVmHWM(%q) = %v, %v; want %v, error %v", tt.status, got, err, tt.want, tt.err)
		}
	}
}

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    time.Duration
		wantErr bool
	}{
		{"plain", "1234 (mcpgate) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 8 0 100 0 0", 3250 * time.Millisecond, false},
		{"name with spaces and parens", "99 (a (b) c) R 1 2 3 4 5 6 7 8 9 10 7 3 0 0", 100 * time.Millisecond, false},
		{"truncated", "99 (x) R 1 2 3", 0, true},
		{"no name", "99 x R", 0, true},
		{"not a number", "99 (x) R 1 2 3 4 5 6 7 8 9 10 a 3", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU(tt.stat)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("parseStatCPU = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
