package inspect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"time"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// Options configures the inspect stage. Zero fields take the defaults noted.
type Options struct {
	// Limits bounds the parse (jsonrpc defaults when zero).
	Limits jsonrpc.Limits
	// ReadTimeout bounds reading the request body; 0 means no bound. It is
	// cleared once the body is read, so it never cuts a response stream.
	ReadTimeout time.Duration
	// APIKeyHeader is the configured API-key header, managed like
	// Authorization: its other spellings are refused (checkHeaders).
	APIKeyHeader string
	// Supported returns the revisions the -32022 error for an unknown
	// revision offers, newest first: those the server the client sees
	// serves (a relayed backend's mcpwire.Advertised, the aggregator's
	// own). Nil: every revision the gateway knows.
	Supported func() []string
}

// supported is what the -32022 error offers (Options.Supported).
func (o *Options) supported() []string {
	if o.Supported == nil {
		var none *mcpwire.Advertised // has learned nothing: every known revision
		return none.Supported()
	}
	return o.Supported()
}

// Request is the parsed POST body, shared with the inner stages.
type Request struct {
	Raw  []byte       // the body exactly as received
	Body jsonrpc.Body // its one parse
	// Version is the protocol revision the request is governed by: the
	// MCP-Protocol-Version header, or for initialize the version it offers.
	Version string
}

type ctxKey struct{}

// singleHeaders are the MCP headers the gateway decides on; each may come
// once at most.
var singleHeaders = []string{
	mcpwire.HeaderSessionID, mcpwire.HeaderProtocolVersion, mcpwire.HeaderMethod,
	mcpwire.HeaderName, mcpwire.HeaderLastEventID,
}

// FromContext returns the parsed request, or nil when the request had no
// body (GET, DELETE) or did not pass inspection.
func FromContext(ctx context.Context) *Request {
	req, _ := ctx.Value(ctxKey{}).(*Request)
	return req
}

// NewContext returns ctx carrying req; for tests of inner stages.
func NewContext(ctx context.Context, req *Request) context.Context {
	return context.WithValue(ctx, ctxKey{}, req)
}

// New returns the inspect stage.
func New(opts Options) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := record.FromContext(r.Context())
			if msg := checkHeaders(r, opts.APIKeyHeader); msg != "" {
				reject(w, rec, http.StatusBadRequest, nil, jsonrpc.CodeInvalidRequest, record.ReasonInvalidRequest, msg)
				return
			}
			for _, h := range singleHeaders {
				if len(r.Header[h]) > 1 {
					// Which of two values counts is up to each reader: the
					// session binding would check one and a backend might
					// act on the other.
					reject(w, rec, http.StatusBadRequest, nil, jsonrpc.CodeInvalidRequest, record.ReasonInvalidRequest,
						"more than one "+h+" header")
					return
				}
			}
			version := r.Header.Get(mcpwire.HeaderProtocolVersion)
			if version != "" && !mcpwire.KnownVersion(version) {
				if r.Method != http.MethodPost {
					rejectVersion(w, rec, nil, version, opts.supported())
					return
				}
				// A POST is answered once its body is parsed, with the
				// request's id (inspectPost). The unknown value never
				// reaches the record: spans and metrics carry known
				// revisions only.
			} else {
				rec.ProtocolVersion = version
			}
			rec.SessionID = r.Header.Get(mcpwire.HeaderSessionID)
			rec.LastEventID = r.Header.Get(mcpwire.HeaderLastEventID) != ""

			if r.ContentLength != 0 && (r.Method == http.MethodGet || r.Method == http.MethodDelete) {
				// MCP gives them no body. One would be relayed unread, with
				// the limits stage's body deadline still on the connection.
				reject(w, rec, http.StatusBadRequest, nil, jsonrpc.CodeInvalidRequest, record.ReasonInvalidRequest,
					r.Method+" must not have a body")
				return
			}
			switch r.Method {
			case http.MethodPost:
				req, ok := inspectPost(w, r, rec, version, &opts)
				if !ok {
					return
				}
				r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, req))
			case http.MethodGet:
				if !mcpwire.Accepts(r.Header.Get("Accept"), "text/event-stream") {
					reject(w, rec, http.StatusNotAcceptable, nil, jsonrpc.CodeInvalidRequest, record.ReasonNotAcceptable,
						"GET must accept text/event-stream")
					return
				}
				if mcpwire.Stateless(version) {
					w.Header().Set("Allow", "POST")
					reject(w, rec, http.StatusMethodNotAllowed, nil, jsonrpc.CodeInvalidRequest, record.ReasonMethodNotAllowed,
						"protocol revision "+version+" has no GET stream")
					return
				}
			case http.MethodDelete:
			default:
				w.Header().Set("Allow", "GET, POST, DELETE")
				reject(w, rec, http.StatusMethodNotAllowed, nil, jsonrpc.CodeInvalidRequest, record.ReasonMethodNotAllowed,
					"method "+clip(r.Method)+" not allowed")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func inspectPost(w http.ResponseWriter, r *http.Request, rec *record.Record, version string, opts *Options) (*Request, bool) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			reject(w, rec, http.StatusUnsupportedMediaType, nil, jsonrpc.CodeInvalidRequest, record.ReasonInvalidRequest,
				"Content-Type must be application/json")
			return nil, false
		}
	}
	accept := r.Header.Get("Accept")
	if !mcpwire.Accepts(accept, "application/json") && !mcpwire.Accepts(accept, "text/event-stream") {
		reject(w, rec, http.StatusNotAcceptable, nil, jsonrpc.CodeInvalidRequest, record.ReasonNotAcceptable,
			"Accept must admit application/json or text/event-stream")
		return nil, false
	}

	raw, err := readBody(w, r, opts.ReadTimeout)
	rec.BytesIn = int64(len(raw))
	if err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			w.Header().Set("Connection", "close")
			reject(w, rec, http.StatusRequestEntityTooLarge, nil, jsonrpc.CodeInvalidRequest, record.ReasonBodyTooLarge,
				fmt.Sprintf("request body exceeds the limit of %d bytes", tooBig.Limit))
		case errors.Is(err, os.ErrDeadlineExceeded):
			w.Header().Set("Connection", "close")
			reject(w, rec, http.StatusRequestTimeout, nil, jsonrpc.CodeInvalidRequest, record.ReasonInvalidRequest,
				"timed out reading the request body")
		default:
			rec.Fail(record.ReasonClientCanceled, "reading body: "+err.Error())
		}
		return nil, false
	}

	req := &Request{Raw: raw, Version: version}
	if err := req.Body.Parse(raw, opts.Limits); err != nil {
		code, reason := int64(jsonrpc.CodeParseError), record.ReasonParseError
		var perr *jsonrpc.Error
		if errors.As(err, &perr) {
			code = perr.Code
			if code == jsonrpc.CodeInvalidRequest {
				reason = record.ReasonInvalidRequest
			}
		}
		reject(w, rec, http.StatusBadRequest, nil, code, reason, err.Error())
		return nil, false
	}
	fillRecord(rec, req)
	if version != "" && !mcpwire.KnownVersion(version) {
		rejectVersion(w, rec, rec.RequestID(), version, opts.supported())
		return nil, false
	}
	if req.Version == "" {
		req.Version = versionHint(&req.Body)
		rec.ProtocolVersion = req.Version
	}
	return req, checkTransportRules(w, r, rec, req, opts)
}

// readBody reads the whole (already size-capped) body under the read
// timeout, then clears the deadline: a deadline left on the connection would
// cancel a long response stream once net/http's background read hits it.
// After a failed read the deadline stays: net/http reads what is left of
// the body when the handler returns, and only the deadline bounds that.
func readBody(w http.ResponseWriter, r *http.Request, timeout time.Duration) (_ []byte, err error) {
	if timeout > 0 {
		rc := http.NewResponseController(w)
		if rc.SetReadDeadline(time.Now().Add(timeout)) == nil {
			defer func() {
				if err == nil {
					rc.SetReadDeadline(time.Time{})
				}
			}()
		}
	}
	size := 512
	if r.ContentLength > 0 && r.ContentLength < 1<<20 {
		size = int(r.ContentLength) + 1 // +1 so ReadAll-style growth sees EOF without reallocating
	}
	buf := make([]byte, 0, size)
	for {
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

func fillRecord(rec *record.Record, req *Request) {
	msgs := req.Body.Messages
	ops := rec.NewOps(len(msgs))
	rec.Batch = req.Body.Batch
	for i := range msgs {
		m := &msgs[i]
		op := &ops[i]
		op.Kind = record.KindOf(m.Kind)
		op.Method = m.Method
		if m.ID.Present() {
			op.ID = string(m.ID.Bytes(req.Raw))
		}
		switch m.Method {
		case "tools/call", "prompts/get":
			op.Name = m.Name
		case "resources/read", "resources/subscribe", "resources/unsubscribe":
			op.URI = m.URI
		case "initialize":
			rec.ClientName, rec.ClientVersion = clip(m.ClientName), clip(m.ClientVersion)
		}
		op.Progress = m.ProgressToken.Present()
		// The caller's _meta trace context: a parent once authenticated,
		// only a link for a request that fails authentication.
		op.TraceParent, op.TraceState = m.Traceparent, m.Tracestate
	}
}

// versionHint names the revision of a request that carried no version
// header: the version initialize offers, or the stateless _meta version.
// An empty result means the transport's fallback, 2025-03-26.
func versionHint(b *jsonrpc.Body) string {
	if b.Batch {
		return ""
	}
	m := &b.Messages[0]
	switch {
	case m.Method == "initialize" && mcpwire.KnownVersion(m.ProtocolVersion):
		return m.ProtocolVersion
	case m.MetaProtocolVersion != "" && mcpwire.KnownVersion(m.MetaProtocolVersion):
		return m.MetaProtocolVersion
	}
	return ""
}
