package e2e

// The load of the fault tests (faults_test.go): echo calls from several
// goroutines, which must not call t.Fatal off the test's own.

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ---------------------------------------------------------------------------
// Load

// loadResult is one request of a load run.
type loadResult struct {
	id    string
	phase int32     // the phase when it was sent
	err   error     // nil: it succeeded
	at    time.Time // when it ended
}

// echoLoad runs echo calls from several goroutines, each on its own
// session, one after another with a pause between (a bounded, constant
// load), recording every outcome with the phase it was sent in. Request
// ids stay below 10^6 so that every rendering of them (the audit log's JSON
// number read back as a float, fmt.Sprint) is the plain integer.
type echoLoad struct {
	phase   atomic.Int32
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	results []loadResult
}

// startEchoLoad starts one goroutine per session in sids. Request ids are
// (worker+1)*100000 + n, unique across the run (at most 9 workers). untilErr stops a worker at
// its first failure (for a drain, where the listener going away is
// expected); otherwise workers run until finish.
func startEchoLoad(url string, sids []string, pause time.Duration, untilErr bool) *echoLoad {
	l := &echoLoad{stop: make(chan struct{})}
	for w, sid := range sids {
		l.wg.Go(func() {
			c := newStreamClient()
			defer c.CloseIdleConnections()
			for n := 1; ; n++ {
				select {
				case <-l.stop:
					return
				default:
				}
				id := strconv.Itoa((w+1)*100_000 + n)
				phase := l.phase.Load()
				err := tryEcho(c, url, sid, id, "load "+id, 30*time.Second)
				l.mu.Lock()
				l.results = append(l.results, loadResult{id: id, phase: phase, err: err, at: time.Now()})
				l.mu.Unlock()
				if err != nil && untilErr {
					return
				}
				select {
				case <-l.stop:
					return
				case <-time.After(pause):
				}
			}
		})
	}
	return l
}

// finish stops the workers and returns every outcome.
func (l *echoLoad) finish() []loadResult {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]loadResult(nil), l.results...)
}

// count returns how many requests have completed so far.
func (l *echoLoad) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.results)
}
