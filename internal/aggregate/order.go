package aggregate

import (
	"bytes"
	"context"
	"io"
	"mime"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The SDK's client hands a backend's notifications to their handlers on a
// goroutine of their own, in the order read, but gives a call's response
// to the caller as soon as it is read: the response can overtake the
// progress and log notifications the backend sent before it, and the
// client would get them after the result, or not at all once the call's
// stream is closed. A noteFence restores the order: it counts the
// relayed notifications as the SDK reads them off the wire (below the
// SDK, where the order is the backend's), counts them again once their
// handler has forwarded them, and a call, once answered, waits until the
// second count has caught up with what the first was when the answer
// came. The first count may include notifications read after the answer
// on another stream; waiting for those too only waits for handlers that
// are already queued.
type noteFence struct {
	read atomic.Int64 // relayed notifications read off the wire

	mu      sync.Mutex
	handled int64
	changed chan struct{} // closed, and replaced, when handled grows
}

// fenceMarkers are relayed notifications on the wire. Inside a JSON
// string every quote is escaped, so these bytes occur only as a message's
// (or a nested object's) member: a nested one overcounts, which costs the
// call at most fenceWait; a backend that puts whitespace around the colon
// is not fenced (the order is then as without the fence).
var fenceMarkers = [][]byte{
	[]byte(`"method":"notifications/progress"`),
	[]byte(`"method":"notifications/message"`),
}

// fenceWait bounds the wait: a counted notification the SDK refuses
// before its handler (a malformed one) is never handled.
const fenceWait = time.Second

func newNoteFence() *noteFence { return &noteFence{changed: make(chan struct{})} }

// middleware is the SDK client's receiving middleware that counts a relayed
// notification once its handler has returned.
func (f *noteFence) middleware(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		res, err := next(ctx, method, req)
		if method == "notifications/progress" || method == "notifications/message" {
			f.mu.Lock()
			f.handled++
			close(f.changed)
			f.changed = make(chan struct{})
			f.mu.Unlock()
		}
		return res, err
	}
}

// wait returns once every relayed notification read so far has been
// handled, ctx is done, or fenceWait has passed.
func (f *noteFence) wait(ctx context.Context) {
	target := f.read.Load()
	var timer *time.Timer
	for {
		f.mu.Lock()
		done, ch := f.handled >= target, f.changed
		f.mu.Unlock()
		if done {
			return
		}
		if timer == nil {
			timer = time.NewTimer(fenceWait)
			defer timer.Stop()
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return
		case <-timer.C:
			return
		}
	}
}

// fenceReader counts the markers in what it reads; tail keeps the end of
// the previous read, for a marker split across two reads.
type fenceReader struct {
	r    io.Reader
	f    *noteFence
	tail []byte
}

// maxMarker is the longest marker's length.
var maxMarker = func() int {
	n := 0
	for _, m := range fenceMarkers {
		n = max(n, len(m))
	}
	return n
}()

func (r *fenceReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.f.read.Add(int64(r.scan(p[:n])))
	}
	return n, err
}

// scan counts the markers that end in p (those in the tail and p
// together, less those wholly in the tail, counted before) and keeps the
// new tail.
func (r *fenceReader) scan(p []byte) int {
	n := 0
	for _, m := range fenceMarkers {
		n -= bytes.Count(r.tail, m)
	}
	buf := append(r.tail, p...)
	for _, m := range fenceMarkers {
		n += bytes.Count(buf, m)
	}
	keep := min(len(buf), maxMarker-1)
	r.tail = append(r.tail[:0], buf[len(buf)-keep:]...)
	return n
}

// fenceBody is an HTTP response body read through a fenceReader.
type fenceBody struct {
	fenceReader
	c io.Closer
}

func (b *fenceBody) Close() error { return b.c.Close() }

// fenceTransport counts the relayed notifications on a backend's event
// streams (a JSON response holds only the response).
type fenceTransport struct {
	base http.RoundTripper
	f    *noteFence
}

func (t *fenceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/event-stream" {
		resp.Body = &fenceBody{fenceReader: fenceReader{r: resp.Body, f: t.f}, c: resp.Body}
	}
	return resp, nil
}
