package aggregate

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/observe"
	"github.com/mcpgate/mcpgate/internal/record"
	"github.com/mcpgate/mcpgate/internal/telemetry"
)

// testBackend is a Go SDK server over Streamable HTTP whose tools answer
// with the backend's name, and which records the headers of tools/call
// requests.
type testBackend struct {
	name   string
	srv    *httptest.Server
	mu     sync.Mutex
	hdrs   []http.Header
	bodies []string
	// cancelled is closed when the "slow" tool's context ends early;
	// cancels counts the notifications/cancelled the backend was sent.
	cancelled chan struct{}
	cancels   int
}

func newTestBackend(t *testing.T, name string, tools []string, resources []string) *testBackend {
	return newTestBackendSSE(t, name, tools, resources, false)
}

// newTestBackendSSE is newTestBackend answering with event streams when sse
// is set. Its tool "slow" sends two progress notifications and then waits
// for cancellation (or 10s).
func newTestBackendSSE(t *testing.T, name string, tools []string, resources []string, sse bool) *testBackend {
	t.Helper()
	return newTestBackendKind(t, name, tools, resources, sse, false)
}

// backendKinds are the two shapes of HTTP backend: one that keeps a
// session per client (Mcp-Session-Id), and a stateless one (the Go SDK's
// Stateless: true), which assigns no session and serves each POST alone.
var backendKinds = []struct {
	name      string
	stateless bool
}{{"session backend", false}, {"stateless backend", true}}

// newTestBackendKind is newTestBackendSSE, stateless when asked.
func newTestBackendKind(t *testing.T, name string, tools []string, resources []string, sse, stateless bool) *testBackend {
	t.Helper()
	b := &testBackend{name: name, cancelled: make(chan struct{})}
	server := mcp.NewServer(&mcp.Implementation{Name: name, Version: "1"}, nil)
	var once sync.Once
	// release ends a "slow" call still running when the test ends (a
	// stateless backend's is never cancelled), before the server closes.
	release := make(chan struct{})
	server.AddTool(&mcp.Tool{Name: "slow", InputSchema: map[string]any{"type": "object"}},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			for i := range 2 {
				_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: req.Params.GetProgressToken(), Progress: float64(i + 1), Total: 2})
			}
			select {
			case <-ctx.Done():
				once.Do(func() { close(b.cancelled) })
				return nil, ctx.Err()
			case <-time.After(10 * time.Second):
			case <-release:
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "slow done"}}}, nil
		})
	for _, tool := range tools {
		server.AddTool(&mcp.Tool{Name: tool, InputSchema: map[string]any{"type": "object"}},
			func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				text := name + ":" + req.Params.Name
				if tp, _ := req.Params.Meta["traceparent"].(string); tp != "" {
					text += " meta-tp"
				}
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil
			})
	}
	for _, uri := range resources {
		server.AddResource(&mcp.Resource{URI: uri, Name: uri},
			func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
				return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: name}}}, nil
			})
	}
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, &mcp.StreamableHTTPOptions{JSONResponse: !sse, Stateless: stateless})
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			if strings.Contains(string(body), `"notifications/cancelled"`) {
				b.mu.Lock()
				b.cancels++
				b.mu.Unlock()
			}
			if strings.Contains(string(body), `"tools/call"`) {
				b.mu.Lock()
				b.hdrs = append(b.hdrs, r.Header.Clone())
				b.bodies = append(b.bodies, string(body))
				b.mu.Unlock()
			}
			r.Body = io.NopCloser(strings.NewReader(string(body)))
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(b.srv.Close)
	t.Cleanup(func() { close(release) })
	return b
}

func (b *testBackend) backend(t *testing.T) Backend {
	u, err := url.Parse(b.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return Backend{Name: b.name, URL: u, Headers: http.Header{"X-Backend-Key": {"k-" + b.name}}}
}

// front serves agg behind the stages that matter to it: observe (with the
// telemetry reporter), inspect, an authn stand-in and the trace stage.
func front(t testing.TB, agg *Aggregator, tel *telemetry.Telemetry) string {
	t.Helper()
	authn := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			record.FromContext(r.Context()).Identity = &identity.Identity{Subject: "alice", Issuer: "urn:test"}
			next.ServeHTTP(w, r)
		})
	}
	var reps []observe.Reporter
	if tel != nil {
		reps = append(reps, tel.Reporter())
	}
	h := observe.New(nil, reps...)(inspect.New(inspect.Options{})(authn(tel.Stage()(agg))))
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = agg.Close(ctx)
	})
	return srv.URL
}

func newAggregator(t testing.TB, opts Options) *Aggregator {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Naming.Separator == "" {
		opts.Naming = Naming{Separator: "_", Prefix: true}
	}
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// paths are the two ways a tools/call goes: through the SDK's server and
// client (a client that declares roots), or spliced and relayed (a client
// that declares nothing: the fast path).
var paths = []struct {
	name string
	fast bool
}{{"sdk", false}, {"fast", true}}

func clientSession(t *testing.T, url string) *mcp.ClientSession {
	return clientSessionPath(t, url, false, nil)
}

func clientSessionPath(t *testing.T, url string, fast bool, progress func(*mcp.ProgressNotificationParams)) *mcp.ClientSession {
	t.Helper()
	opts := &mcp.ClientOptions{}
	if fast {
		opts.Capabilities = &mcp.ClientCapabilities{}
	}
	if progress != nil {
		opts.ProgressNotificationHandler = func(_ context.Context, r *mcp.ProgressNotificationClientRequest) { progress(r.Params) }
	}
	c := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, opts)
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: url, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func (b *testBackend) cancelCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cancels
}

// usedFast reports whether b's last tools/call came by the fast path (the
// gateway's own request ids).
func (b *testBackend) usedFast() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.bodies) > 0 && strings.Contains(b.bodies[len(b.bodies)-1], `"id":"mcpgate-`)
}

func toolNames(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	var names []string
	for tool, err := range cs.Tools(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names
}

func text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// TestAggregatorRoutes: merged, prefixed and filtered lists; calls and
// reads reach the backend that offered the name or URI, under its own.
func TestAggregatorRoutes(t *testing.T) {
	for _, k := range backendKinds {
		for _, p := range paths {
			t.Run(k.name+"/"+p.name, func(t *testing.T) { testRoutes(t, p.fast, k.stateless) })
		}
	}
}

func testRoutes(t *testing.T, fast, stateless bool) {
	a := newTestBackendKind(t, "a", []string{"echo", "secret_tool"}, []string{"x://same", "x://only-a"}, false, stateless)
	b := newTestBackendKind(t, "b", []string{"echo", "sum"}, []string{"x://same"}, fast, stateless)
	ba := a.backend(t)
	ba.Filter = Filter{Exclude: []string{"secret_*", "slow"}}
	bb := b.backend(t)
	bb.Filter = Filter{Exclude: []string{"slow"}}
	agg := newAggregator(t, Options{Backends: []Backend{ba, bb}})
	cs := clientSessionPath(t, front(t, agg, nil), fast, nil)
	ctx := context.Background()

	if got, want := toolNames(t, cs), []string{"a_echo", "b_echo", "b_sum"}; !slices.Equal(got, want) {
		t.Fatalf("tools = %v, want %v", got, want)
	}
	for name, want := range map[string]string{"a_echo": "a:echo", "b_echo": "b:echo", "b_sum": "b:sum"} {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: map[string]any{}})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := text(res); got != want {
			t.Errorf("%s answered %q, want %q", name, got, want)
		}
		if be := map[byte]*testBackend{'a': a, 'b': b}[name[0]]; be.usedFast() != fast {
			t.Errorf("%s: fast path used = %v, want %v", name, !fast, fast)
		}
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "a_secret_tool"}); err == nil {
		t.Error("a filtered-out tool was callable")
	}

	var uris []string
	for r, err := range cs.Resources(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		uris = append(uris, r.URI)
	}
	slices.Sort(uris)
	if want := []string{"mcpgate://b/x://same", "x://only-a", "x://same"}; !slices.Equal(uris, want) {
		t.Fatalf("resources = %v, want %v", uris, want)
	}
	for uri, want := range map[string]string{"x://same": "a", "mcpgate://b/x://same": "b", "x://only-a": "a"} {
		res, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri})
		if err != nil {
			t.Fatalf("read %s: %v", uri, err)
		}
		if len(res.Contents) != 1 || res.Contents[0].Text != want || res.Contents[0].URI != uri {
			t.Errorf("read %s = %+v, want text %q under the asked URI", uri, res.Contents[0], want)
		}
	}
	// Static headers reach the backend.
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.hdrs) == 0 || b.hdrs[0].Get("X-Backend-Key") != "k-b" {
		t.Errorf("backend b did not get its static header: %v", b.hdrs)
	}
	for _, h := range b.hdrs {
		// A stateless backend assigned none; a session backend's is sent.
		if got := h.Get("Mcp-Session-Id") != ""; got == stateless {
			t.Errorf("tools/call sent Mcp-Session-Id %q to a stateless=%v backend", h.Get("Mcp-Session-Id"), stateless)
		}
	}
}

// TestAggregatorCollisionWithoutPrefix: with prefix off, a backend whose
// names collide with an earlier one's is left out of the session, and Probe
// (start-up) reports the collision.
func TestAggregatorCollisionWithoutPrefix(t *testing.T) {
	a := newTestBackend(t, "a", []string{"echo"}, nil)
	b := newTestBackend(t, "b", []string{"echo", "sum"}, nil)
	c := newTestBackend(t, "c", []string{"other"}, nil)
	noSlow := func(tb *testBackend) Backend {
		be := tb.backend(t)
		be.Filter = Filter{Exclude: []string{"slow"}}
		return be
	}
	opts := Options{Backends: []Backend{a.backend(t), noSlow(b), noSlow(c)}, Naming: Naming{Separator: "_", Prefix: false}}
	agg := newAggregator(t, opts)
	_, err := agg.Probe(context.Background())
	var ce *CollisionError
	if !errors.As(err, &ce) || ce.Name != "echo" || ce.First != "a" || ce.Second != "b" {
		t.Fatalf("Probe = %v, want a collision on echo between a and b", err)
	}
	cs := clientSession(t, front(t, agg, nil))
	if got, want := toolNames(t, cs), []string{"echo", "other", "slow"}; !slices.Equal(got, want) {
		t.Errorf("tools = %v, want %v (b left out)", got, want)
	}
	if st := agg.Statuses()[1]; !strings.Contains(st.LastError, "aggregate.prefix") {
		t.Errorf("b's status %+v does not show the collision", st)
	}

	// Without collisions, prefix off offers names as they are.
	agg2 := newAggregator(t, Options{Backends: []Backend{a.backend(t), noSlow(c)}, Naming: Naming{Separator: "_", Prefix: false}})
	if _, err := agg2.Probe(context.Background()); err != nil {
		t.Fatalf("Probe: %v", err)
	}
	cs2 := clientSession(t, front(t, agg2, nil))
	if got, want := toolNames(t, cs2), []string{"echo", "other", "slow"}; !slices.Equal(got, want) {
		t.Errorf("tools = %v, want %v", got, want)
	}
}

// TestAggregatorBackendDown: a backend that is down at session start is
// absent; a call naming it gets an error naming it; the others serve.
func TestAggregatorBackendDown(t *testing.T) {
	a := newTestBackend(t, "a", []string{"echo"}, nil)
	down := newTestBackend(t, "gone", []string{"echo"}, nil)
	gone := down.backend(t)
	down.srv.Close()
	agg := newAggregator(t, Options{Backends: []Backend{a.backend(t), gone}, ConnectTimeout: 2 * time.Second})
	cs := clientSession(t, front(t, agg, nil))
	if got, want := toolNames(t, cs), []string{"a_echo", "a_slow"}; !slices.Equal(got, want) {
		t.Fatalf("tools = %v, want %v", got, want)
	}
	_, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "gone_echo"})
	if err == nil || !strings.Contains(err.Error(), `backend "gone" is unavailable`) {
		t.Errorf("call to the down backend: %v, want an error naming it", err)
	}
	if st := agg.Statuses()[1]; st.LastError == "" || st.Sessions != 0 {
		t.Errorf("status of the down backend = %+v", st)
	}
	if st := agg.Statuses()[0]; st.Sessions != 1 {
		t.Errorf("status of the live backend = %+v, want 1 session", st)
	}
}

// TestAggregatorClientSpans: one CLIENT span per call, child of the SERVER
// span, under the backend's own name, attributed; its context goes upstream
// in the W3C header and in params._meta.
//
// _meta is created only where the backend's session pins the era; a
// stateless backend gets the trace context in the header alone when the
// client sent no _meta (and in the _meta it sent otherwise).
func TestAggregatorClientSpans(t *testing.T) {
	for _, k := range backendKinds {
		for _, p := range paths {
			t.Run(k.name+"/"+p.name, func(t *testing.T) { testClientSpans(t, p.fast, k.stateless) })
		}
	}
}

func testClientSpans(t *testing.T, fast, stateless bool) {
	sr := tracetest.NewSpanRecorder()
	attributed := attribute.Key("user.id")
	tel, err := telemetry.New(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr)), noop.NewMeterProvider(), telemetry.InstrumentOptions{
		Attribution: func(dst []attribute.KeyValue, rec *record.Record) []attribute.KeyValue {
			if rec.Identity == nil {
				return dst
			}
			return append(dst, attributed.String(rec.Identity.Subject))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	a := newTestBackendKind(t, "a", []string{"echo"}, nil, false, stateless)
	b := newTestBackendKind(t, "b", []string{"echo"}, nil, false, stateless)
	agg := newAggregator(t, Options{Backends: []Backend{a.backend(t), b.backend(t)}, Telemetry: tel})
	cs := clientSessionPath(t, front(t, agg, tel), fast, nil)
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "b_echo", Arguments: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	want := "b:echo meta-tp"
	if stateless {
		want = "b:echo"
	}
	if got := text(res); got != want {
		t.Errorf("backend saw %q, want %q", got, want)
	}
	if stateless {
		// With a _meta of the client's own, the trace context rides in it.
		params := &mcp.CallToolParams{Name: "b_echo", Arguments: map[string]any{}}
		params.SetProgressToken("p")
		res, err := cs.CallTool(context.Background(), params)
		if err != nil {
			t.Fatal(err)
		}
		if got := text(res); got != "b:echo meta-tp" {
			t.Errorf("with the client's _meta the backend saw %q, want a _meta traceparent", got)
		}
	}
	if b.usedFast() != fast {
		t.Errorf("fast path used = %v, want %v", !fast, fast)
	}

	// Every call made (two against a stateless backend) has ended both
	// spans; a SERVER span ends after its response, so wait for them all
	// rather than pair the first of one kind with the last of the other.
	calls := 1
	if stateless {
		calls = 2
	}
	var servers, clients []sdktrace.ReadOnlySpan
	deadline := time.Now().Add(5 * time.Second)
	for (len(servers) < calls || len(clients) < calls) && time.Now().Before(deadline) {
		servers, clients = servers[:0], clients[:0]
		for _, s := range sr.Ended() {
			switch {
			case s.Name() == "tools/call b_echo" && s.SpanKind() == trace.SpanKindServer:
				servers = append(servers, s)
			case s.Name() == "tools/call echo" && s.SpanKind() == trace.SpanKindClient:
				clients = append(clients, s)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(servers) != calls || len(clients) != calls {
		t.Fatalf("spans: %d SERVER and %d CLIENT, want %d of each", len(servers), len(clients), calls)
	}
	// Each CLIENT span is the child of its own call's SERVER span.
	parents := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range servers {
		parents[s.SpanContext().SpanID()] = s
	}
	for _, c := range clients {
		if _, ok := parents[c.Parent().SpanID()]; !ok {
			t.Errorf("CLIENT parent %s is none of the SERVER spans", c.Parent().SpanID())
		}
		delete(parents, c.Parent().SpanID())
	}
	// The last CLIENT span to end is the last call's, the one the upstream
	// header check below wants.
	client := clients[len(clients)-1]
	server := servers[0]
	for _, s := range servers {
		if s.SpanContext().SpanID() == client.Parent().SpanID() {
			server = s
		}
	}
	attrs := map[attribute.Key]string{}
	for _, kv := range client.Attributes() {
		attrs[kv.Key] = kv.Value.String()
	}
	for k, want := range map[attribute.Key]string{"mcpgate.backend": "b", "gen_ai.tool.name": "echo", "server.address": "127.0.0.1", "network.transport": "tcp", attributed: "alice"} {
		if attrs[k] != want {
			t.Errorf("CLIENT %s = %q, want %q", k, attrs[k], want)
		}
	}
	sattrs := map[attribute.Key]string{}
	for _, kv := range server.Attributes() {
		sattrs[kv.Key] = kv.Value.String()
	}
	if sattrs["mcpgate.backend"] != "b" || sattrs["gen_ai.tool.name"] != "b_echo" {
		t.Errorf("SERVER attributes %v", sattrs)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	// The last CLIENT span is the last call's.
	wantTP := "00-" + client.SpanContext().TraceID().String() + "-" + client.SpanContext().SpanID().String() + "-01"
	if len(b.hdrs) == 0 || b.hdrs[len(b.hdrs)-1].Get("Traceparent") != wantTP {
		t.Errorf("upstream traceparent header %v, want %s", b.hdrs, wantTP)
	}
}

// TestAggregatorProgressAndCancel: on both paths, the backend's progress
// notifications reach the client under its token, and cancelling the call
// cancels the backend's handler.
func TestAggregatorProgressAndCancel(t *testing.T) {
	for _, k := range backendKinds {
		for _, p := range paths {
			t.Run(k.name+"/"+p.name, func(t *testing.T) { testProgressAndCancel(t, p.fast, k.stateless) })
		}
	}
}

func testProgressAndCancel(t *testing.T, fast, stateless bool) {
	a := newTestBackendKind(t, "a", nil, nil, false, stateless)
	b := newTestBackendKind(t, "b", []string{"echo"}, nil, true, stateless)
	agg := newAggregator(t, Options{Backends: []Backend{a.backend(t), b.backend(t)}})
	var mu sync.Mutex
	var got []any
	progressed := make(chan struct{}, 4)
	cs := clientSessionPath(t, front(t, agg, nil), fast, func(pp *mcp.ProgressNotificationParams) {
		mu.Lock()
		got = append(got, pp.ProgressToken)
		mu.Unlock()
		progressed <- struct{}{}
	})
	ctx, cancel := context.WithCancel(context.Background())
	params := &mcp.CallToolParams{Name: "b_slow", Arguments: map[string]any{}}
	params.SetProgressToken("tok-1")
	done := make(chan error, 1)
	go func() {
		_, err := cs.CallTool(ctx, params)
		done <- err
	}()
	for range 2 {
		select {
		case <-progressed:
		case <-time.After(5 * time.Second):
			t.Fatal("progress notifications did not reach the client")
		}
	}
	mu.Lock()
	for _, tok := range got {
		if tok != "tok-1" {
			t.Errorf("progress token %v, want the client's tok-1", tok)
		}
	}
	mu.Unlock()
	cancel()
	if stateless {
		// A stateless backend serves each POST in a session of its own,
		// which ends with it: its handler is not cancelled (by either
		// path: the Go SDK's stateless server does not propagate a legacy
		// request's end), but it is told.
		deadline := time.Now().Add(5 * time.Second)
		for b.cancelCount() == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if b.cancelCount() == 0 {
			t.Fatal("cancelling the call sent the stateless backend no notifications/cancelled")
		}
	} else {
		select {
		case <-b.cancelled:
		case <-time.After(5 * time.Second):
			t.Fatal("cancelling the call did not cancel the backend's handler")
		}
	}
	<-done
	if b.usedFast() != fast {
		t.Errorf("fast path used = %v, want %v", !fast, fast)
	}
}

// TestAggregatorIdleTimeout: calls on either path keep a session alive past
// SessionTimeout; an idle session is closed, with its backend sessions.
func TestAggregatorIdleTimeout(t *testing.T) {
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			a := newTestBackend(t, "a", []string{"echo"}, nil)
			b := newTestBackend(t, "b", []string{"echo"}, nil)
			agg := newAggregator(t, Options{Backends: []Backend{a.backend(t), b.backend(t)}, SessionTimeout: 300 * time.Millisecond})
			cs := clientSessionPath(t, front(t, agg, nil), p.fast, nil)
			ctx := context.Background()
			for range 10 {
				if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "a_echo", Arguments: map[string]any{}}); err != nil {
					t.Fatalf("call while in use: %v", err)
				}
				time.Sleep(60 * time.Millisecond)
			}
			if a.usedFast() != p.fast {
				t.Errorf("fast path used = %v, want %v", !p.fast, p.fast)
			}
			deadline := time.Now().Add(5 * time.Second)
			for agg.Statuses()[0].Sessions != 0 && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if n := agg.Statuses()[0].Sessions; n != 0 {
				t.Fatalf("idle session still holds %d backend sessions", n)
			}
		})
	}
}
