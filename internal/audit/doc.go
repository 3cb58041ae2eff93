// Package audit writes the audit log: one JSON line per MCP message and per
// rejected request, naming the principal and joined to the traces by trace
// and span id (docs/audit.md).
//
// The request path touches it in three places:
//
//   - Reporter.Report, an observe reporter, builds the events from the
//     request's record when the request has ended and hands them to the
//     Logger. It never blocks: events are encoded on the request's
//     goroutine and queued.
//   - Logger.Guard, a stage before routing, answers 503 while the sink is
//     failing, when failClosed is on, so no request is served unaudited.
//   - Reporter.Capture, a stage before the relay, keeps the (bounded)
//     response body when request/response capture is on; the request body
//     comes from inspect.
//
// One goroutine owns the sink: it drains the bounded queue, writes through a
// buffer, flushes when the queue runs dry and fsyncs by policy. When the
// queue is full an event is dropped and counted, never waited for. Reopen
// (SIGHUP) closes and reopens the file for rotation without losing queued
// events; Close drains and flushes on shutdown.
//
// Rejected requests cost an attacker nothing, so their events are bounded:
// per reason and second the first few are written in full and the rest
// folded into one rejected_summary with a count (fold.go). Events of
// admitted requests are never folded.
//
// Events never hold a credential: the record holds no header, error texts
// are masked by credmask (JWTs, Bearer/Basic credentials, API keys, private
// keys), captured bodies go through its JSON redactor, and a
// session id — a capability — appears only as a short SHA-256 prefix.
package audit
