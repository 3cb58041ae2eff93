package main

import (
	"flag"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
)

// newProxy returns the baseline arm: the standard library's reverse proxy
// with nothing added, so the gateway's cost is measured against what any Go
// HTTP relay costs. Request paths are kept (SetURL would append them to the
// upstream's path), so clients use the same /mcp path on every arm.
// FlushInterval is left at its default, 0, as in mcpgate's relay:
// ReverseProxy flushes every write of an SSE or unknown-length response by
// itself, and writes a response of known length out when it is done.
//
// Its transport keeps as many idle upstream connections as mcpgate's does:
// http.DefaultTransport keeps 2 per host, and with more concurrent clients
// than that the baseline would pay for new connections the gateway does not,
// flattering the gateway.
func newProxy(upstream *url.URL) http.Handler {
	base := &url.URL{Scheme: upstream.Scheme, Host: upstream.Host}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = 1024
	transport.MaxIdleConnsPerHost = 512
	rp := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(base) },
		Transport: transport,
	}
	mux := http.NewServeMux()
	mux.Handle("/", rp)
	mux.HandleFunc("GET /healthz", healthz)
	return mux
}

// runProxy is `loadbench proxy`. Like the backend it prints its URL first.
func runProxy(args []string) error {
	fs := flag.NewFlagSet("proxy", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "loopback `address` to listen on (port 0 picks one)")
	upstream := fs.String("upstream", "", "the backend's MCP endpoint `URL` (loopback only); its path must be the one clients use")
	fs.Parse(args)

	u, err := parseLoopbackURL(*upstream)
	if err != nil {
		return fmt.Errorf("-upstream: %w", err)
	}
	ln, err := listenLoopback(*listen)
	if err != nil {
		return err
	}
	fmt.Printf("http://%s%s\n", ln.Addr(), u.Path)
	return serveUntilSignal(ln, newProxy(u))
}
