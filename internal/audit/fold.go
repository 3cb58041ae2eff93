package audit

import (
	"sync"
	"sync/atomic"
	"time"
)

// KindRejectedSummary is the event that stands for the rejected events
// folded in one window: their reason (error.type), how many (folded), and
// the window (since … time).
const KindRejectedSummary Kind = "rejected_summary"

// DefaultRejectedPerSecond is Options.RejectedPerSecond's default.
const DefaultRejectedPerSecond = 20

// foldWindow is the period over which rejections are counted against
// RejectedPerSecond.
const foldWindow = time.Second

// folder limits the rejected events written per reason. A request the
// gateway refuses before admitting it (no or a bad credential, a malformed
// body, a disallowed Origin) costs an attacker one unauthenticated request
// and cost the log a full event: a flood of 401s wrote about 2.5 MB/s. Per
// reason and window, the first perWindow rejections are written in full;
// the rest are folded into one summary event, written when the window has
// passed (by the writer's tick, or by the next rejection of that reason,
// whichever comes first) and at Close. Every folded rejection is counted
// (Logger.Folded). Only rejections are ever folded: events of admitted
// requests are always written.
type folder struct {
	perWindow int // 0: never fold
	window    time.Duration
	now       func() time.Time

	mu       sync.Mutex
	byReason map[string]*foldState // reasons are the record.Reason* constants: a small set
	total    atomic.Int64
}

// foldState is one reason's current window.
type foldState struct {
	start   time.Time
	written int
	folded  int64
	// What the summary says about the folded events: the outcome of
	// their reason, and the last one's HTTP method and status.
	outcome Outcome
	http    HTTP
}

func newFolder(perWindow int, now func() time.Time) *folder {
	if now == nil {
		now = time.Now
	}
	return &folder{perWindow: perWindow, window: foldWindow, now: now, byReason: map[string]*foldState{}}
}

// admit decides whether the rejected event e (whose error.type is its
// reason) is written. When it is not, it has been counted for the summary.
// A summary of the reason's previous window, if that window has ended with
// folded events, is returned for the caller to log.
func (f *folder) admit(e *Event) (write bool, summary *Event) {
	if f.perWindow <= 0 || e.Error == nil {
		return true, nil
	}
	reason := e.Error.Type
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.byReason[reason]
	if s == nil {
		s = &foldState{start: now}
		f.byReason[reason] = s
	}
	if now.Sub(s.start) >= f.window {
		summary = s.summary(reason, now)
		*s = foldState{start: now}
	}
	if s.written < f.perWindow {
		s.written++
		return true, summary
	}
	s.folded++
	s.outcome, s.http = e.Outcome, e.HTTP
	f.total.Add(1)
	return false, summary
}

// expired returns the summaries of the windows that have ended with folded
// events (all windows when all is set: at Close), and starts those reasons
// afresh.
func (f *folder) expired(all bool) []*Event {
	if f.perWindow <= 0 {
		return nil
	}
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*Event
	for reason, s := range f.byReason {
		if !all && now.Sub(s.start) < f.window {
			continue
		}
		if e := s.summary(reason, now); e != nil {
			out = append(out, e)
		}
		// Forget the reason: the map holds only reasons active in the
		// last window.
		delete(f.byReason, reason)
	}
	return out
}

// summary is the event for s's folded rejections, or nil when none were.
func (s *foldState) summary(reason string, now time.Time) *Event {
	if s.folded == 0 {
		return nil
	}
	end := s.start.Add(foldWindow)
	if now.Before(end) {
		end = now // at Close, mid-window
	}
	return &Event{
		Time:    end,
		Event:   KindRejectedSummary,
		Outcome: s.outcome,
		HTTP:    s.http,
		Error:   &Error{Type: reason},
		Folded:  s.folded,
		Since:   s.start,
	}
}
