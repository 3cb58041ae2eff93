package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpgate/mcpgate/internal/aggregate"
	"github.com/mcpgate/mcpgate/internal/authn"
	"github.com/mcpgate/mcpgate/internal/authzstage"
	"github.com/mcpgate/mcpgate/internal/config"
	"github.com/mcpgate/mcpgate/internal/guard"
	"github.com/mcpgate/mcpgate/internal/health"
	"github.com/mcpgate/mcpgate/internal/httprelay"
	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/observe"
	"github.com/mcpgate/mcpgate/internal/otelsetup"
	"github.com/mcpgate/mcpgate/internal/record"
	"github.com/mcpgate/mcpgate/internal/redact"
	"github.com/mcpgate/mcpgate/internal/sealedsession"
	"github.com/mcpgate/mcpgate/internal/sessionbind"
	"github.com/mcpgate/mcpgate/internal/sessionseal"
	"github.com/mcpgate/mcpgate/internal/stdiorelay"
	"github.com/mcpgate/mcpgate/internal/telemetry"
)

// Version is the gateway's version, set by the linker in releases.
var Version = "dev"

// Gateway is one configured mcpgate instance.
type Gateway struct {
	cfg     *config.Config
	log     *slog.Logger
	backend backend
	public  *http.Server
	admin   *http.Server
	certs   *certReloader // nil without TLS
	auth    *authn.Authenticator
	// principals names principals beyond authentication: pseudonyms, span
	// attribution and the audit log.
	principals *principals
	// sessions is the session stage: sealed session ids with
	// sessions.keys (internal/sealedsession), else the in-memory binding
	// (internal/sessionbind).
	sessions   func(http.Handler) http.Handler
	authz      *authzstage.Stage
	rateLimits *rateLimits
	otel       *otelsetup.Providers
	tel        *telemetry.Telemetry // nil when traces and metrics are both off
	// supported lists the revisions the -32022 error for an unknown one
	// offers (inspect.Options.Supported).
	supported func() []string

	draining  atomic.Bool
	drainOnce sync.Once
	drained   chan struct{} // closed when draining starts: ends open GET streams
}

// backend is the relay behind the chain: a stdio or HTTP relay with one
// backend, the aggregator with several. Each reports its own backends'
// health, so that /readyz needs to know none of their types.
type backend interface {
	http.Handler
	Close(ctx context.Context) error
	Status() []health.Backend
}

type httpBackend struct{ *httprelay.Relay }

func (httpBackend) Close(context.Context) error { return nil }

// New builds a gateway from a validated configuration. What it has started
// (telemetry exporters, the audit log's writer, the backend's janitor or
// reaper and children, the identity providers' key refreshes) is stopped
// again when a later step fails: a failed New leaves nothing running.
func New(cfg *config.Config, log *slog.Logger) (g *Gateway, err error) {
	if len(cfg.Backends) == 0 {
		return nil, errors.New("no backend configured")
	}
	if cfg.Redacts() {
		// No component logs a value a ${env:…}/${file:…} reference
		// resolved to (a backend URL's api_key quoted in an error, say).
		log = redact.Logger(log, cfg.Redact)
	}
	// undo holds what releases each step that started something, run in
	// reverse when a later step fails.
	var undo []func()
	defer func() {
		if err != nil {
			for _, f := range slices.Backward(undo) {
				f()
			}
		}
	}()
	g = &Gateway{cfg: cfg, log: log, drained: make(chan struct{})}
	pr, err := newPrincipals(cfg)
	if err != nil {
		return nil, err
	}
	g.principals = pr
	topts := telemetryOptions(cfg, log)
	topts.Attribution = pr.spanAttribution()
	topts.RateLimitRules = ruleNames(cfg)
	otel, err := otelsetup.Setup(context.Background(), topts)
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	undo = append(undo, func() { _ = otel.Shutdown(context.Background()) })
	g.otel, g.tel = otel, otel.Telemetry()
	for _, w := range pr.startupWarnings(cfg, otel.TracesExporter) {
		log.Warn(w)
	}
	undo = append(undo, func() {
		if pr.audit != nil {
			_ = pr.audit.Close(context.Background())
		}
	})
	if err := pr.openAudit(cfg, log, ruleNames(cfg)); err != nil {
		return nil, err
	}
	if pr.audit != nil {
		a := pr.audit
		if err := g.tel.ObserveAudit(telemetry.AuditCounters{Dropped: a.Dropped, Lost: a.Lost, Errors: a.Errors, Folded: a.Folded}); err != nil {
			return nil, fmt.Errorf("audit metrics: %w", err)
		}
	}
	if g.rateLimits, err = newRateLimits(cfg, pr.pseudonyms, g.tel, log); err != nil {
		return nil, err
	}
	undo = append(undo, g.rateLimits.close)
	var b backend
	var ag *aggregate.Aggregator
	if len(cfg.Backends) == 1 {
		// Relayed, the server a client sees is the backend: the
		// gateway's own -32022 errors offer what it advertises.
		versions := new(mcpwire.Advertised)
		g.supported = versions.Supported
		b, err = newBackend(&cfg.Backends[0], cfg, log, g.tel, versions)
	} else if ag, err = newAggregator(cfg, log, g.tel); err == nil {
		b = ag
		// The gateway is the server: what its server/discover lists.
		g.supported = ag.SupportedVersions
	}
	if err != nil {
		return nil, err
	}
	undo = append(undo, func() {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeouts.Shutdown)
		defer cancel()
		_ = b.Close(ctx)
	})
	if ag != nil {
		if err := probeNames(ag, cfg, log); err != nil {
			return nil, err
		}
	}
	g.backend = b
	aopts := authn.OptionsFromConfig(&cfg.Auth)
	aopts.OnKeyFetch = g.tel.JWKSFetch
	aopts.Logger = log
	if g.auth, err = authn.New(aopts); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	undo = append(undo, g.auth.Close)
	if g.sessions, err = sessionStage(cfg, ag, log); err != nil {
		return nil, err
	}
	if g.authz, err = newAuthz(cfg); err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.Handle(cfg.Path, Chain(b, g.stages()...))
	if cfg.Auth.Resource != "" {
		// RFC 9728 metadata, outside the chain: clients fetch it before
		// they have a token.
		for _, p := range g.auth.MetadataPaths() {
			mux.Handle("GET "+p, g.auth.MetadataHandler())
		}
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeStatus(w, http.StatusOK, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if rd := g.readiness(); !rd.ready() {
			writeStatus(w, http.StatusServiceUnavailable, rd.reason())
			return
		}
		writeStatus(w, http.StatusOK, "ready")
	})
	g.public = &http.Server{
		Addr:              cfg.Listen,
		Handler:           mux,
		ReadHeaderTimeout: cfg.Timeouts.ReadHeader,
		IdleTimeout:       cfg.Timeouts.Idle,
		// net/http's own cap answers before any stage runs, with a plain
		// text 431 that is not observed; it sits above the configured limit
		// so that the limits stage, which is observed, answers first.
		MaxHeaderBytes: int(2 * cfg.Limits.MaxHeaderBytes),
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		// No WriteTimeout: it would cut long-lived SSE streams.
	}
	if cfg.TLS.Enabled() {
		g.certs, err = newCertReloader(cfg.TLS.CertFile, cfg.TLS.KeyFile)
		if err != nil {
			return nil, err
		}
		g.public.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: g.certs.get}
	}
	if cfg.Admin.Listen != "" {
		g.admin = &http.Server{Addr: cfg.Admin.Listen, Handler: g.adminMux(), ReadHeaderTimeout: 10 * time.Second}
	}
	return g, nil
}

// sessionStage returns the sealed-session stage when session keys are
// configured, else the in-memory binding. Sealed, a relayed HTTP backend's
// sessions can move between replicas, and so can an aggregated session of
// HTTP backends (the aggregator adopts it); a stdio child cannot, and a
// session that holds one is pinned to this replica.
func sessionStage(cfg *config.Config, ag *aggregate.Aggregator, log *slog.Logger) (func(http.Handler) http.Handler, error) {
	if !cfg.Sessions.Sealed() {
		return sessionbind.New(binderOptions(cfg)).Middleware(), nil
	}
	keys := make([]sessionseal.Key, len(cfg.Sessions.Keys))
	for i, k := range cfg.Sessions.Keys {
		keys[i] = sessionseal.Key{ID: k.ID, Secret: k.Secret}
	}
	ring, err := sessionseal.New(keys, nil)
	if err != nil {
		return nil, fmt.Errorf("sessions.keys: %w", err)
	}
	replica := cfg.Sessions.Replica
	if replica == "" {
		if replica, err = os.Hostname(); err != nil || replica == "" {
			return nil, fmt.Errorf("sessions.replica is not set and the host name is unknown (%v): set it", err)
		}
	}
	opts := sealedsession.Options{
		Ring:     ring,
		Lifetime: cfg.Sessions.MaxLifetime,
		Replica:  replica,
		Log:      log,
	}
	switch {
	case ag != nil && ag.Movable():
		opts.Adopter = ag
	case ag != nil:
		opts.Pinned = true
	default:
		opts.Pinned = cfg.Backends[0].IsCommand()
	}
	return sealedsession.New(opts).Middleware, nil
}

// binderOptions configures session binding. Only with no credential mode
// at all may an unknown session id be passed on: as soon as callers can be
// told apart, an id the binder does not know (forgotten, or from before a
// restart) is refused to anonymous callers too.
func binderOptions(cfg *config.Config) sessionbind.Options {
	return sessionbind.Options{
		IdleTimeout:   cfg.Sessions.IdleTimeout,
		AnonymousOnly: !cfg.Auth.Has(config.AuthOIDC) && !cfg.Auth.Has(config.AuthAPIKey),
	}
}

// stages is the one place that lists the request path, outermost first
// (docs/architecture.md, "The request path"); audit and telemetry are reporters of observe. authn comes
// after inspect, so that a rejected request is still recorded with what it
// asked for, and before sessions, which binds sessions to the principal
// authn found. TestStageOrder pins this list.
func (g *Gateway) stages() []Stage {
	cfg := g.cfg
	return []Stage{
		{"observe", observe.NewWithOptions(observe.Options{TrustedProxies: cfg.TrustedProxies}, g.reporters()...)},
		{"recover", guard.Recover(g.log)},
		{"limits", guard.Limits(cfg.Limits.MaxHeaderBytes, cfg.Limits.MaxBodyBytes, cfg.Timeouts.ReadBody)},
		{"origin", guard.Origin(guard.OriginPolicy{
			AllowedOrigins:   cfg.CORS.AllowedOrigins,
			AllowAny:         cfg.CORS.Wildcard,
			AllowCredentials: cfg.CORS.AllowCredentials,
			MaxAge:           cfg.CORS.MaxAge,
			Hosts:            hostPolicy(cfg),
		})},
		{"drain", g.endStreamsOnDrain},
		{"inspect", inspect.New(inspect.Options{
			Limits:       jsonrpc.Limits{MaxDepth: cfg.Limits.MaxDepth, MaxBatch: cfg.Limits.MaxBatch},
			ReadTimeout:  cfg.Timeouts.ReadBody,
			APIKeyHeader: cfg.Auth.APIKeyHeader,
			Supported:    g.supported,
		})},
		{"authn", g.auth.Middleware()},
		// trace right after authn: only an admitted request's trace context
		// may parent its spans (those of rejected ones are new roots,
		// started by the telemetry reporter).
		{"trace", g.tel.Stage()},
		{"sessions", g.sessions},
		// After sessions: decided on the principal authn found, for a
		// session it owns; before audit and the relay, so that a denied
		// message reaches no backend, and so that list results are
		// filtered in front of every relay alike.
		{"authz", g.authz.Middleware},
		// ratelimit after authz (which follows sessions): a call the
		// policies deny spends no quota, costs no Redis round trip, and
		// gets the 403 that says retrying will not help rather than a 429
		// that invites a retry. Floods of unauthenticated callers are
		// refused earlier by authn; Cedar's evaluation is in memory.
		{"ratelimit", g.rateLimits.stage()},
		// With audit.failClosed, nothing reaches a backend unaudited.
		{"audit", g.principals.auditGuard()},
		// Last: captures the bodies exactly as relayed (when enabled).
		{"capture", g.principals.auditCapture()},
	}
}

// reporters are told about every request when it ends.
func (g *Gateway) reporters() []observe.Reporter {
	var rs []observe.Reporter
	if g.cfg.Redacts() {
		// First of all: the detail of a failed request may hold a backend
		// error quoting its URL; spans, the audit log and the log line all
		// carry it, so it is redacted once, before any of them reads it.
		rs = append(rs, observe.ReporterFunc(func(_ context.Context, rec *record.Record) {
			rec.Detail = g.cfg.Redact(rec.Detail)
			for i := range rec.Ops {
				if op := &rec.Ops[i]; op.Error.Valid {
					// The SDK can turn a transport failure into an error
					// message that quotes the URL.
					op.Error.Message = g.cfg.Redact(op.Error.Message)
				}
			}
		}))
	}
	if g.tel != nil {
		// First: the request's spans exist (a rejected request's are started
		// here) before the log line and audit event that carry their ids.
		rs = append(rs, g.tel.Reporter())
	}
	if g.principals.auditRep != nil {
		rs = append(rs, g.principals.auditRep)
	}
	if r := g.cfg.Log.Requests; r != "none" {
		rs = append(rs, observe.Logger(g.log, r != "all"))
	}
	return rs
}

// endStreamsOnDrain ends GET streams when shutdown begins: they never end on
// their own, and a graceful stop must not wait its whole bound on them.
// Requests in flight are left to finish.
func (g *Gateway) endStreamsOnDrain(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		go func() {
			select {
			case <-g.drained:
				cancel()
			case <-ctx.Done():
			}
		}()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func newBackend(b *config.Backend, cfg *config.Config, log *slog.Logger, tel *telemetry.Telemetry, versions *mcpwire.Advertised) (backend, error) {
	if b.IsCommand() {
		env := make([]string, 0, len(b.Env))
		for k, v := range b.Env {
			env = append(env, k+"="+v)
		}
		return stdiorelay.New(stdiorelay.Options{
			Name:                    b.Name,
			Command:                 stdiorelay.Command{Argv: b.Argv(), Env: env, InheritEnv: b.InheritEnv, Dir: b.Dir},
			Isolation:               stdiorelay.Isolation(b.Isolation),
			MaxSessions:             b.MaxSessions,
			MaxSessionsPerPrincipal: b.MaxSessionsPerPrincipal,
			IdleTimeout:             cfg.Sessions.IdleTimeout,
			InitialBackoff:          b.Restart.InitialBackoff,
			MaxBackoff:              b.Restart.MaxBackoff,
			Telemetry:               tel,
			Versions:                versions,
			Logger:                  log,
		})
	}
	u, headers, tlsConf, err := remoteBackend(b)
	if err != nil {
		return nil, err
	}
	r, err := httprelay.New(httprelay.Options{
		Name:             b.Name,
		URL:              u,
		Headers:          headers,
		TLS:              tlsConf,
		ConnectTimeout:   b.Timeouts.Connect,
		FirstByteTimeout: b.Timeouts.FirstByte,
		IdleTimeout:      b.Timeouts.Idle,
		TrustedProxies:   cfg.TrustedProxies,
		ForwardHeaders:   b.ForwardHeaders,
		Telemetry:        tel,
		Versions:         versions,
		Logger:           log,
	})
	if err != nil {
		return nil, err
	}
	return httpBackend{r}, nil
}

// remoteBackend returns what reaching a remote backend takes: its URL,
// static headers and TLS client settings.
func remoteBackend(b *config.Backend) (*url.URL, http.Header, *tls.Config, error) {
	u, err := url.Parse(b.URL)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("backend %q: %w", b.Name, err)
	}
	tlsConf, err := backendTLS(&b.TLS)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("backend %q: %w", b.Name, err)
	}
	headers := http.Header{}
	for k, v := range b.Headers {
		headers.Set(k, v)
	}
	return u, headers, tlsConf, nil
}

func backendTLS(t *config.BackendTLS) (*tls.Config, error) {
	if t.CAFile == "" && t.CertFile == "" && t.ServerName == "" && t.MinVersion == 0 {
		return nil, nil
	}
	c := &tls.Config{ServerName: t.ServerName, MinVersion: max(t.MinVersion, tls.VersionTLS12)}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.caFile %s: no PEM certificates", t.CAFile)
		}
		c.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, err
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

func (g *Gateway) adminMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeStatus(w, http.StatusOK, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		rd := g.readiness()
		detail := map[string]any{"version": Version, "draining": rd.draining, "mode": g.mode()}
		auth := map[string]any{"modes": g.cfg.Auth.Mode, "ready": rd.auth == nil}
		if rd.auth != nil {
			auth["error"] = g.cfg.Redact(rd.auth.Error())
		}
		detail["auth"] = auth
		sts := g.backend.Status()
		for i := range sts {
			// A backend's last error may quote its URL (query included).
			sts[i].LastError = g.cfg.Redact(sts[i].LastError)
		}
		detail["backends"] = sts
		if a := g.principals.audit; a != nil {
			ad := map[string]any{"healthy": rd.audit == nil, "failClosed": a.FailClosed(),
				"dropped": a.Dropped(), "lost": a.Lost(), "errors": a.Errors()}
			if rd.audit != nil {
				ad["error"] = g.cfg.Redact(rd.audit.Error())
			}
			detail["audit"] = ad
		}
		status := http.StatusOK
		if !rd.ready() {
			status = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(detail)
	})
	if h := g.otel.PrometheusHandler(); h != nil {
		mux.Handle("GET /metrics", h)
	}
	if g.cfg.Admin.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

func writeStatus(w http.ResponseWriter, code int, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(s + "\n"))
}

// Handler returns the public listener's handler, for tests.
func (g *Gateway) Handler() http.Handler { return g.public.Handler }

// Run listens and serves until ctx is done, then drains: readiness turns
// false, new connections are refused, open GET streams end, requests in
// flight get up to the configured shutdown bound to finish, and stdio
// children are stopped. ready, when not nil, is called with the bound
// addresses once both listeners accept connections.
func (g *Gateway) Run(ctx context.Context, ready func(public, admin net.Addr)) error {
	pl, err := net.Listen("tcp", g.cfg.Listen)
	if err != nil {
		g.release()
		return fmt.Errorf("public listener: %w", err)
	}
	var al net.Listener
	if g.admin != nil {
		if al, err = net.Listen("tcp", g.cfg.Admin.Listen); err != nil {
			pl.Close()
			g.release()
			return fmt.Errorf("admin listener: %w", err)
		}
	}
	errc := make(chan error, 2)
	go func() {
		if g.certs != nil {
			errc <- g.public.ServeTLS(pl, "", "")
		} else {
			errc <- g.public.Serve(pl)
		}
	}()
	if al != nil {
		go func() { errc <- g.admin.Serve(al) }()
	}
	var adminAddr net.Addr
	if al != nil {
		adminAddr = al.Addr()
	}
	g.log.Info("mcpgate serving", "listen", pl.Addr().String(), "path", g.cfg.Path,
		"admin", fmt.Sprint(adminAddr), "tls", g.certs != nil, "version", Version,
		"traces", g.otel.TracesExporter, "metrics", g.otel.MetricsExporter)
	if g.otel.PrometheusHandler() != nil && al == nil {
		g.log.Warn("metrics exporter prometheus but admin.listen is empty: /metrics is not served anywhere")
	}
	if g.cfg.Telemetry.RecordToolArguments && g.otel.TracesExporter != otelsetup.ExporterNone {
		g.log.Warn("telemetry.recordToolArguments is on: tool arguments (redacted, capped) are exported with spans")
	}
	if ready != nil {
		ready(pl.Addr(), adminAddr)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			g.shutdown()
			return err
		}
	case <-ctx.Done():
	}
	return g.shutdown()
}

// shutdown drains and stops within one bound, timeouts.shutdown from the
// moment it begins to its return: the drain, the backend's children and
// the flushes of the audit log and the spans share one deadline (a context
// each step derives from), so that no step can add time of its own. The
// drain ends shutdownReserve before the deadline, leaving the rest to the
// steps after it even when requests use up their share.
func (g *Gateway) shutdown() error {
	g.draining.Store(true)
	g.drainOnce.Do(func() { close(g.drained) })
	bound := g.cfg.Timeouts.Shutdown
	reserve := shutdownReserve(bound)
	g.log.Info("draining", "bound", bound, "drain", bound-reserve)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	deadline, _ := ctx.Deadline()
	drainCtx, cancelDrain := context.WithDeadline(ctx, deadline.Add(-reserve))
	defer cancelDrain()
	if d := g.cfg.Timeouts.DrainDelay; d > 0 {
		// /readyz already says 503; the load balancer has not seen it yet.
		g.log.Info("draining: still accepting requests while load balancers take this replica out", "drain_delay", d)
		select {
		case <-time.After(d):
		case <-drainCtx.Done():
		}
	}
	if err := g.public.Shutdown(drainCtx); err != nil {
		g.log.Warn("requests still in flight at the drain bound; closing them", "error", err)
		g.public.Close()
	}
	if g.admin != nil {
		if err := g.admin.Shutdown(drainCtx); err != nil {
			g.admin.Close()
		}
	}
	// The children stop first, until half the reserve is left: a session
	// that ends records its duration, which the telemetry flush exports.
	stopCtx, cancelStop := context.WithDeadline(ctx, deadline.Add(-reserve/2))
	defer cancelStop()
	g.stop(ctx, stopCtx)
	g.log.Info("stopped")
	return nil
}

// release stops what New started when Run cannot serve at all (a listener
// that cannot bind): nothing was served, so there is nothing to drain.
func (g *Gateway) release() {
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.Timeouts.Shutdown)
	defer cancel()
	g.stop(ctx, ctx)
}

// stop stops the backend (its children, until stopCtx) and the identity
// providers' key refreshes, then flushes the audit log and the spans
// (until ctx).
func (g *Gateway) stop(ctx, stopCtx context.Context) {
	if err := g.backend.Close(stopCtx); err != nil {
		g.log.Warn("backend did not stop cleanly", "error", err)
	}
	g.auth.Close()
	g.rateLimits.close()
	// Every request has ended, so every audit event is queued and every
	// span has ended: flush both at once, until the deadline.
	var wg sync.WaitGroup
	if a := g.principals.audit; a != nil {
		wg.Go(func() {
			if err := a.Close(ctx); err != nil {
				g.log.Warn("audit log not flushed completely", "error", err)
			}
		})
	}
	wg.Go(func() {
		if err := g.otel.Shutdown(ctx); err != nil {
			g.log.Warn("telemetry not flushed completely", "error", err)
		}
	})
	wg.Wait()
}

// shutdownReserve is the part of the shutdown bound kept for stopping the
// children and flushing the audit log and spans after the drain: a
// quarter, at most 5 s.
func shutdownReserve(bound time.Duration) time.Duration {
	return min(bound/4, 5*time.Second)
}

// ReopenAudit closes and reopens the audit log's file (SIGHUP), so that a
// log rotator can move it away; no event is lost.
func (g *Gateway) ReopenAudit() error {
	if g.principals.audit == nil {
		return nil
	}
	return g.principals.audit.Reopen()
}

// ReloadTLS rereads the public listener's certificate and key (SIGHUP).
func (g *Gateway) ReloadTLS() error {
	if g.certs == nil {
		return nil
	}
	return g.certs.reload()
}
