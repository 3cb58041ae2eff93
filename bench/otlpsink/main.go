// Command otlpsink is an OTLP/HTTP receiver that accepts and discards
// everything, for load benchmarks: the gateway pays the full cost of
// exporting spans, and no trace store's own CPU is charged to it.
//
//	otlpsink -listen 127.0.0.1:14318
//
// It answers every POST to /v1/traces, /v1/metrics and /v1/logs with an
// empty protobuf Export*ServiceResponse (zero bytes encode "all accepted"),
// and prints what it received when stopped.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:14318", "loopback `address` to listen on")
	flag.Parse()
	host, _, err := net.SplitHostPort(*listen)
	if err != nil || (host != "127.0.0.1" && host != "localhost" && host != "::1") {
		log.Fatalf("otlpsink: -listen must be a loopback host:port, got %q", *listen)
	}
	var requests, bytes atomic.Int64
	discard := func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		requests.Add(1)
		bytes.Add(n)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}
	mux := http.NewServeMux()
	for _, p := range []string{"/v1/traces", "/v1/metrics", "/v1/logs"} {
		mux.HandleFunc("POST "+p, discard)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("otlpsink: %v", err)
	}
	srv := &http.Server{Handler: mux}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	fmt.Printf("otlpsink listening on http://%s\n", ln.Addr())
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatalf("otlpsink: %v", err)
	}
	fmt.Printf("otlpsink: %d requests, %d bytes discarded\n", requests.Load(), bytes.Load())
}
