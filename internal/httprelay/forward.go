package httprelay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"sync"

	"github.com/mcpgate/mcpgate/internal/telemetry"
)

// The relay's own forwarding path. It does what httputil.ReverseProxy did
// for the relay (Rewrite, ModifyResponse, ErrorHandler, FlushInterval 0, a
// BufferPool), minus the parts that cost on every request and that the
// relay has no use for: a deep clone of the client's request and its
// headers that rewrite then threw away, an httptrace.ClientTrace (and a
// context) per request to forward 1xx responses, a timer per streamed
// response, mime.ParseMediaType per response. What a backend receives and
// what a client is sent are what they were with ReverseProxy, header for
// header; the tests in relay_test.go and hygiene_test.go say so. Two
// differences:
//
//   - Interim (1xx) responses of the backend stay at the gateway: MCP has
//     no use for them, and 103 Early Hints would carry the backend's Link
//     headers to the client past every stage (TestNoInterimResponses).
//   - A client's Upgrade header is never acted on (outHeader drops it), so
//     ReverseProxy's check of its value, a 502 for a non-printable one,
//     has no equivalent: the request goes upstream without it.

// relay sends out (the client's request as the backend must see it) and
// relays the answer to w.
func (r *Relay) relay(w http.ResponseWriter, out *http.Request) {
	res, err := r.transport.RoundTrip(out)
	if err != nil {
		r.errorHandler(w, out, err)
		return
	}
	removeHopByHop(res.Header)
	if err := r.modifyResponse(res); err != nil {
		res.Body.Close()
		r.errorHandler(w, out, err)
		return
	}
	copyHeader(w.Header(), res.Header)
	// The Transport keeps announced trailers out of res.Header: announce
	// them again, as ReverseProxy does.
	announced := len(res.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range res.Trailer {
			keys = append(keys, k)
		}
		w.Header().Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(res.StatusCode)

	if err := r.copyBody(w, res); err != nil {
		res.Body.Close()
		// The status and part of the body are out: all that is left is to
		// abort the response, so that the client sees a broken one rather
		// than a short one that looks complete. net/http recovers
		// http.ErrAbortHandler; outside a server (a test calling
		// ServeHTTP) there is nobody to recover it.
		if out.Context().Value(http.ServerContextKey) != nil {
			panic(http.ErrAbortHandler)
		}
		return
	}
	res.Body.Close() // now, to populate res.Trailer
	if len(res.Trailer) > 0 {
		// Chunked, so that the trailers can follow: without this net/http
		// would give a short body a Content-Length.
		http.NewResponseController(w).Flush()
	}
	if len(res.Trailer) == announced {
		copyHeader(w.Header(), res.Trailer)
		return
	}
	for k, vv := range res.Trailer {
		k = http.TrailerPrefix + k
		for _, v := range vv {
			w.Header().Add(k, v)
		}
	}
}

// copyBody streams res's body to w through a pooled buffer. An event stream
// or a body of unknown length is flushed on every write, and its headers at
// once, so that nothing waits in a buffer (ReverseProxy with FlushInterval
// 0 does the same); a body of known length is left to net/http, which
// writes it out in one go when the handler returns.
func (r *Relay) copyBody(w http.ResponseWriter, res *http.Response) error {
	var rc *http.ResponseController
	if res.ContentLength == -1 || isEventStream(res.Header.Get("Content-Type")) {
		rc = http.NewResponseController(w)
		rc.Flush() // errors: a writer that cannot flush writes through anyway
	}
	bp := copyBufferPool.Get().(*[]byte)
	defer copyBufferPool.Put(bp)
	buf := *bp
	for {
		n, rerr := res.Body.Read(buf)
		if rerr != nil && rerr != io.EOF && !errors.Is(rerr, context.Canceled) {
			r.log.Debug("backend response read error during body copy", "backend", r.opts.Name, "error", rerr)
		}
		if n > 0 {
			nw, werr := w.Write(buf[:n])
			if werr != nil {
				return werr
			}
			if nw != n {
				return io.ErrShortWrite
			}
			if rc != nil {
				rc.Flush()
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// isEventStream reports whether the media type ct names is
// text/event-stream, without mime.ParseMediaType's allocations.
func isEventStream(ct string) bool {
	base, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(base), "text/event-stream")
}

// copyBufferPool holds the response copy buffers: without it every
// response allocated 32 KiB, under load most of the gateway's allocated
// bytes and the garbage collector's work with them.
var copyBufferPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// hopHeaders are the hop-by-hop headers of RFC 9110 §7.6.1 and the older
// ones ReverseProxy also removes, in canonical form.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// removeHopByHop removes the hop-by-hop headers from h: those Connection
// names, and hopHeaders.
func removeHopByHop(h http.Header) {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for _, f := range hopHeaders {
		delete(h, f)
	}
}

// namedByConnection reports whether a Connection header value in conn
// names the canonical header name (which makes it hop-by-hop).
func namedByConnection(conn []string, name string) bool {
	for _, f := range conn {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" && textproto.CanonicalMIMEHeaderKey(sf) == name {
				return true
			}
		}
	}
	return false
}

// copyHeader adds src's values to dst. A name dst does not have yet takes
// src's slice itself: src is a response header the relay owns and drops.
func copyHeader(dst, src http.Header) {
	for k, vv := range src {
		if cur, ok := dst[k]; ok {
			dst[k] = append(cur, vv...)
		} else {
			dst[k] = vv
		}
	}
}

// Shared header values: the outgoing header is only read from here on (by
// the Transport), never written, so one slice serves every request.
var (
	protoHTTP   = []string{"http"}
	protoHTTPS  = []string{"https"}
	noUserAgent = []string{""} // present and empty: the Transport sends no User-Agent of Go's
)

// outRequest returns the request to send upstream for in: the backend's
// URL, the allow-listed headers (see forwardedHeaders, mcpHeaders), the
// forwarding headers, the trace context, the configured headers, and body.
// in's context is the outgoing request's. Nothing of in is modified.
func (r *Relay) outRequest(in *http.Request, body []byte, hasBody bool) *http.Request {
	out := new(http.Request)
	*out = *in           // the context, method and protocol fields; the rest is set below
	out.URL = r.opts.URL // read-only for the Transport: shared by every request
	out.Host = ""
	out.RequestURI = ""
	out.Close = false
	out.Form, out.PostForm, out.MultipartForm = nil, nil, nil
	out.TLS = nil
	out.Response = nil
	// Request trailers arrive after the headers every stage decided on:
	// an Authorization or Mcp-Session-Id trailer would reach the backend
	// unchecked. MCP gives them no use.
	out.Trailer = nil
	out.TransferEncoding = nil
	out.Header = r.outHeader(in)
	switch {
	case hasBody && len(body) > 0:
		// Known length: sent with Content-Length, however the client
		// framed it (chunked, with trailers).
		// An io.NopCloser of a *bytes.Reader, which net/http knows not to
		// block: the headers and the body go out in one write, where any
		// other type would have the headers flushed on their own first
		// (one more syscall and packet per request, on both ends; what
		// ReverseProxy's own body wrapper cost).
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	case hasBody, in.ContentLength == 0:
		// No body: nil, so that the Transport may retry the request on a
		// fresh connection when a reused one turns out closed.
		out.Body, out.ContentLength, out.GetBody = nil, 0, nil
	default:
		out.Body = noCloseBody{in.Body}
		out.GetBody = nil
	}
	return out
}

// outHeader is the header the backend receives for in.
func (r *Relay) outHeader(in *http.Request) http.Header {
	src := in.Header
	h := make(http.Header, 8) // the usual count: one group of the map, no growth
	conn := src["Connection"]
	for name, vs := range src {
		switch {
		case slices.Contains(forwardedHeaders, name) || slices.Contains(r.forward, name):
			// Not when the client's Connection header makes it hop-by-hop.
			// (Hop-by-hop and X-Forwarded-* names never get on r.forward.)
			if len(conn) == 0 || !namedByConnection(conn, name) {
				h[name] = vs
			}
		case isMCPHeader(name):
			// Taken as received, whatever Connection says (see mcpHeaders).
			h[name] = vs
		}
	}
	// X-Forwarded-For, -Host and -Proto describe the hop from the client
	// to the gateway, a trusted proxy's word (Forwarded included) about the
	// hop before it.
	trusted := r.trusted(in.RemoteAddr)
	vals := make([]string, 2)
	if clientIP, _, err := net.SplitHostPort(in.RemoteAddr); err == nil {
		if prior := src.Values("X-Forwarded-For"); trusted && len(prior) > 0 {
			clientIP = strings.Join(prior, ", ") + ", " + clientIP
		}
		vals[0] = clientIP
		h["X-Forwarded-For"] = vals[0:1:1]
	}
	vals[1] = in.Host
	h["X-Forwarded-Host"] = vals[1:2:2]
	if in.TLS == nil {
		h["X-Forwarded-Proto"] = protoHTTP
	} else {
		h["X-Forwarded-Proto"] = protoHTTPS
	}
	if trusted {
		for _, name := range trustedForwarding[1:] {
			if v := src.Values(name); len(v) > 0 {
				h[name] = v
			}
		}
	}
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = noUserAgent
	}
	// The CLIENT span's trace context replaces the caller's (telemetry
	// off: the caller's passes through).
	telemetry.InjectContext(in.Context(), h)
	for name, vs := range r.headers {
		// They replace the client's header of that name rather than going
		// out beside it (r.headers is canonical).
		h[name] = vs
	}
	return h
}

// noCloseBody is a client's body not read by the inspect stage, lent to
// the Transport, which closes what it is given, also when it fails to
// connect: the server closes it (closing it early could hang on a body not
// yet received, ReverseProxy's Issue 16036 and 46866).
type noCloseBody struct{ io.Reader }

func (noCloseBody) Close() error { return nil }
