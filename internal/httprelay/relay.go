package httprelay

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mcpgate/mcpgate/internal/idleread"
	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
	"github.com/mcpgate/mcpgate/internal/telemetry"
)

// Options configures a Relay. Zero durations mean the defaults noted.
type Options struct {
	Name string   // backend name, for errors and the record
	URL  *url.URL // the backend's MCP endpoint, used exactly (path and query)

	// Headers are set on every upstream request (the backend's own
	// credentials, for instance); they replace client headers of that name.
	Headers http.Header
	TLS     *tls.Config // nil: system roots, default settings

	ConnectTimeout   time.Duration // dialing and TLS handshake; default 10s
	FirstByteTimeout time.Duration // until response headers; default 2m
	IdleTimeout      time.Duration // between response body reads; 0: none

	// TrustedProxies are peers whose X-Forwarded-*/Forwarded headers are
	// passed on; from anyone else those headers are dropped.
	TrustedProxies []netip.Prefix
	// ForwardHeaders are client request headers passed on upstream besides
	// the built-in allow-list (forwardedHeaders, mcpHeaders); the
	// configuration refuses managed and hop-by-hop names here.
	ForwardHeaders []string
	// MaxInspect bounds how much of one response message is buffered to
	// find its outcome; larger messages pass through uninspected. Default
	// 1 MiB.
	MaxInspect int

	// Telemetry makes a CLIENT span per message sent upstream, carries its
	// trace context in the traceparent/tracestate headers and, where
	// mcpwire.TraceMeta allows, in the message's params._meta, and learns
	// the tool and prompt names the backend lists. Nil: none of that, and
	// the client's own trace context passes through untouched.
	Telemetry *telemetry.Telemetry

	// Versions learns the revisions the backend advertises from the
	// server/discover results relayed, for the gateway's own -32022
	// errors (inspect.Options.Supported). Nil: not learned.
	Versions *mcpwire.Advertised

	Logger *slog.Logger
}

// Relay is an http.Handler that forwards to one backend.
type Relay struct {
	// forward is opts.ForwardHeaders in canonical form, worked out once
	// rather than per header per request; headers is opts.Headers so.
	forward   []string
	headers   http.Header
	opts      Options
	transport *http.Transport
	log       *slog.Logger
	backend   telemetry.BackendInfo
}

// New returns a Relay for opts.
func New(opts Options) (*Relay, error) {
	if opts.URL == nil || (opts.URL.Scheme != "http" && opts.URL.Scheme != "https") {
		return nil, fmt.Errorf("backend %q: URL must be http or https", opts.Name)
	}
	if opts.ConnectTimeout == 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	if opts.FirstByteTimeout == 0 {
		opts.FirstByteTimeout = 2 * time.Minute
	}
	if opts.MaxInspect == 0 {
		opts.MaxInspect = 1 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	dialer := &net.Dialer{Timeout: opts.ConnectTimeout, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy:                 nil, // a gateway talks to its backends directly, whatever HTTP_PROXY says
		DialContext:           dialer.DialContext,
		TLSClientConfig:       opts.TLS,
		TLSHandshakeTimeout:   opts.ConnectTimeout,
		ResponseHeaderTimeout: opts.FirstByteTimeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		// Responses are inspected, so they must arrive uncompressed; the
		// client's Accept-Encoding is left out by outHeader for the same reason.
		DisableCompression: true,
	}
	r := &Relay{opts: opts, transport: transport, log: opts.Logger, backend: telemetry.HTTPBackend(opts.Name, opts.URL)}
	for _, name := range opts.ForwardHeaders {
		name = http.CanonicalHeaderKey(name)
		// A hop-by-hop or X-Forwarded-* name never reached the backend
		// from the client (the configuration refuses the first kind).
		if slices.Contains(hopHeaders, name) || slices.Contains(trustedForwarding, name) {
			continue
		}
		r.forward = append(r.forward, name)
	}
	if len(opts.Headers) > 0 {
		// Canonical, so that each replaces the client's header of that
		// name rather than going out beside it; cloned, so that nothing
		// done to a request's header reaches the caller's map.
		r.headers = make(http.Header, len(opts.Headers))
		for name, vs := range opts.Headers {
			r.headers[http.CanonicalHeaderKey(name)] = slices.Clone(vs)
		}
	}
	return r, nil
}

// ServeHTTP forwards the request. The body was already read and parsed by
// the inspect stage; it is sent on exactly as received.
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rec := record.FromContext(req.Context())
	if rec == nil {
		// Outside the gateway's chain (a test, another embedding): the
		// watchers and the error handler write to the record unconditionally.
		rec = &record.Record{Start: time.Now(), HTTPMethod: req.Method}
		req = req.WithContext(record.NewContext(req.Context(), rec))
	}
	rec.Backend = r.opts.Name
	in := inspect.FromContext(req.Context())
	var spans []telemetry.ClientSpan
	if tel := r.opts.Telemetry; tel != nil {
		var ctx context.Context
		ctx, spans = r.startSpans(req.Context(), tel, rec, in)
		defer func() {
			for _, cs := range spans {
				cs.End()
			}
		}()
		// The first span's context is the outgoing request's: Rewrite puts
		// it in the W3C headers, and log lines about the call carry it.
		req = req.WithContext(ctx)
	}
	var raw []byte
	if in != nil {
		pinned := mcpwire.PinnedHTTP(req.Header.Get(mcpwire.HeaderSessionID), in.Version)
		raw = r.withTraceContext(in, spans, pinned)
	}
	r.relay(w, r.outRequest(req, raw, in != nil))
}

// startSpans starts one CLIENT span per message of the body (one for the
// request when it has none: a GET stream, DELETE) and returns them with the
// first one's context.
func (r *Relay) startSpans(ctx context.Context, tel *telemetry.Telemetry, rec *record.Record, in *inspect.Request) (context.Context, []telemetry.ClientSpan) {
	if in == nil || len(rec.Ops) != len(in.Body.Messages) || len(rec.Ops) == 0 {
		c, cs := tel.StartClient(ctx, &r.backend, nil)
		return c, []telemetry.ClientSpan{cs}
	}
	spans := make([]telemetry.ClientSpan, len(rec.Ops))
	first := ctx
	for i := range rec.Ops {
		c, cs := tel.StartClient(ctx, &r.backend, &rec.Ops[i])
		if i == 0 {
			first = c
		}
		spans[i] = cs
	}
	return first, spans
}

// withTraceContext returns the body to send: the client's bytes with the
// params._meta traceparent/tracestate of each request and notification that
// mcpwire.TraceMeta allows set to its CLIENT span's, spliced in place — or
// the client's bytes unchanged when there is nothing to set (telemetry off,
// or no message the rule allows). pinned: the request belongs to a session.
func (r *Relay) withTraceContext(in *inspect.Request, spans []telemetry.ClientSpan, pinned bool) []byte {
	if len(spans) != len(in.Body.Messages) {
		return in.Raw
	}
	out, err := in.Body.SetMeta(in.Raw, func(i int) []jsonrpc.MetaKV {
		m := &in.Body.Messages[i]
		if !mcpwire.TraceMeta(m.Method, m.Meta.Present(), pinned) {
			return nil
		}
		return spans[i].MetaKVs()
	})
	if err != nil {
		r.log.Warn("could not add the trace context to the request body; sending it unchanged", "error", err)
		return in.Raw
	}
	return out
}

// forwardedHeaders are the client request headers passed on upstream: an
// allow-list, because no list of the headers to strip is ever complete
// (every authenticating proxy has its own identity headers, and a backend
// may believe any of them). Everything else a client sends stays at the
// gateway: credentials, cookies, identity and forwarding claims, baggage,
// Accept-Encoding (responses must arrive uncompressed to be inspected),
// Origin (the gateway enforces the browser policy; the backend's own would
// judge the gateway's origin, not the page's), and any header with an
// underscore for a hyphen, which CGI and WSGI backends would fold into
// another. Options.ForwardHeaders adds names per backend.
var forwardedHeaders = []string{"Accept", "Content-Type", "User-Agent"}

// mcpHeaders are the managed headers a client sends to the backend through
// the gateway, spelled exactly (mcpwire.ManagedAlias spellings are refused
// by inspect, and are not on the allow-list). They are taken from the
// client's request as received, whatever its Connection header makes
// hop-by-hop: a Connection header naming one (refused by inspect) must never
// hide from the backend the header the gateway checked.
var mcpHeaders = []string{
	mcpwire.HeaderSessionID, mcpwire.HeaderProtocolVersion, mcpwire.HeaderMethod,
	mcpwire.HeaderName, mcpwire.HeaderLastEventID,
	// The caller's trace context; replaced by the CLIENT span's when
	// telemetry is on.
	"Traceparent", "Tracestate",
}

func isMCPHeader(name string) bool {
	return slices.Contains(mcpHeaders, name) || strings.HasPrefix(name, mcpwire.HeaderParamPrefix)
}

// trustedForwarding are the headers a trusted proxy's word is kept for.
var trustedForwarding = []string{"X-Forwarded-For", "Forwarded", "X-Forwarded-Host", "X-Forwarded-Proto"}

func (r *Relay) trusted(remoteAddr string) bool {
	if len(r.opts.TrustedProxies) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap()
	for _, p := range r.opts.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// errSwitchProtocols refuses a backend's 101: MCP has no upgrade, and a
// switched connection would be a tunnel past every stage of the gateway.
var errSwitchProtocols = errors.New("the backend answered 101 Switching Protocols; MCP has no protocol upgrade")

func (r *Relay) modifyResponse(resp *http.Response) error {
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// A proxy that honoured it would hijack the client's connection
		// and copy bytes both ways. No upgrade is ever requested (inspect
		// refuses them, outHeader drops the headers), so this is a backend that
		// switches unasked; it gets nothing.
		return errSwitchProtocols
	}
	ctx := resp.Request.Context()
	rec := record.FromContext(ctx)
	in := inspect.FromContext(ctx)
	if rec.SessionID == "" {
		// The session initialize just created, for its span.
		rec.SessionID = resp.Header.Get(mcpwire.HeaderSessionID)
	}
	ct := resp.Header.Get("Content-Type")
	cat := r.opts.Telemetry.Catalog()
	switch {
	case strings.HasPrefix(ct, "text/event-stream"):
		rec.SSE = true
		resp.Body = newSSEWatcher(ctx, resp.Body, rec, in, r.opts.MaxInspect, r.opts.IdleTimeout, r.opts.Name, cat, r.opts.Versions)
	case strings.HasPrefix(ct, "application/json") && in != nil:
		jw := newJSONWatcher(ctx, resp.Body, rec, r.opts.MaxInspect, r.opts.IdleTimeout, r.opts.Name, cat, r.opts.Versions)
		if w, ok := jw.(*jsonWatcher); ok && resp.ContentLength > int64(r.opts.MaxInspect) {
			// Too large to inspect, as announced: not buffered at all,
			// rather than up to MaxInspect and then dropped.
			w.over = true
		}
		resp.Body = jw
	default:
		if r.opts.IdleTimeout > 0 {
			resp.Body = idleread.New(resp.Body, r.opts.IdleTimeout, nil)
		}
	}
	return nil
}

// errorHandler answers a request the backend did not answer. A JSON-RPC
// error naming the backend tells the client which hop failed.
func (r *Relay) errorHandler(w http.ResponseWriter, req *http.Request, err error) {
	ctx := req.Context()
	rec := record.FromContext(ctx)
	if ctx.Err() != nil {
		rec.Fail(record.ReasonClientCanceled, err.Error())
		return
	}
	status := http.StatusBadGateway
	be := &record.BackendError{Backend: r.opts.Name, Reason: record.ReasonUpstreamUnavailable, What: "unreachable", Err: err}
	switch {
	case errors.Is(err, errSwitchProtocols):
		be.Reason, be.What = record.ReasonUpstreamError, "tried to switch protocols"
	case isTimeout(err):
		status, be.Reason, be.What = http.StatusGatewayTimeout, record.ReasonUpstreamTimeout, "timed out"
	}
	rec.FailBackend(be, err.Error())
	r.log.WarnContext(ctx, "backend request failed", "backend", r.opts.Name, "error", err)
	be.Write(w, status, rec.RequestID())
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, idleread.ErrIdle) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	// net/http reports ResponseHeaderTimeout with this text only.
	return strings.Contains(err.Error(), "timeout awaiting response headers")
}
