package sse

import (
	"bytes"
	"io"
	"slices"
	"testing"
)

// TestFeederMatchesReader checks that a stream fed in pieces of every size
// gives the events a Reader gives for it whole.
func TestFeederMatchesReader(t *testing.T) {
	tests := []struct {
		name   string
		stream string
		max    int
	}{
		{"two events", "event: message\ndata: {\"a\":1}\n\ndata: x\ndata: y\n\n", 0},
		{"CRLF and CR line ends", "data: a\r\n\r\ndata: b\r\rdata: c\n\n", 0},
		{"comments and ids", ": keep-alive\n\nid: 7\ndata: z\n\n", 0},
		{"event outgrowing the bound", "data: " + string(bytes.Repeat([]byte("x"), 100)) + "\n\ndata: small\n\n", 32},
		{"unterminated tail", "data: a\n\ndata: b", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := feedRef(t, NewReader(bytes.NewReader([]byte(tc.stream)), tc.max))
			for size := 1; size <= len(tc.stream); size++ {
				f := NewFeeder(tc.max)
				var got []string
				for p := []byte(tc.stream); len(p) > 0; {
					n := min(size, len(p))
					f.Feed(p[:n], func(ev *Event) {
						if ev.Dispatched() && !ev.Truncated {
							got = append(got, string(ev.Data))
						}
					})
					p = p[n:]
				}
				if !slices.Equal(got, want) {
					t.Fatalf("pieces of %d: events %q, want %q", size, got, want)
				}
			}
		})
	}
}

func feedRef(t *testing.T, r *Reader) []string {
	t.Helper()
	var out []string
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Dispatched() && !ev.Truncated {
			out = append(out, string(ev.Data))
		}
	}
}
