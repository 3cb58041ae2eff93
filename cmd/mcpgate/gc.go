package main

import "runtime/debug"

// defaultGCPercent is the garbage collector's target when GOGC is not set.
// Go's default, 100, starts a collection whenever the heap has grown by its
// live size. A gateway's live heap is small (a few MiB) and nearly all it
// allocates is per-request garbage, so at 100 it collects tens of times a
// second under load. At 200 it collects half as often: in the load
// benchmark that took about a tenth off the traced relay's CPU per request
// for about 5 MiB more peak RSS (docs/operations.md). GOGC and GOMEMLIMIT
// set in the environment still win.
const defaultGCPercent = 200

// tuneGC applies defaultGCPercent unless the operator chose a GOGC.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}
