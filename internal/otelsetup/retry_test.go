package otelsetup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// refused is what otlptracehttp returns when the collector's port is
// closed: a url.Error around the dial's ECONNREFUSED, which its own retry
// does not retry (issue 13 item 14).
var refused = &url.Error{Op: "Post", URL: "http://127.0.0.1:4318/v1/traces", Err: &net.OpError{
	Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}

// flakyExporter fails every export with err while it is set, and records
// the spans of the exports that succeed.
type flakyExporter struct {
	mu       sync.Mutex
	err      error
	attempts int
	got      []string // span names delivered
}

func (e *flakyExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.attempts++
	if e.err != nil {
		return e.err
	}
	for _, s := range spans {
		e.got = append(e.got, s.Name())
	}
	return nil
}
func (e *flakyExporter) Shutdown(context.Context) error { return nil }

func (e *flakyExporter) set(err error) {
	e.mu.Lock()
	e.err = err
	e.mu.Unlock()
}

func (e *flakyExporter) delivered() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.got...)
}

func (e *flakyExporter) attemptCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.attempts
}

// retryPipeline is the traces pipeline of setupTraces around exp, with a
// queue bound of limit spans, fast backoff, and its metrics and log.
type retryPipeline struct {
	tp     *sdktrace.TracerProvider
	re     *retryExporter
	reader *sdkmetric.ManualReader
	log    *syncBuffer
}

func newRetryPipeline(t *testing.T, exp sdktrace.SpanExporter, limit int, grace ...time.Duration) *retryPipeline {
	t.Helper()
	setErrorHandler(slog.New(slog.DiscardHandler)) // dropped batches are expected in some cases
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithView(views()...))
	dropped, _ := droppedCounter(mp)
	cp := &countingProcessor{limit: int64(limit), dropped: dropped,
		spans: attribute.NewSet(keySignal.String(signalSpans), keyErrorType.String(dropQueueFull))}
	buf := &syncBuffer{}
	timing := retryTiming{initial: time.Millisecond, max: 5 * time.Millisecond, attempt: time.Second, shutdownGrace: time.Minute}
	if len(grace) > 0 {
		timing.shutdownGrace = grace[0]
	}
	re := newRetryExporter(exp, cp, attribute.NewSet(keySignal.String(signalSpans), keyErrorType.String(dropExportError)),
		slog.New(slog.NewTextHandler(buf, nil)), timing)
	cp.retry = re
	cp.SpanProcessor = sdktrace.NewBatchSpanProcessor(re, sdktrace.WithMaxQueueSize(limit+1),
		sdktrace.WithMaxExportBatchSize(3), sdktrace.WithBatchTimeout(time.Millisecond))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(cp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return &retryPipeline{tp: tp, re: re, reader: reader, log: buf}
}

// spans ends n spans named prefix-0 … prefix-(n-1).
func (p *retryPipeline) spans(prefix string, n int) {
	for i := range n {
		_, sp := p.tp.Tracer("t").Start(context.Background(), fmt.Sprintf("%s-%d", prefix, i))
		sp.End()
	}
}

// dropped is mcpgate.telemetry.dropped by error.type.
func (p *retryPipeline) dropped(t *testing.T) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := p.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				v, _ := dp.Attributes.Value(keyErrorType)
				got[v.AsString()] += dp.Value
			}
		}
	}
	return got
}

// waitAttempts waits (at most 5 s) until exp has been tried n times.
func waitAttempts(t *testing.T, exp *flakyExporter, n int) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); exp.attemptCount() < n; {
		if time.Now().After(end) {
			t.Fatalf("%d export attempts after 5s, want %d", exp.attemptCount(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRetryOutage (issue 13 item 14): spans ended while the collector
// refuses connections wait and are delivered when it is back — none lost,
// in order — and the outage is logged once when it begins and once when it
// ends, however many attempts failed.
func TestRetryOutage(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"connection refused", refused},
		{"connection reset mid-request", &url.Error{Op: "Post", URL: "http://c/v1/traces", Err: syscall.ECONNRESET}},
		{"attempt timed out", fmt.Errorf("export: %w", context.DeadlineExceeded)},
		{"gRPC unavailable", status.Error(codes.Unavailable, "connection refused")},
		{"HTTP 503 after the exporter's own retries", errors.New("retry-able request failure: body: (empty)")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exp := &flakyExporter{err: tc.err}
			p := newRetryPipeline(t, exp, 100)
			p.spans("down", 30)
			waitAttempts(t, exp, 20) // many failed attempts: backoff, not one try
			exp.set(nil)
			p.spans("up", 5)
			if err := p.tp.ForceFlush(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := exp.delivered()
			if len(got) != 35 {
				t.Fatalf("%d spans delivered, want all 35: %v", len(got), got)
			}
			for i := range 30 {
				if got[i] != fmt.Sprintf("down-%d", i) {
					t.Fatalf("span %d is %s: the queue was not sent in order: %v", i, got[i], got)
				}
			}
			if d := p.dropped(t); d[dropQueueFull] != 0 || d[dropExportError] != 0 {
				t.Errorf("dropped %v, want none", d)
			}
			log := p.log.String()
			if n := strings.Count(log, "span export failing"); n != 1 {
				t.Errorf("%d \"failing\" lines for one outage, want 1:\n%s", n, log)
			}
			if n := strings.Count(log, "span export recovered"); n != 1 {
				t.Errorf("%d \"recovered\" lines, want 1:\n%s", n, log)
			}
		})
	}
}

// TestRetryOverflow: an outage longer than the queue holds drops the spans
// past the bound at once (never blocking), counts them as queue_full,
// logs the overflow once for the outage, and delivers the spans it kept.
func TestRetryOverflow(t *testing.T) {
	exp := &flakyExporter{err: refused}
	p := newRetryPipeline(t, exp, 10)
	waitDone := make(chan struct{})
	go func() {
		defer close(waitDone)
		p.spans("a", 10)
		for end := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			p.re.mu.Lock()
			began := !p.re.outage.IsZero()
			p.re.mu.Unlock()
			if began || time.Now().After(end) {
				break // the outage has begun (or the checks below fail)
			}
		}
		p.spans("b", 25)
	}()
	select {
	case <-waitDone:
	case <-time.After(5 * time.Second):
		t.Fatal("ending spans blocked during the outage")
	}
	exp.set(nil)
	if err := p.tp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := exp.delivered(); len(got) != 10 || got[0] != "a-0" {
		t.Errorf("delivered %v, want the 10 spans queued before the queue filled", got)
	}
	if d := p.dropped(t); d[dropQueueFull] != 25 || d[dropExportError] != 0 {
		t.Errorf("dropped %v, want 25 queue_full", d)
	}
	log := p.log.String()
	if n := strings.Count(log, "span queue full during the collector outage"); n != 1 {
		t.Errorf("%d overflow lines for one outage, want 1:\n%s", n, log)
	}
	if !strings.Contains(log, "spans_dropped_in_outage=25") {
		t.Errorf("the recovery line does not count the outage's drops:\n%s", log)
	}
}

// TestRetryPermanentError: a batch the collector rejects as such is sent
// permanentAttempts times, then dropped and counted, and does not hold up
// the spans behind it.
func TestRetryPermanentError(t *testing.T) {
	exp := &flakyExporter{err: errors.New("failed to send to http://c/v1/traces: 400 Bad Request")}
	p := newRetryPipeline(t, exp, 100)
	p.spans("poison", 3)
	waitAttempts(t, exp, permanentAttempts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.re.flush(ctx); err != nil {
		t.Fatalf("the rejected batch was not given up: %v", err)
	}
	exp.set(nil)
	p.spans("next", 2)
	_ = p.tp.ForceFlush(context.Background())
	if got := exp.delivered(); len(got) != 2 {
		t.Errorf("delivered %v, want the 2 spans after the rejected batch", got)
	}
	if d := p.dropped(t); d[dropExportError] != 3 {
		t.Errorf("dropped %v, want 3 export_failed", d)
	}
	if n := exp.attemptCount(); n != permanentAttempts+1 {
		t.Errorf("%d attempts, want %d for the rejected batch and 1 after", n-1, permanentAttempts)
	}
}

// TestRetryShutdownDeadline: Shutdown tries until its deadline and no
// longer (issue 13 item 15: the flush shares the shutdown bound); what is
// still queued then is counted as export_failed.
func TestRetryShutdownDeadline(t *testing.T) {
	exp := &flakyExporter{err: refused}
	p := newRetryPipeline(t, exp, 100)
	p.spans("s", 7)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := p.tp.Shutdown(ctx)
	took := time.Since(start)
	if err == nil {
		t.Error("Shutdown returned nil with spans undelivered")
	}
	if took > time.Second {
		t.Errorf("Shutdown took %v with a 200ms deadline", took)
	}
	for end := time.Now().Add(5 * time.Second); p.dropped(t)[dropExportError] != 7; {
		if time.Now().After(end) {
			t.Fatalf("dropped %v, want the 7 queued spans as export_failed", p.dropped(t))
		}
		time.Sleep(time.Millisecond)
	}
}

// TestTransient: which errors are retried for as long as they last.
func TestTransient(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", refused, true},
		{"joined with a partial-success error", errors.Join(errors.New("partial"), refused), true},
		{"unexpected EOF", io.ErrUnexpectedEOF, true},
		{"deadline", context.DeadlineExceeded, true},
		{"gRPC unavailable", status.Error(codes.Unavailable, "x"), true},
		{"gRPC resource exhausted", status.Error(codes.ResourceExhausted, "x"), true},
		{"gRPC invalid argument", status.Error(codes.InvalidArgument, "x"), false},
		{"HTTP 503 after retries", errors.New("retry-able request failure: body: x"), true},
		{"HTTP 400", errors.New("failed to send to http://c/v1/traces: 400 Bad Request (body: x)"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := transient(tc.err); got != tc.want {
				t.Errorf("transient(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// TestRetryAfterShutdown: spans handed over after Shutdown are refused and
// counted, and leave the accounting straight (nothing pending).
func TestRetryAfterShutdown(t *testing.T) {
	exp := &flakyExporter{}
	p := newRetryPipeline(t, exp, 100)
	if err := p.re.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := []sdktrace.ReadOnlySpan{tracetest.SpanStub{Name: "late"}.Snapshot(), tracetest.SpanStub{Name: "later"}.Snapshot()}
	p.re.p.inflight.Add(2) // as OnEnd would have
	if err := p.re.ExportSpans(context.Background(), spans); err == nil {
		t.Error("ExportSpans after Shutdown returned nil")
	}
	if d := p.dropped(t); d[dropExportError] != 2 {
		t.Errorf("dropped %v, want 2 export_failed", d)
	}
	if n := p.re.p.inflight.Load(); n != 0 {
		t.Errorf("%d slots held, want 0", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := p.re.flush(ctx); err != nil {
		t.Errorf("flush after the refused spans: %v (pending went wrong)", err)
	}
}

// TestRetryShutdownOutageGrace: with the collector down, Shutdown retries
// for the grace and no longer, however long its deadline: a dead
// collector must not hold every exit to the whole shutdown bound.
func TestRetryShutdownOutageGrace(t *testing.T) {
	exp := &flakyExporter{err: refused}
	p := newRetryPipeline(t, exp, 100, 150*time.Millisecond)
	p.spans("s", 4)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	if err := p.tp.Shutdown(ctx); err == nil {
		t.Error("Shutdown returned nil with spans undelivered")
	}
	if took := time.Since(start); took < 150*time.Millisecond || took > 2*time.Second {
		t.Errorf("Shutdown took %v, want about the 150ms grace", took)
	}
}
