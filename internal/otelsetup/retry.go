package otelsetup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Retry timing. The backoff doubles from retryInitial to retryMax, with
// ±20 % jitter so that replicas do not reconnect in step; each attempt gets
// retryAttemptTimeout (the OTLP exporters' own default timeout).
const (
	retryInitial        = 100 * time.Millisecond
	retryMax            = 2 * time.Second
	retryAttemptTimeout = 10 * time.Second
	// permanentAttempts is how often a batch is sent when the collector
	// answers with an error that retrying will not fix (400, 413, a
	// schema error), before it is dropped and counted: a poison batch
	// must not hold up every span behind it.
	permanentAttempts = 3
	// mergeLimit caps a send after an outage, when many small batches
	// are queued: they go out together up to the batch processor's
	// default batch size, to catch up faster.
	mergeLimit = 512
	// overflowLogEvery limits the queue-full line outside an outage (an
	// exporter that does not keep up with a healthy collector).
	overflowLogEvery = time.Minute
	// shutdownOutageGrace is how long Shutdown goes on retrying while the
	// collector is down: long enough for a collector restart, short
	// enough that a dead collector does not hold every gateway exit to
	// the whole shutdown bound.
	shutdownOutageGrace = 3 * time.Second
)

// retryExporter sits between the batch processor and the real exporter.
// The SDK's batch processor exports a batch once and forgets it, and the
// OTLP exporters' own retries do not cover a collector that is down:
// otlptracehttp retries only url.Error.Temporary() and 429/502/503/504,
// and a refused connection (ECONNREFUSED is not Temporary) fails at once —
// 600–1,100 spans lost per restart in the fault test. Here a batch stays
// queued until it is delivered: ExportSpans only queues it and returns, and
// one goroutine sends the queue in order, retrying a transient failure with
// backoff for as long as it lasts.
//
// The queue is bounded by the countingProcessor: a span holds one of its
// slots from OnEnd until it is delivered or dropped here, so during an
// outage the queue grows to the processor's limit, and from then on new
// spans are refused at OnEnd and counted (queue_full); the log says so
// once per outage, and again when the collector is back.
type retryExporter struct {
	next   sdktrace.SpanExporter
	p      *countingProcessor // its slots are released as spans leave here
	failed attribute.Set      // {signal=spans, error.type=export_failed}
	log    *slog.Logger
	now    func() time.Time

	timing retryTiming

	mu       sync.Mutex
	queue    [][]sdktrace.ReadOnlySpan
	pending  int           // spans queued or being sent
	changed  chan struct{} // closed (and replaced) whenever pending drops
	closed   bool
	outage   time.Time // when exports began to fail; zero while they succeed
	overflow int64     // spans refused at OnEnd during the outage
	logged   bool      // the outage's overflow has been logged
	lastLog  time.Time // the last overflow line outside an outage

	wake   chan struct{} // cap 1: the queue has something
	ctx    context.Context
	cancel context.CancelFunc // ends attempts and backoffs: Shutdown's deadline passed
	done   chan struct{}
}

// retryTiming is the backoff's range, each attempt's timeout, and how long
// Shutdown retries through an outage.
type retryTiming struct{ initial, max, attempt, shutdownGrace time.Duration }

var defaultRetryTiming = retryTiming{retryInitial, retryMax, retryAttemptTimeout, shutdownOutageGrace}

func newRetryExporter(next sdktrace.SpanExporter, p *countingProcessor, failed attribute.Set, log *slog.Logger, timing retryTiming) *retryExporter {
	ctx, cancel := context.WithCancel(context.Background())
	e := &retryExporter{
		next: next, p: p, failed: failed, log: log, now: time.Now, timing: timing,
		changed: make(chan struct{}), wake: make(chan struct{}, 1),
		ctx: ctx, cancel: cancel, done: make(chan struct{}),
	}
	go e.run()
	return e
}

// ExportSpans queues spans and returns at once. The batch processor reuses
// the slice, so it is copied.
func (e *retryExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 {
		return nil
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		// Never queued, so not pending: only the processor's slots.
		e.p.inflight.Add(-int64(len(spans)))
		e.p.dropped.Add(context.Background(), int64(len(spans)), metric.WithAttributeSet(e.failed))
		return errors.New("telemetry: span exporter shut down")
	}
	e.queue = append(e.queue, slices.Clone(spans))
	e.pending += len(spans)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
	return nil
}

// Shutdown sends what is queued, retrying until ctx ends, or for
// shutdownOutageGrace once the collector is failing; what is still queued
// then is dropped and counted. Then it shuts the exporter down.
func (e *retryExporter) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	e.closed = true
	closedAt := e.now()
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
	check := time.NewTicker(e.timing.initial)
	defer check.Stop()
	for {
		select {
		case <-e.done:
			e.cancel()
			return e.next.Shutdown(ctx)
		case <-ctx.Done():
			return e.giveUp(ctx, ctx.Err())
		case <-check.C:
			e.mu.Lock()
			began := e.outage
			e.mu.Unlock()
			if !began.IsZero() && e.now().Sub(later(began, closedAt)) >= e.timing.shutdownGrace {
				return e.giveUp(ctx, errors.New("the collector is failing"))
			}
		}
	}
}

// giveUp ends Shutdown with spans still queued: the attempt in flight and
// the rest are dropped (and counted) by the goroutine, without waiting for
// it — the caller's deadline is the process's exit.
func (e *retryExporter) giveUp(ctx context.Context, why error) error {
	e.cancel()
	_ = e.next.Shutdown(ctx)
	return fmt.Errorf("telemetry: spans still queued at shutdown: %w", why)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// flush waits until every span queued so far has been delivered or
// dropped, or ctx ends.
func (e *retryExporter) flush(ctx context.Context) error {
	for {
		e.mu.Lock()
		n, ch := e.pending, e.changed
		e.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// run is the sending goroutine.
func (e *retryExporter) run() {
	defer close(e.done)
	backoff := e.timing.initial
	for {
		batch, ok := e.take()
		if !ok {
			return
		}
		for attempt := 1; ; attempt++ {
			ctx, cancel := context.WithTimeout(e.ctx, e.timing.attempt)
			err := e.next.ExportSpans(ctx, batch)
			cancel()
			if err == nil {
				e.delivered(len(batch))
				backoff = e.timing.initial
				break
			}
			if e.ctx.Err() != nil || (!transient(err) && attempt >= permanentAttempts) {
				e.dropBatch(len(batch), err)
				break
			}
			e.failing(err)
			if !e.sleep(backoff) {
				e.dropBatch(len(batch), e.ctx.Err())
				break
			}
			backoff = min(backoff*2, e.timing.max)
		}
	}
}

// take waits for queued batches and returns the oldest, merged with those
// after it up to mergeLimit spans. It returns false when the exporter is
// shut down and the queue is empty, or Shutdown's deadline passed (the
// queue is then dropped).
func (e *retryExporter) take() ([]sdktrace.ReadOnlySpan, bool) {
	for {
		e.mu.Lock()
		if e.ctx.Err() != nil {
			n := 0
			for _, b := range e.queue {
				n += len(b)
			}
			e.queue = nil
			e.mu.Unlock()
			if n > 0 {
				e.dropBatch(n, e.ctx.Err())
			}
			return nil, false
		}
		if len(e.queue) > 0 {
			batch := e.queue[0]
			i := 1
			for ; i < len(e.queue) && len(batch)+len(e.queue[i]) <= mergeLimit; i++ {
				batch = append(batch, e.queue[i]...)
			}
			clear(e.queue[:i])
			e.queue = e.queue[i:]
			e.mu.Unlock()
			return batch, true
		}
		closed := e.closed
		e.mu.Unlock()
		if closed {
			return nil, false
		}
		select {
		case <-e.wake:
		case <-e.ctx.Done():
		}
	}
}

// sleep waits d ± 20 %; false when Shutdown's deadline passed first.
func (e *retryExporter) sleep(d time.Duration) bool {
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-e.ctx.Done():
		return false
	}
}

func (e *retryExporter) delivered(n int) {
	e.mu.Lock()
	began, overflow := e.outage, e.overflow
	e.outage, e.overflow, e.logged = time.Time{}, 0, false
	e.mu.Unlock()
	e.release(n, false)
	if !began.IsZero() {
		e.log.Info("span export recovered", "outage", e.now().Sub(began).Round(time.Millisecond),
			"spans_dropped_in_outage", overflow)
	}
}

func (e *retryExporter) dropBatch(n int, err error) {
	e.release(n, true)
	otel.Handle(fmt.Errorf("telemetry: %d spans dropped: %w", n, err))
}

// release frees n of the processor's slots and, for dropped spans, counts
// them as failed exports.
func (e *retryExporter) release(n int, dropped bool) {
	e.p.inflight.Add(-int64(n))
	if dropped {
		e.p.dropped.Add(context.Background(), int64(n), metric.WithAttributeSet(e.failed))
	}
	e.mu.Lock()
	e.pending -= n
	close(e.changed)
	e.changed = make(chan struct{})
	e.mu.Unlock()
}

// failing notes a failed attempt; the first one of an outage is logged.
func (e *retryExporter) failing(err error) {
	e.mu.Lock()
	first := e.outage.IsZero()
	if first {
		e.outage = e.now()
	}
	pending := e.pending
	e.mu.Unlock()
	if first {
		e.log.Warn("span export failing; retrying with backoff, spans wait in the queue", "error", err,
			"queued", pending, "queue_size", e.p.limit)
	}
}

// overflowed is told of a span the processor refused because the queue
// was full: logged once per outage, and outside one at most once per
// overflowLogEvery.
func (e *retryExporter) overflowed() {
	e.mu.Lock()
	now := e.now()
	var msg string
	switch {
	case !e.outage.IsZero():
		e.overflow++
		if !e.logged {
			e.logged = true
			msg = "span queue full during the collector outage: new spans are dropped until it is back"
		}
	case now.Sub(e.lastLog) >= overflowLogEvery:
		e.lastLog = now
		msg = "span queue full: spans are dropped (the collector is slow or the exporter does not keep up; raise telemetry.traces.queueSize)"
	}
	e.mu.Unlock()
	if msg != "" {
		e.log.Warn(msg, "queue_size", e.p.limit, "metric", MetricTelemetryDropped)
	}
}

// transient reports whether err is worth retrying for as long as it
// lasts: the collector cannot be reached or is overloaded, as opposed to
// an answer that the batch itself is wrong.
func transient(err error) bool {
	var ne net.Error
	switch {
	case errors.As(err, &ne), // url.Error and net.OpError: refused, reset, timeouts, DNS
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
		return true
	}
	if s, ok := status.FromError(err); ok {
		switch s.Code() {
		case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
			return true
		}
		return false
	}
	// otlptracehttp's error for 429, 502, 503 and 504 once its own retries
	// are spent (its type is internal).
	return strings.Contains(err.Error(), "retry-able request failure")
}
