package ratelimit

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// CodeRateLimited is the JSON-RPC error code of a rejection: one of the
// implementation-defined server errors (-32000 to -32099), distinct from
// mcpwire.CodeGateway so that a client can tell "wait and retry" from "the
// backend failed" without reading the message.
const CodeRateLimited = -32029

// Stage is the request-path stage: it checks every request message of a
// POST whose method a rule lists, in body order, and records each decision
// on its message (record.Op.RateLimit). The first message a rule rejects
// rejects the whole request — a batch too: nothing reaches the backend —
// with HTTP 429, Retry-After in whole seconds (rounded up, at least 1), and
// a JSON-RPC error for each request of the body carrying its id, the
// delay in the message and, in error.data, {"retryAfterMs": …, "rule": …}.
// Messages of a batch before the rejected one have spent their quota (the
// limiter has no refund); those after it are not checked.
//
// Notifications and responses are never limited: they have no answer to
// carry the error, and a response is the client answering the server.
func (l *Limiter) Stage() func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := record.FromContext(r.Context())
			if rec == nil || len(rec.Ops) == 0 {
				next.ServeHTTP(w, r)
				return
			}
			if d, ok := l.admit(r.Context(), rec); !ok {
				reject(w, rec, d)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// admit checks the request messages of rec, noting each decision; it
// returns false with the rejecting decision at the first rejection.
func (l *Limiter) admit(ctx context.Context, rec *record.Record) (Decision, bool) {
	for i := range rec.Ops {
		op := &rec.Ops[i]
		if op.Kind != record.OpRequest {
			continue
		}
		d := l.Check(ctx, Request{Method: op.Method, Target: target(op), Identity: rec.Identity, ClientAddr: rec.ClientAddr})
		if d.Rule == "" {
			continue // no rule covers the method
		}
		op.RateLimit = record.RateLimit{Decision: decisionOf(d), Rule: uint8(d.index + 1)}
		if !d.Allowed {
			return d, false
		}
	}
	return Decision{}, true
}

// target is what principal+tool and tool rules key on: the tool or prompt
// name, or the resource URI; "" for methods without one (one bucket for
// the method then).
func target(op *record.Op) string {
	if op.Name != "" {
		return op.Name
	}
	return op.URI
}

func decisionOf(d Decision) record.RateLimitDecision {
	switch {
	case d.Allowed && d.Fallback:
		return record.RateLimitAllowedFallback
	case d.Allowed:
		return record.RateLimitAllowed
	case d.Fallback:
		return record.RateLimitLimitedFallback
	}
	return record.RateLimitLimited
}

// reject answers a request a rule rejected.
func reject(w http.ResponseWriter, rec *record.Record, d Decision) {
	secs := max(1, int64((d.RetryAfter+time.Second-1)/time.Second))
	ms := max(1, int64((d.RetryAfter+time.Millisecond-1)/time.Millisecond))
	msg := "rate limited by rule " + strconv.Quote(d.Rule) + ": retry after " + strconv.FormatInt(secs, 10) + "s"
	data := strconv.AppendInt([]byte(`{"retryAfterMs":`), ms, 10)
	data = append(data, `,"rule":`...)
	data = strconv.AppendQuote(data, d.Rule) // rule names are [A-Za-z0-9._-]
	data = append(data, '}')
	rec.Fail(record.ReasonRateLimited, msg)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	if !rec.Batch {
		mcpwire.WriteErrorData(w, http.StatusTooManyRequests, rec.RequestID(), CodeRateLimited, msg, data)
		return
	}
	// A batch is answered by an array: the error once for each request,
	// with its id, none of which reached the backend.
	body := []byte{'['}
	for i := range rec.Ops {
		if op := &rec.Ops[i]; op.Kind == record.OpRequest {
			if len(body) > 1 {
				body = append(body, ',')
			}
			body = mcpwire.AppendErrorData(body, []byte(op.ID), CodeRateLimited, msg, data)
		}
	}
	body = append(body, ']')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write(body)
}
