package gateway

import (
	"net/http"
	"slices"
)

// A Stage is one named step of the request path.
type Stage struct {
	Name string
	Wrap func(http.Handler) http.Handler
}

// Chain wraps final in stages, the first stage outermost: it sees the
// request first and the response last.
func Chain(final http.Handler, stages ...Stage) http.Handler {
	h := final
	for _, s := range slices.Backward(stages) {
		h = s.Wrap(h)
	}
	return h
}

// StageNames lists the names of stages in order.
func StageNames(stages []Stage) []string {
	names := make([]string, len(stages))
	for i, s := range stages {
		names[i] = s.Name
	}
	return names
}
