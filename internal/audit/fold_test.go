package audit

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/record"
)

// fakeClock is an injectable clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func rejectedRec(reason record.Reason, status int) *record.Record {
	return &record.Record{Start: clock(), HTTPMethod: http.MethodPost, Status: status, Reason: reason, ClientAddr: "192.0.2.1"}
}

func admittedRec(id string) *record.Record {
	rec := &record.Record{Start: clock(), HTTPMethod: http.MethodPost, Status: 200, Backend: "b"}
	rec.Ops = append(rec.Ops, answeredOK(toolCall(id, "echo")))
	return rec
}

// TestFoldRejected (issue 13 item 7): under a flood, per reason and
// second the first RejectedPerSecond rejected events are written in full
// and the rest folded into one rejected_summary per window, counted; a
// window's summary is written by the next rejection after it, or at
// Close; events of admitted requests are never folded.
func TestFoldRejected(t *testing.T) {
	type step struct {
		advance time.Duration
		reason  record.Reason // "" = an admitted request
		n       int
	}
	tests := []struct {
		name       string
		perSecond  int
		steps      []step
		wantFull   map[record.Reason]int // rejected events written in full, by reason
		wantFolded []int64               // the summaries' folded counts, in order
		wantOK     int                   // events of admitted requests
	}{{
		name:      "below the limit: every event",
		perSecond: 5,
		steps:     []step{{reason: record.ReasonUnauthenticated, n: 5}},
		wantFull:  map[record.Reason]int{record.ReasonUnauthenticated: 5},
	}, {
		name:       "a flood: 5 written, the rest in a summary at Close",
		perSecond:  5,
		steps:      []step{{reason: record.ReasonUnauthenticated, n: 1000}},
		wantFull:   map[record.Reason]int{record.ReasonUnauthenticated: 5},
		wantFolded: []int64{995},
	}, {
		name:      "a window later: the summary, then 5 more in full",
		perSecond: 5,
		steps: []step{
			{reason: record.ReasonUnauthenticated, n: 100},
			{advance: time.Second, reason: record.ReasonUnauthenticated, n: 7},
		},
		wantFull:   map[record.Reason]int{record.ReasonUnauthenticated: 10},
		wantFolded: []int64{95, 2},
	}, {
		name:      "reasons are limited separately",
		perSecond: 3,
		steps: []step{
			{reason: record.ReasonUnauthenticated, n: 10},
			{reason: record.ReasonParseError, n: 2},
		},
		wantFull:   map[record.Reason]int{record.ReasonUnauthenticated: 3, record.ReasonParseError: 2},
		wantFolded: []int64{7},
	}, {
		name:      "admitted requests are never folded, whatever the flood",
		perSecond: 2,
		steps: []step{
			{reason: record.ReasonUnauthenticated, n: 50},
			{reason: "", n: 300},
		},
		wantFull:   map[record.Reason]int{record.ReasonUnauthenticated: 2},
		wantFolded: []int64{48},
		wantOK:     300,
	}, {
		name:      "folding off: every event",
		perSecond: -1,
		steps:     []step{{reason: record.ReasonUnauthenticated, n: 200}},
		wantFull:  map[record.Reason]int{record.ReasonUnauthenticated: 200},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{t: clock()}
			l, events := newMemLogger(t, Options{RejectedPerSecond: tc.perSecond, Now: clk.now, QueueSize: 100000})
			r, err := l.Reporter(ReportOptions{Now: clk.now})
			if err != nil {
				t.Fatal(err)
			}
			var wantFoldedTotal int64
			for _, n := range tc.wantFolded {
				wantFoldedTotal += n
			}
			for _, s := range tc.steps {
				clk.add(s.advance)
				for i := range s.n {
					if s.reason == "" {
						r.Report(context.Background(), admittedRec(strconv.Itoa(i+1)))
					} else {
						r.Report(context.Background(), rejectedRec(s.reason, http.StatusUnauthorized))
					}
				}
			}
			if got := l.Folded(); got != wantFoldedTotal {
				t.Errorf("Folded() = %d, want %d", got, wantFoldedTotal)
			}
			_, evs := events() // Close writes the last summaries
			full := map[record.Reason]int{}
			var folded []int64
			ok := 0
			for _, e := range evs {
				switch e["event"] {
				case string(KindRejected):
					full[record.Reason(get(e, "error", "type").(string))]++
				case string(KindRejectedSummary):
					folded = append(folded, int64(e["folded"].(float64)))
					if get(e, "error", "type") != string(record.ReasonUnauthenticated) || e["outcome"] != string(OutcomeDenied) ||
						get(e, "http", "status") != float64(http.StatusUnauthorized) {
						t.Errorf("summary %v: want error.type unauthenticated, outcome denied, status 401", e)
					}
				case string(KindToolCall):
					ok++
				}
			}
			if len(full) != len(tc.wantFull) {
				t.Errorf("full events %v, want %v", full, tc.wantFull)
			}
			for k, n := range tc.wantFull {
				if full[k] != n {
					t.Errorf("full events %v, want %v", full, tc.wantFull)
				}
			}
			if len(folded) != len(tc.wantFolded) {
				t.Fatalf("summaries folded %v, want %v", folded, tc.wantFolded)
			}
			for i := range folded {
				if folded[i] != tc.wantFolded[i] {
					t.Errorf("summaries folded %v, want %v", folded, tc.wantFolded)
				}
			}
			if ok != tc.wantOK {
				t.Errorf("%d events of admitted requests, want %d", ok, tc.wantOK)
			}
		})
	}
}

// TestFoldSummaryWindow: a summary names its window — since its first
// event, time one window later — and a quiet reason's window is written
// out by the writer's tick, not only at Close.
func TestFoldSummaryWindow(t *testing.T) {
	clk := &fakeClock{t: clock()}
	l, events := newMemLogger(t, Options{RejectedPerSecond: 1, Now: clk.now})
	r, err := l.Reporter(ReportOptions{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	start := clk.now()
	for range 4 {
		r.Report(context.Background(), rejectedRec(record.ReasonOriginRejected, http.StatusForbidden))
	}
	clk.add(3 * time.Second) // the window has ended; no rejection follows
	// The writer's tick (every second of real time) writes the summary.
	w := l.opts.Writer.(*memWriter)
	waitFor(t, "the tick's summary", func() bool { return len(parseLines(t, w.String())) == 2 })
	_, evs := events()
	if len(evs) != 2 {
		t.Fatalf("%d events, want the one in full and the summary: %v", len(evs), evs)
	}
	s := evs[1]
	since, _ := time.Parse(time.RFC3339Nano, s["since"].(string))
	end, _ := time.Parse(time.RFC3339Nano, s["time"].(string))
	if s["event"] != string(KindRejectedSummary) || s["folded"] != float64(3) || !since.Equal(start) || !end.Equal(start.Add(time.Second)) {
		t.Errorf("summary %v, want 3 folded from %v to %v", s, start, start.Add(time.Second))
	}
}
