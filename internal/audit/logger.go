package audit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Fsync is when the file sink forces written events to disk.
type Fsync string

const (
	// FsyncNever leaves write-back to the kernel: events survive a crash
	// of the gateway but not of the machine.
	FsyncNever Fsync = "never"
	// FsyncAlways fsyncs after every batch the writer drains from the
	// queue (group commit): the most durable, and the slowest sink.
	FsyncAlways Fsync = "always"
	// FsyncInterval fsyncs at most every FsyncInterval while there are
	// unsynced writes: a machine crash loses at most that much.
	FsyncInterval Fsync = "interval"
)

// SinkStdout is the Options.Sink value that writes to standard output.
const SinkStdout = "stdout"

// Options configure a Logger. Zero fields take the defaults noted.
type Options struct {
	// Sink is a file path, opened O_APPEND|O_CREATE with mode 0600 (its
	// directory must exist), or SinkStdout. Ignored when Writer is set.
	Sink string
	// Writer, when set, receives the events instead of Sink (tests,
	// embedding). It is synced when it has a Sync() error method and
	// closed by Close when it is an io.Closer; Reopen leaves it alone.
	Writer io.Writer
	// Stdout is the writer of SinkStdout; nil means os.Stdout.
	Stdout io.Writer
	// FailClosed makes Guard answer 503 while the sink is unhealthy.
	FailClosed bool
	// Fsync is the file sink's fsync policy; "" means FsyncInterval.
	Fsync Fsync
	// FsyncInterval is FsyncInterval's period; 0 means one second.
	FsyncInterval time.Duration
	// QueueSize bounds the events waiting for the writer; 0 means 10000.
	QueueSize int
	// Logger receives the logger's own problems (rate-limited); nil means
	// slog.Default().
	Logger *slog.Logger
	// RejectedPerSecond is how many rejected events of one reason are
	// written per second; past it they are folded into one
	// rejected_summary event per reason and second (fold.go). 0 means
	// DefaultRejectedPerSecond; negative means every one is written.
	RejectedPerSecond int
	// Now is the clock of the folding windows; nil means time.Now.
	Now func() time.Time
}

// Logger writes events to one sink through a bounded queue. Its methods are
// safe for concurrent use.
type Logger struct {
	opts  Options
	log   *slog.Logger
	queue chan *buffer

	// mu orders Log against Close: Log holds it shared while it enqueues,
	// so that nothing is enqueued after the writer's final drain.
	mu     sync.RWMutex
	closed bool

	reopen chan chan error
	stop   chan struct{}
	done   chan struct{}
	closeE error // the writer's final error, read after done

	dropped atomic.Int64 // queue full (or closed)
	lost    atomic.Int64 // dequeued but not written: the sink failed
	errs    atomic.Int64 // failed sink operations
	lastErr atomic.Pointer[error]

	limiter rateLimiter
	fold    *folder
}

// ErrQueueFull is what Healthy reports while the queue is full.
var ErrQueueFull = errors.New("audit queue full: the sink is not keeping up")

// ErrClosed is what Healthy reports after Close.
var ErrClosed = errors.New("audit log closed")

// New opens the sink and starts the writer. A file sink that cannot be
// opened is an error: the gateway should not start without its audit log.
func New(opts Options) (*Logger, error) {
	if opts.Fsync == "" {
		opts.Fsync = FsyncInterval
	}
	switch opts.Fsync {
	case FsyncNever, FsyncAlways, FsyncInterval:
	default:
		return nil, fmt.Errorf("audit: unknown fsync policy %q", opts.Fsync)
	}
	if opts.FsyncInterval <= 0 {
		opts.FsyncInterval = time.Second
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 10000
	}
	if opts.RejectedPerSecond == 0 {
		opts.RejectedPerSecond = DefaultRejectedPerSecond
	}
	l := &Logger{
		opts:   opts,
		log:    opts.Logger,
		queue:  make(chan *buffer, opts.QueueSize),
		reopen: make(chan chan error),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		fold:   newFolder(max(opts.RejectedPerSecond, 0), opts.Now),
	}
	if l.log == nil {
		l.log = slog.Default()
	}
	s, err := openSink(&opts, l.log)
	if err != nil {
		return nil, err
	}
	go l.run(s)
	return l, nil
}

// Log queues e. It never blocks: when the queue is full, e is dropped and
// counted (Dropped).
func (l *Logger) Log(e *Event) {
	buf := getBuffer()
	buf.b = e.AppendJSON(buf.b[:0])
	l.enqueue(buf)
}

// logRejected logs e, an event of a request the gateway rejected before
// admitting it, unless it is folded (fold.go); a summary of folded events
// due is logged first.
func (l *Logger) logRejected(e *Event) {
	write, summary := l.fold.admit(e)
	if summary != nil {
		l.Log(summary)
	}
	if write {
		l.Log(e)
	}
}

// Folded is the number of rejected events folded into rejected_summary
// events instead of being written in full.
func (l *Logger) Folded() int64 { return l.fold.total.Load() }

func (l *Logger) enqueue(buf *buffer) {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		putBuffer(buf)
		l.drop("the audit log is closed")
		return
	}
	select {
	case l.queue <- buf:
		l.mu.RUnlock()
	default:
		l.mu.RUnlock()
		putBuffer(buf)
		l.drop("the audit queue is full")
	}
}

func (l *Logger) drop(why string) {
	n := l.dropped.Add(1)
	if l.limiter.allow() {
		l.log.Warn("audit event dropped", "reason", why, "dropped_total", n)
	}
}

// Dropped is the number of events dropped because the queue was full (or
// the logger closed).
func (l *Logger) Dropped() int64 { return l.dropped.Load() }

// Lost is the number of events taken from the queue that the sink failed
// to store.
func (l *Logger) Lost() int64 { return l.lost.Load() }

// Errors is the number of failed sink operations (open, write, flush,
// fsync, close).
func (l *Logger) Errors() int64 { return l.errs.Load() }

// Healthy reports why the log cannot currently record events: the last
// sink operation failed (cleared by the next successful write), the queue
// is full, or the logger is closed. nil means healthy.
func (l *Logger) Healthy() error {
	if p := l.lastErr.Load(); p != nil {
		return *p
	}
	if len(l.queue) >= cap(l.queue) {
		return ErrQueueFull
	}
	select {
	case <-l.stop:
		return ErrClosed
	default:
	}
	return nil
}

// FailClosed reports whether Guard refuses requests while unhealthy.
func (l *Logger) FailClosed() bool { return l.opts.FailClosed }

// Reopen closes the file and opens the path again (SIGHUP, after a log
// rotator renamed it). Events already written go to the old file, queued
// ones to the new; none are lost. A stdout or Writer sink is left alone.
func (l *Logger) Reopen() error {
	reply := make(chan error, 1)
	select {
	case l.reopen <- reply:
	case <-l.done:
		return ErrClosed
	}
	select {
	case err := <-reply:
		return err
	case <-l.done:
		return ErrClosed
	}
}

// Close stops accepting events, writes out the queue, flushes and syncs,
// and closes the sink. It returns early with ctx's error if ctx ends first;
// the writer finishes in the background.
func (l *Logger) Close(ctx context.Context) error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.stop)
	}
	l.mu.Unlock()
	select {
	case <-l.done:
		return l.closeE
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run is the writer goroutine: the only one that touches the sink.
func (l *Logger) run(s sink) {
	defer close(l.done)
	w := &writer{l: l, s: s}
	w.bw = bufio.NewWriterSize(sinkWriter{w}, 64<<10)
	var tick, foldTick <-chan time.Time
	if l.opts.Fsync == FsyncInterval {
		t := time.NewTicker(l.opts.FsyncInterval)
		defer t.Stop()
		tick = t.C
	}
	if l.fold.perWindow > 0 {
		// Writes the summaries of windows that ended without another
		// rejection of their reason to write them.
		t := time.NewTicker(l.fold.window)
		defer t.Stop()
		foldTick = t.C
	}
	summaries := func(all bool) {
		for _, e := range l.fold.expired(all) {
			buf := getBuffer()
			buf.b = e.AppendJSON(buf.b[:0])
			w.write(buf)
		}
	}
	// drain writes every event already queued, without waiting for more.
	drain := func() {
		for {
			select {
			case buf := <-l.queue:
				w.write(buf)
			default:
				return
			}
		}
	}
	for {
		select {
		case buf := <-l.queue:
			w.write(buf)
			// Drain what else is waiting, then write it out as one batch.
			drain()
			w.flush()
			if l.opts.Fsync == FsyncAlways {
				w.sync()
			}
		case <-tick:
			if w.dirty {
				w.sync()
			}
		case <-foldTick:
			summaries(false)
			w.flush()
		case reply := <-l.reopen:
			reply <- w.reopen()
		case <-l.stop:
			// Log no longer enqueues (closed is set under mu), so this
			// drain is final; then the folded events' summaries, so that
			// no count is lost at shutdown.
			drain()
			summaries(true)
			w.flush()
			if l.opts.Fsync != FsyncNever {
				w.sync()
			}
			l.closeE = w.close()
			return
		}
	}
}

// fail records a sink failure.
func (l *Logger) fail(op string, err error) error {
	err = fmt.Errorf("audit sink %s: %w", op, err)
	l.errs.Add(1)
	l.lastErr.Store(&err)
	if l.limiter.allow() {
		l.log.Error("audit sink failing", "error", err, "errors_total", l.errs.Load(),
			"lost_total", l.lost.Load(), "dropped_total", l.dropped.Load())
	}
	return err
}

func (l *Logger) ok() {
	if l.lastErr.Load() != nil {
		l.lastErr.Store(nil)
		l.log.Info("audit sink recovered")
	}
}

// writer is the goroutine's state.
type writer struct {
	l     *Logger
	s     sink // nil after a failed reopen until an open succeeds
	bw    *bufio.Writer
	n     int  // events in bw
	dirty bool // written since the last sync
	// partial is set when a failed write left part of a line in the
	// sink: the next write starts with a newline, so that only that one
	// line is damaged.
	partial bool
}

func (w *writer) write(buf *buffer) {
	if w.n > 0 && len(buf.b) > w.bw.Available() {
		w.flush()
	}
	_, _ = w.bw.Write(buf.b)
	w.n++
	putBuffer(buf)
}

// flush writes the buffered events to the sink. On failure they are lost
// (counted), and the buffer is reset so that the next batch tries again.
func (w *writer) flush() {
	if w.n == 0 {
		return
	}
	n := w.n
	w.n = 0
	if w.s == nil {
		if err := w.open(); err != nil {
			w.l.lost.Add(int64(n))
			w.bw.Reset(sinkWriter{w})
			return
		}
	}
	if w.partial {
		if _, err := w.s.Write([]byte{'\n'}); err == nil {
			w.partial = false
		}
	}
	if err := w.bw.Flush(); err != nil {
		w.l.lost.Add(int64(n))
		w.bw.Reset(sinkWriter{w})
		_ = w.l.fail("write", err)
		return
	}
	w.dirty = true
	if w.l.opts.Fsync != FsyncAlways {
		w.l.ok() // with FsyncAlways, the sync that follows decides
	}
}

func (w *writer) sync() {
	w.dirty = false
	if w.s == nil {
		return
	}
	if err := w.s.Sync(); err != nil {
		_ = w.l.fail("fsync", err)
		return
	}
	w.l.ok()
}

func (w *writer) open() error {
	s, err := openSink(&w.l.opts, w.l.log)
	if err != nil {
		return w.l.fail("open", err)
	}
	w.s = s
	return nil
}

func (w *writer) reopen() error {
	if w.s != nil && !w.s.reopens() {
		return nil
	}
	w.flush()
	if w.dirty && w.l.opts.Fsync != FsyncNever {
		w.sync()
	}
	if w.s != nil {
		if err := w.s.Close(); err != nil {
			_ = w.l.fail("close", err)
		}
		w.s = nil
	}
	if err := w.open(); err != nil {
		return err
	}
	w.l.ok()
	return nil
}

func (w *writer) close() error {
	if w.s == nil {
		return w.l.lastErrValue()
	}
	err := w.s.Close()
	w.s = nil
	if err != nil {
		return w.l.fail("close", err)
	}
	return nil
}

func (l *Logger) lastErrValue() error {
	if p := l.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// sinkWriter lets the bufio.Writer outlive the sink across reopens.
type sinkWriter struct{ w *writer }

func (s sinkWriter) Write(p []byte) (int, error) {
	if s.w.s == nil {
		return 0, errors.New("no open sink")
	}
	n, err := s.w.s.Write(p)
	if err != nil && n > 0 {
		s.w.partial = true
	}
	return n, err
}

// buffer is one encoded event on its way to the writer.
type buffer struct{ b []byte }

var bufferPool = sync.Pool{New: func() any { return &buffer{b: make([]byte, 0, 1024)} }}

func getBuffer() *buffer { return bufferPool.Get().(*buffer) }

func putBuffer(b *buffer) {
	if cap(b.b) > 64<<10 {
		return // a huge captured event: let it go
	}
	bufferPool.Put(b)
}

// rateLimiter allows one log line per interval.
type rateLimiter struct{ next atomic.Int64 }

const logEvery = 10 * time.Second

func (r *rateLimiter) allow() bool {
	now := time.Now().UnixNano()
	next := r.next.Load()
	return now >= next && r.next.CompareAndSwap(next, now+int64(logEvery))
}
