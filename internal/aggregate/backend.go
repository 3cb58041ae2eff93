package aggregate

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgate/mcpgate/internal/childproc"
	"github.com/mcpgate/mcpgate/internal/telemetry"
)

// Backend configures one backend: a Streamable HTTP server (URL) or a
// stdio server (Command), exactly one of the two.
type Backend struct {
	Name string

	URL              *url.URL
	Headers          http.Header   // static headers on every request (the backend's own credentials)
	TLS              *tls.Config   // nil: system roots
	ConnectTimeout   time.Duration // dial + TLS handshake; default 10s
	FirstByteTimeout time.Duration // until response headers; 0: none
	// IdleTimeout bounds the silence of a response to one of the
	// gateway's requests (a POST); 0: none. The gateway's own listening
	// stream with the backend (its GET) is exempt: silence is what it
	// mostly carries. A response silent this long ends the backend session
	// (its calls in flight fail), which is reconnected after the back-off.
	IdleTimeout time.Duration

	Command    []string // program and arguments
	Env        []string // added to the child's minimal environment (childproc.Environ)
	InheritEnv []string // more of the gateway's variables passed on (names, or prefixes ending in "*")
	Dir        string

	// InitialBackoff and MaxBackoff space out the reconnections of the
	// backend within a client session after it failed or its child exited:
	// the first waits InitialBackoff, each failed one doubles it up to
	// MaxBackoff. Defaults 1s and 30s.
	InitialBackoff, MaxBackoff time.Duration

	Filter Filter
}

// backend is a configured backend at run time: how to reach it and how it
// has been doing, for /readyz.
type backend struct {
	Backend
	info   telemetry.BackendInfo
	client *http.Client // HTTP backends; shared by all sessions
	// rt is client's transport without the idle bound, the base of each
	// session's own (fencedTransport).
	rt  http.RoundTripper
	log *slog.Logger
	// retryMin and retryMax are the reconnection back-off (Backend's
	// InitialBackoff and MaxBackoff, defaulted).
	retryMin, retryMax time.Duration
	// learn lets one session at a time learn an initialize result
	// (resume.go).
	learn sync.Mutex

	mu       sync.Mutex
	catalogs catalogs // what its sessions offer, shared by content (catalog.go)
	// inits is its latest InitializeResult (JSON) by revision asked, to
	// resume sessions with (resume.go).
	inits     map[string]json.RawMessage
	sessions  int // connected client sessions
	lastErr   string
	lastErrAt time.Time
	lastOK    time.Time
}

func newBackend(b Backend, log *slog.Logger) (*backend, error) {
	be := &backend{Backend: b, log: log.With("backend", b.Name), retryMin: b.InitialBackoff, retryMax: b.MaxBackoff}
	if be.retryMin <= 0 {
		be.retryMin = minRetry
	}
	if be.retryMax <= 0 {
		be.retryMax = maxRetry
	}
	be.retryMax = max(be.retryMax, be.retryMin) // a cap below the first wait would silently shorten it
	switch {
	case b.URL != nil && len(b.Command) == 0:
		if b.URL.Scheme != "http" && b.URL.Scheme != "https" {
			return nil, fmt.Errorf("backend %q: URL must be http or https", b.Name)
		}
		be.info = telemetry.HTTPBackend(b.Name, b.URL)
		connect := b.ConnectTimeout
		if connect <= 0 {
			connect = 10 * time.Second
		}
		dialer := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
		be.rt = &traceTransport{
			headers: b.Headers,
			base: &http.Transport{
				Proxy:                 nil, // backends are reached directly, whatever HTTP_PROXY says
				DialContext:           dialer.DialContext,
				TLSClientConfig:       b.TLS,
				TLSHandshakeTimeout:   connect,
				ResponseHeaderTimeout: b.FirstByteTimeout,
				ForceAttemptHTTP2:     true,
				MaxIdleConns:          1024,
				MaxIdleConnsPerHost:   512,
				IdleConnTimeout:       90 * time.Second,
			},
		}
		// The fast path (fastpath.go) posts with this client: an idle
		// response fails its call.
		be.client = &http.Client{Transport: idleTransport(be.rt, b.IdleTimeout, nil)}
	case len(b.Command) > 0 && b.URL == nil:
		be.info = telemetry.StdioBackend(b.Name)
	default:
		return nil, fmt.Errorf("backend %q: exactly one of URL and Command must be set", b.Name)
	}
	return be, nil
}

// transport returns a fresh transport for one client session: an HTTP
// session, or a new child process.
func (b *backend) transport() mcp.Transport { return b.fencedTransport(nil, nil) }

// fencedTransport is transport, counting for f (when not nil) the relayed
// notifications read off the wire (order.go). onIdle, when not nil, is
// called when a response stays silent past IdleTimeout: the SDK's client
// would leave a call whose event stream broke without event ids waiting
// for ever, so the session with the backend is ended instead.
func (b *backend) fencedTransport(f *noteFence, onIdle func()) mcp.Transport {
	if b.client != nil {
		hc := b.client
		if f != nil || onIdle != nil {
			var rt http.RoundTripper = b.rt
			if f != nil {
				rt = &fenceTransport{base: rt, f: f}
			}
			hc = &http.Client{Transport: idleTransport(rt, b.IdleTimeout, onIdle)}
		}
		return &mcp.StreamableClientTransport{Endpoint: b.URL.String(), HTTPClient: hc, MaxRetries: 1}
	}
	return &commandTransport{
		cmd:   childproc.Command{Argv: b.Command, Env: b.Env, InheritEnv: b.InheritEnv, Dir: b.Dir},
		log:   b.log,
		fence: f,
	}
}

// commandTransport is the client side of a stdio backend, started the way
// the relay starts its children (childproc): minimal environment, own
// process group, stderr logged, and a stop that ends the whole group. The
// SDK's CommandTransport signals only the child itself, so a grandchild (a
// server started through npx or a shell) would outlive the session.
type commandTransport struct {
	cmd   childproc.Command
	log   *slog.Logger
	fence *noteFence // nil: not counted
}

func (t *commandTransport) Connect(ctx context.Context) (mcp.Connection, error) {
	p, err := childproc.Start(t.cmd, t.log)
	if err != nil {
		return nil, err
	}
	var r io.ReadCloser = procStdout{p}
	if t.fence != nil {
		r = &fenceBody{fenceReader: fenceReader{r: r, f: t.fence}, c: r}
	}
	return (&mcp.IOTransport{Reader: r, Writer: procStdin{p}}).Connect(ctx)
}

// procStdout is the child's stdout. Closing the connection closes the reader
// first: that is left to procStdin's Close, once the child is gone, so that
// the child never writes into a closed pipe while it shuts down.
type procStdout struct{ p *childproc.Process }

func (r procStdout) Read(b []byte) (int, error) { return r.p.Stdout.Read(b) }
func (r procStdout) Close() error               { return nil }

// procStdin is the child's stdin; closing it stops the child and its group.
type procStdin struct{ p *childproc.Process }

func (w procStdin) Write(b []byte) (int, error) { return w.p.Stdin.Write(b) }
func (w procStdin) Close() error {
	w.p.Stop(context.Background())
	return w.p.Stdout.Close()
}

// connected and disconnected count the client sessions holding a session
// with the backend; failed records why one could not.
func (b *backend) connected() {
	b.mu.Lock()
	b.sessions++
	b.lastOK = time.Now()
	b.mu.Unlock()
}

func (b *backend) disconnected() {
	b.mu.Lock()
	b.sessions--
	b.mu.Unlock()
}

func (b *backend) failed(err error) {
	b.mu.Lock()
	b.lastErr, b.lastErrAt = err.Error(), time.Now()
	b.mu.Unlock()
}

// Status is a backend's health as /readyz shows it.
type Status struct {
	Name      string    `json:"name"`
	Kind      string    `json:"kind"` // http or stdio
	Sessions  int       `json:"sessions"`
	LastError string    `json:"lastError,omitempty"`
	LastErrAt time.Time `json:"lastErrorAt,omitzero"`
	LastOK    time.Time `json:"lastConnectedAt,omitzero"`
}

func (b *backend) status() Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	kind := "stdio"
	if b.client != nil {
		kind = "http"
	}
	return Status{Name: b.Name, Kind: kind, Sessions: b.sessions, LastError: b.lastErr, LastErrAt: b.lastErrAt, LastOK: b.lastOK}
}
