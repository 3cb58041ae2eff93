package mcpwire

import (
	"encoding/json"
	"slices"
	"sync/atomic"
)

// Advertised holds the revisions a relayed backend lists as supportedVersions
// in its server/discover results, for the gateway's own -32022 errors.
// Through a transparent relay the server a client sees is the backend: the
// revisions such an error offers must be ones that server's server/discover
// lists (SEP-2575), and ones the gateway knows, because it answers every
// other revision itself rather than pass on what it cannot inspect.
//
// It learns passively, from the results the relay carries to clients. The
// gateway does not probe: a request of its own would reach the backend on
// nobody's behalf (unattributed, unaudited, a child started for it under
// stdio session isolation), for an error path that, until a client has
// discovered the backend, has the gateway's own list to fall back on.
//
// Safe for concurrent use. The zero value, and a nil *Advertised, have seen
// no result.
type Advertised struct {
	// known is a bit set over Versions (bit i: Versions[i]): the revisions
	// of the last result that the gateway knows. 0 until one names any.
	known atomic.Uint32
}

// LearnDiscover notes result, the JSON "result" member of a server/discover
// response the backend sent. The last result read counts, so a backend
// redeployed with fewer revisions stops being offered the old ones. A result
// whose supportedVersions is missing or not an array of strings changes
// nothing; one that names no revision the gateway knows forgets what was
// learned, since there is then no revision the two share to offer instead.
func (a *Advertised) LearnDiscover(result []byte) {
	if a == nil {
		return
	}
	// Members by their exact name, the last of duplicates winning, as a
	// client's JSON.parse reads them (encoding/json's struct fields would
	// also match "SupportedVersions", which no client reads).
	var members map[string]json.RawMessage
	if json.Unmarshal(result, &members) != nil {
		return
	}
	raw, ok := members["supportedVersions"]
	if !ok {
		return
	}
	var listed []string
	if json.Unmarshal(raw, &listed) != nil || listed == nil {
		return
	}
	var set uint32
	for _, v := range listed {
		if i := slices.Index(Versions, v); i >= 0 {
			set |= 1 << i
		}
	}
	a.known.Store(set)
}

// Supported returns the revisions a -32022 error lists, newest first: the
// known revisions the backend last advertised, or every revision the
// gateway knows while it has advertised none.
func (a *Advertised) Supported() []string {
	var set uint32
	if a != nil {
		set = a.known.Load()
	}
	out := make([]string, 0, len(Versions))
	for i := len(Versions) - 1; i >= 0; i-- {
		if set == 0 || set&(1<<i) != 0 {
			out = append(out, Versions[i])
		}
	}
	return out
}
