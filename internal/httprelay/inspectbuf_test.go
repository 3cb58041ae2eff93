package httprelay

import (
	"bytes"
	"testing"
)

func TestAppendBounded(t *testing.T) {
	tests := []struct {
		name   string
		chunks []int // sizes appended in turn
		limit  int
	}{
		{"small", []int{10, 20}, 1 << 20},
		{"up to the limit exactly", []int{32 << 10, 32 << 10, 32 << 10, 32 << 10, 1 << 10}, 129 << 10},
		{"default limit, 64 KiB reads", []int{1 << 16, 1 << 16, 1 << 16, 1 << 16, 1 << 16, 1 << 16, 1 << 16, 1 << 16, 1 << 16, 1 << 16, 1 << 16, 1 << 16, 1 << 16, 1 << 16, 1 << 16, 1 << 16}, 1 << 20},
		{"one read of the limit", []int{1 << 20}, 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf, want []byte
			for i, n := range tt.chunks {
				p := bytes.Repeat([]byte{byte('a' + i)}, n)
				buf = appendBounded(buf, p, tt.limit)
				want = append(want, p...)
				if cap(buf) > tt.limit {
					t.Fatalf("after %d bytes: capacity %d over the limit %d", len(buf), cap(buf), tt.limit)
				}
			}
			if !bytes.Equal(buf, want) {
				t.Errorf("content differs from append's")
			}
		})
	}
}
