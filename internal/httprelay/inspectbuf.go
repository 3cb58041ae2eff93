package httprelay

import "sync"

// inspectBufs holds the buffers a jsonWatcher keeps a response in until it
// is parsed. Without them a 64 KiB response cost about 110 KiB of garbage
// (append's doublings), more than everything else the relay allocates for
// it; nothing the parse leaves behind points into the buffer (the record,
// the catalog and the advertised versions copy what they keep), so it is
// reused as soon as the response is noted.
var inspectBufs sync.Pool

// maxPooledInspect bounds the buffers kept for reuse: larger ones (a
// MaxInspect raised far above the default) are left to the collector
// rather than held by the pool.
const maxPooledInspect = 1 << 20

// getInspectBuf returns a buffer, preferably one used before, by the
// pointer it goes back into the pool by (a pointer, so that giving it back
// allocates nothing).
func getInspectBuf() *[]byte {
	if p, ok := inspectBufs.Get().(*[]byte); ok {
		return p
	}
	return new([]byte)
}

// putInspectBuf gives b back for reuse through p, the pointer it came with.
func putInspectBuf(p *[]byte, b []byte) {
	if p == nil || cap(b) > maxPooledInspect {
		return
	}
	*p = b[:0]
	inspectBufs.Put(p)
}

// appendBounded is append(buf, p...) for a buffer that never holds more
// than limit bytes (the caller checks): it grows by doubling, but never past
// limit, so that a buffer grown to it still fits the pool
// (maxPooledInspect) instead of being regrown for every large response.
func appendBounded(buf, p []byte, limit int) []byte {
	need := len(buf) + len(p)
	if need > cap(buf) {
		c := max(2*cap(buf), need, 4<<10)
		c = min(c, limit)
		nb := make([]byte, len(buf), c)
		copy(nb, buf)
		buf = nb
	}
	return append(buf, p...)
}
