package stdiorelay

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	type step struct {
		op       string        // "fail", "reset" or "advance"
		d        time.Duration // for advance
		wantWait time.Duration // wait() after the step
	}
	tests := []struct {
		name         string
		initial, max time.Duration
		steps        []step
	}{
		{"doubles up to the cap", 100 * time.Millisecond, time.Second, []step{
			{"fail", 0, 100 * time.Millisecond},
			{"fail", 0, 200 * time.Millisecond},
			{"fail", 0, 400 * time.Millisecond},
			{"fail", 0, 800 * time.Millisecond},
			{"fail", 0, time.Second},
			{"fail", 0, time.Second},
		}},
		{"wait shrinks as time passes", time.Second, 10 * time.Second, []step{
			{"fail", 0, time.Second},
			{"advance", 300 * time.Millisecond, 700 * time.Millisecond},
			{"advance", time.Second, 0},
			{"fail", 0, 2 * time.Second},
		}},
		{"reset starts over", time.Second, time.Minute, []step{
			{"fail", 0, time.Second},
			{"fail", 0, 2 * time.Second},
			{"reset", 0, 0},
			{"fail", 0, time.Second},
		}},
		{"defaults", 0, 0, []step{
			{"fail", 0, 500 * time.Millisecond},
		}},
		{"cap below initial is raised to it", time.Minute, time.Second, []step{
			{"fail", 0, time.Minute},
			{"fail", 0, time.Minute},
		}},
		{"no cap given keeps a long initial", time.Minute, 0, []step{
			{"fail", 0, time.Minute},
		}},
		// Doubling 31 times overflows int64 nanoseconds; for this initial
		// value a shift wraps to about a second. The wait must stay capped.
		{"many failures do not overflow", 1<<34 + time.Microsecond, time.Hour, append(repeat(step{"fail", 0, 0}, 40),
			step{"advance", 0, time.Hour})},
		{"many failures, round values", 10 * time.Second, time.Hour, append(repeat(step{"fail", 0, 0}, 70),
			step{"advance", 0, time.Hour})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1_700_000_000, 0)
			b := newBackoff(tc.initial, tc.max)
			b.now = func() time.Time { return now }
			if w := b.wait(); w != 0 {
				t.Fatalf("fresh wait() = %v", w)
			}
			for i, st := range tc.steps {
				switch st.op {
				case "fail":
					b.failed()
				case "reset":
					b.reset()
				case "advance":
					now = now.Add(st.d)
				}
				if st.op == "fail" && st.wantWait == 0 {
					continue // not checked
				}
				if w := b.wait(); w != st.wantWait {
					t.Fatalf("step %d (%s): wait() = %v, want %v", i, st.op, w, st.wantWait)
				}
			}
		})
	}
}

func repeat[T any](v T, n int) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = v
	}
	return s
}
