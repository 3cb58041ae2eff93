package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// target is where one arm's clients send requests, with the HTTP client
// they share: one Transport per arm, so arms never reuse each other's
// connections, sized so that every client keeps its connection alive.
type target struct {
	name string
	url  string
	tool string // the echo tool's name at this arm ("echo" unless -tool renames it)
	// authorization is sent as the Authorization header when set (-oidc).
	// The proxy arm passes it on to the backend, which ignores it.
	authorization string
	hc            *http.Client
	dials         atomic.Int64 // TCP connections opened, to spot a relay that defeats keep-alive
}

func newTarget(name, url string, clients int, timeout time.Duration) *target {
	t := &target{name: name, url: url, tool: "echo"}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	t.hc = &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy: nil, // never via an HTTP proxy from the environment
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				t.dials.Add(1)
				return dialer.DialContext(ctx, network, addr)
			},
			MaxIdleConns:        0, // no overall limit
			MaxIdleConnsPerHost: 2 * clients,
			IdleConnTimeout:     5 * time.Minute,
			DisableCompression:  true,
		},
	}
	return t
}

func (t *target) closeIdle() { t.hc.CloseIdleConnections() }

// loadConfig is what every round of every arm shares.
type loadConfig struct {
	clients     int
	duration    time.Duration
	maxRequests int // per client per round: a hard bound besides the duration
	message     []byte
	// newSessions (-sessions) makes the unit of work the opening of a
	// session instead of a call: each iteration of a client times initialize
	// and notifications/initialized on a new session, then deletes it
	// (untimed). requireSessionID fails an iteration whose initialize
	// returned no Mcp-Session-Id (a backend with sessions always sends one).
	newSessions      bool
	requireSessionID bool
}

// roundResult is one arm's measurements over one round.
type roundResult struct {
	Requests   int // successful calls
	Errors     int // failed handshakes and calls
	Elapsed    time.Duration
	Throughput float64 // successful calls per second
	P50, P99   time.Duration
	Dials      int64 // connections opened during the round
	FirstError string
	CPU        cpuPerRequest // zero if it could not be read
}

// maxErrorsPerClient stops a client that keeps failing: the run has failed
// already, and a dead arm would otherwise be hammered until the deadline.
const maxErrorsPerClient = 100

// runRound opens cfg.clients sessions on t, then has each make tools/call
// requests back to back for cfg.duration, and closes the sessions. Only the
// calls are timed: handshakes happen before the clock starts. With
// cfg.newSessions, cfg.clients clients instead open sessions back to back,
// each timed, and delete each right after.
func runRound(ctx context.Context, t *target, cfg loadConfig) roundResult {
	type clientResult struct {
		lat    []time.Duration
		errors int
		first  error
		end    time.Time
	}
	results := make([]clientResult, cfg.clients)
	sessions := make([]*session, cfg.clients)
	dials0 := t.dials.Load()

	// Handshakes, concurrently.
	var wg sync.WaitGroup
	for i := range cfg.clients {
		if cfg.newSessions {
			break
		}
		wg.Go(func() {
			s, err := handshake(ctx, t)
			if err != nil {
				results[i].errors++
				results[i].first = err
				return
			}
			sessions[i] = s
		})
	}
	wg.Wait()

	start := time.Now()
	deadline := start.Add(cfg.duration)
	for i := range cfg.clients {
		s := sessions[i]
		if s == nil && !cfg.newSessions {
			continue
		}
		r := &results[i]
		wg.Go(func() {
			r.lat = make([]time.Duration, 0, 4096)
			// Ids are unique per session and distinct from initialize's 0.
			for n := 1; n <= cfg.maxRequests && r.errors < maxErrorsPerClient; n++ {
				if ctx.Err() != nil || !time.Now().Before(deadline) {
					break
				}
				t0 := time.Now()
				var err error
				if cfg.newSessions {
					err = openSession(ctx, t, cfg.requireSessionID, &r.lat, t0)
				} else {
					err = s.call(ctx, int64(n), cfg.message)
				}
				if err != nil {
					r.errors++
					if r.first == nil {
						r.first = err
					}
					continue
				}
				if !cfg.newSessions {
					r.lat = append(r.lat, time.Since(t0))
				}
			}
			r.end = time.Now()
		})
	}
	wg.Wait()
	end := start
	for _, r := range results {
		if r.end.After(end) {
			end = r.end
		}
	}

	closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range sessions {
		if s != nil {
			wg.Go(func() { s.close(closeCtx) })
		}
	}
	wg.Wait()

	var res roundResult
	var all []time.Duration
	for _, r := range results {
		all = append(all, r.lat...)
		res.Errors += r.errors
		if r.first != nil && res.FirstError == "" {
			res.FirstError = r.first.Error()
		}
	}
	slices.Sort(all)
	res.Requests = len(all)
	res.Elapsed = end.Sub(start)
	if res.Elapsed > 0 {
		res.Throughput = float64(res.Requests) / res.Elapsed.Seconds()
	}
	res.P50 = percentile(all, 50)
	res.P99 = percentile(all, 99)
	res.Dials = t.dials.Load() - dials0
	return res
}

// openSession opens one session on t, appends the time since t0 to lat
// when it has been opened, and deletes it: the deletion is not timed, but
// it keeps the backend (and a gateway's session table) from filling up
// over a run, as a client that ends its sessions would.
func openSession(ctx context.Context, t *target, requireID bool, lat *[]time.Duration, t0 time.Time) error {
	s, err := handshake(ctx, t)
	if err != nil {
		return err
	}
	d := time.Since(t0)
	if requireID && s.id == "" {
		return errors.New("initialize: no Mcp-Session-Id from a backend with sessions")
	}
	*lat = append(*lat, d)
	s.close(ctx)
	return nil
}

// makeMessage returns an n-byte ASCII message for echo, distinct per run
// only in length: content does not matter to a relay, size does.
func makeMessage(n int) []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[i%len(alphabet)]
	}
	return b
}

func (r roundResult) String() string {
	return fmt.Sprintf("%d req in %v, %.0f req/s, p50 %v, p99 %v, CPU/req relay %v backend %v client %v, %d errors",
		r.Requests, r.Elapsed.Round(time.Millisecond), r.Throughput, r.P50, r.P99,
		r.CPU.Relay.Round(100*time.Nanosecond), r.CPU.Backend.Round(100*time.Nanosecond), r.CPU.Client.Round(100*time.Nanosecond), r.Errors)
}
