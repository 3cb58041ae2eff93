package observe

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/record"
)

// reports collects what reporters were told.
type reports struct {
	recs []*record.Record
	// returned is set when the handler has returned; reporters must only
	// run after that.
	returned *bool
	t        *testing.T
}

func (r *reports) Report(ctx context.Context, rec *record.Record) {
	if !*r.returned {
		r.t.Error("reporter called before the handler returned")
	}
	if record.FromContext(ctx) != rec {
		r.t.Error("reporter's context does not carry the record")
	}
	r.recs = append(r.recs, rec)
}

func TestNew(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name       string
		handler    func(w http.ResponseWriter, r *http.Request)
		wantStatus int
		wantBytes  int64
	}{
		{
			name:       "nothing written",
			handler:    func(w http.ResponseWriter, r *http.Request) {},
			wantStatus: http.StatusOK,
		},
		{
			name:       "write only",
			handler:    func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") },
			wantStatus: http.StatusOK, wantBytes: 5,
		},
		{
			name: "status then body in two writes",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusAccepted)
				io.WriteString(w, "ab")
				io.WriteString(w, "cde")
			},
			wantStatus: http.StatusAccepted, wantBytes: 5,
		},
		{
			name: "informational status first",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusEarlyHints)
				w.WriteHeader(http.StatusNotFound)
			},
			wantStatus: http.StatusNotFound,
		},
		{
			name: "second WriteHeader ignored",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadGateway)
				w.WriteHeader(http.StatusOK)
			},
			wantStatus: http.StatusBadGateway,
		},
		{
			name: "flush before writing",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if err := http.NewResponseController(w).Flush(); err != nil {
					t.Errorf("Flush: %v", err)
				}
			},
			wantStatus: http.StatusOK,
		},
		{
			name: "inner stages fill the record",
			handler: func(w http.ResponseWriter, r *http.Request) {
				rec := record.FromContext(r.Context())
				if rec == nil {
					t.Fatal("no record in the handler's context")
				}
				rec.Backend = "search"
				rec.Fail(record.ReasonUpstreamTimeout, "slow")
				w.WriteHeader(http.StatusGatewayTimeout)
			},
			wantStatus: http.StatusGatewayTimeout,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			returned := false
			a := &reports{returned: &returned, t: t}
			b := &reports{returned: &returned, t: t}
			h := New(func() time.Time { return start }, a, b)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tc.handler(w, r)
				returned = true
			}))
			req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			req.RemoteAddr = "192.0.2.1:1234"
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)

			if len(a.recs) != 1 || len(b.recs) != 1 || a.recs[0] != b.recs[0] {
				t.Fatalf("reporters called %d and %d times", len(a.recs), len(b.recs))
			}
			rec := a.recs[0]
			if rec.Status != tc.wantStatus || rec.BytesOut != tc.wantBytes {
				t.Errorf("status %d bytes %d, want %d %d", rec.Status, rec.BytesOut, tc.wantStatus, tc.wantBytes)
			}
			if w.Code >= 200 && rec.Status != w.Code { // a recorder keeps a 1xx status
				t.Errorf("recorded %d, client got %d", rec.Status, w.Code)
			}
			if !rec.Start.Equal(start) || rec.HTTPMethod != http.MethodPost || rec.ClientAddr != "192.0.2.1" {
				t.Errorf("record start %v method %q client %q", rec.Start, rec.HTTPMethod, rec.ClientAddr)
			}
		})
	}
}

func TestReportsAfterAbort(t *testing.T) {
	// A handler that aborts with http.ErrAbortHandler is still observed.
	calls := 0
	h := New(nil, ReporterFunc(func(ctx context.Context, rec *record.Record) { calls++ }))(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) }))
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Errorf("recovered %v", v)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	}()
	if calls != 1 {
		t.Errorf("reporter called %d times", calls)
	}
}

func TestPeer(t *testing.T) {
	tests := []struct {
		name, addr, host string
		port             int
	}{
		{"IPv4", "192.0.2.1:443", "192.0.2.1", 443},
		{"IPv6", "[2001:db8::1]:443", "2001:db8::1", 443},
		{"no port", "pipe", "pipe", 0},
		{"empty", "", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if host, port := peer(tc.addr); host != tc.host || port != tc.port {
				t.Errorf("peer(%q) = %q, %d; want %q, %d", tc.addr, host, port, tc.host, tc.port)
			}
		})
	}
}

// TestRecordsCallerFacts checks the facts telemetry needs that only observe
// sees: the caller's trace context headers and the HTTP version.
func TestRecordsCallerFacts(t *testing.T) {
	var got record.Record
	h := New(nil, ReporterFunc(func(_ context.Context, rec *record.Record) { got = *rec }))(
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	req.RemoteAddr = "192.0.2.7:5555"
	req.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	req.Header.Set("Tracestate", "vendor=x")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got.TraceParent != "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" || got.TraceState != "vendor=x" {
		t.Errorf("trace context = %q, %q", got.TraceParent, got.TraceState)
	}
	if got.Proto != "1.1" || got.ClientAddr != "192.0.2.7" || got.ClientPort != 5555 {
		t.Errorf("proto, client = %q, %q, %d", got.Proto, got.ClientAddr, got.ClientPort)
	}
}

// unwrapOnly hides its writer's methods; only Unwrap reaches them, as with
// a middleware that wraps without implementing Flush itself.
type unwrapOnly struct{ w http.ResponseWriter }

func (u *unwrapOnly) Header() http.Header         { return u.w.Header() }
func (u *unwrapOnly) Write(b []byte) (int, error) { return u.w.Write(b) }
func (u *unwrapOnly) WriteHeader(code int)        { u.w.WriteHeader(code) }
func (u *unwrapOnly) Unwrap() http.ResponseWriter { return u.w }

// noFlush is a ResponseWriter that cannot flush.
type noFlush struct{ http.ResponseWriter }

func TestFlushReachable(t *testing.T) {
	tests := []struct {
		name      string
		writer    func() (http.ResponseWriter, func() bool)
		wantError bool
	}{
		{
			name: "flusher below",
			writer: func() (http.ResponseWriter, func() bool) {
				r := httptest.NewRecorder()
				return r, func() bool { return r.Flushed }
			},
		},
		{
			name: "flusher below a wrapper with only Unwrap",
			writer: func() (http.ResponseWriter, func() bool) {
				r := httptest.NewRecorder()
				return &unwrapOnly{w: r}, func() bool { return r.Flushed }
			},
		},
		{
			name: "no flusher below",
			writer: func() (http.ResponseWriter, func() bool) {
				return noFlush{httptest.NewRecorder()}, func() bool { return false }
			},
			wantError: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, flushed := tc.writer()
			var flushErr error
			var rec *record.Record
			h := New(nil, ReporterFunc(func(ctx context.Context, r *record.Record) { rec = r }))(http.HandlerFunc(
				func(w http.ResponseWriter, r *http.Request) {
					io.WriteString(w, "data: 1\n\n")
					flushErr = http.NewResponseController(w).Flush()
				}))
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
			if (flushErr != nil) != tc.wantError {
				t.Errorf("Flush error %v, want error: %v", flushErr, tc.wantError)
			}
			if !tc.wantError && !flushed() {
				t.Error("the writer below was not flushed")
			}
			if rec == nil || rec.BytesOut != 9 || rec.Status != http.StatusOK {
				t.Errorf("record %+v", rec)
			}
		})
	}
}

func TestLogger(t *testing.T) {
	start := time.Now()
	tests := []struct {
		name      string
		rec       record.Record
		wantLevel string
		want      map[string]any // fields that must be there with these values
		absent    []string
	}{
		{
			name: "success",
			rec: func() record.Record {
				r := record.Record{Start: start, HTTPMethod: "POST", Status: 200, ClientAddr: "192.0.2.1",
					ProtocolVersion: "2025-06-18", ClientName: "inspector", Backend: "search", BytesIn: 120, BytesOut: 80}
				ops := r.NewOps(1)
				ops[0] = record.Op{Kind: record.OpRequest, Method: "tools/call", ID: "7", Name: "echo", Answered: true}
				return r
			}(),
			wantLevel: "INFO",
			want: map[string]any{
				"msg": "request", "http.method": "POST", "status": 200.0, "client": "192.0.2.1",
				"mcp.method": "tools/call", "jsonrpc.id": "7", "name": "echo", "backend": "search",
				"mcp.protocol.version": "2025-06-18", "mcp.client.name": "inspector",
				"bytes.in": 120.0, "bytes.out": 80.0,
			},
			absent: []string{"reason", "detail", "rpc.error.code", "tool_error", "sse.events", "batch", "uri"},
		},
		{
			name: "gateway failure",
			rec: record.Record{Start: start, HTTPMethod: "POST", Status: 502, Reason: record.ReasonUpstreamUnavailable,
				Detail: "dial tcp: connection refused"},
			wantLevel: "WARN",
			want:      map[string]any{"status": 502.0, "reason": "upstream_unavailable", "detail": "dial tcp: connection refused"},
			absent:    []string{"mcp.method"},
		},
		{
			name:      "4xx without a reason",
			rec:       record.Record{Start: start, HTTPMethod: "DELETE", Status: 404},
			wantLevel: "WARN",
			want:      map[string]any{"status": 404.0},
		},
		{
			name: "RPC error, tool error and stream",
			rec: func() record.Record {
				r := record.Record{Start: start, HTTPMethod: "POST", Status: 200, SSE: true, StreamEvents: 3, Batch: true}
				ops := r.NewOps(2)
				ops[0] = record.Op{Kind: record.OpRequest, Method: "resources/read", ID: `"r"`, URI: "file:///x",
					Error: record.RPCError{Code: -32002, Message: "not found", Valid: true}}
				ops[1] = record.Op{Kind: record.OpRequest, Method: "tools/call", ID: "2", ToolError: true}
				return r
			}(),
			wantLevel: "WARN", // a JSON-RPC error from the backend is a failure
			want: map[string]any{
				"uri": "file:///x", "jsonrpc.id": `"r"`, "rpc.error.code": -32002.0, "rpc.error.message": "not found",
				"sse.events": 3.0, "batch": 2.0,
			},
			absent: []string{"tool_error"}, // only the first op is logged
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&buf, nil))
			rec := tc.rec
			Logger(log, false).Report(context.Background(), &rec)
			lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
			if len(lines) != 1 {
				t.Fatalf("%d log lines: %s", len(lines), buf.Bytes())
			}
			var got map[string]any
			if err := json.Unmarshal(lines[0], &got); err != nil {
				t.Fatal(err)
			}
			if got["level"] != tc.wantLevel {
				t.Errorf("level %v, want %s", got["level"], tc.wantLevel)
			}
			for k, want := range tc.want {
				if got[k] != want {
					t.Errorf("%s = %#v, want %#v", k, got[k], want)
				}
			}
			for _, k := range tc.absent {
				if v, ok := got[k]; ok {
					t.Errorf("%s present: %v", k, v)
				}
			}
			if d, ok := got["duration_ms"].(float64); !ok || d < 0 {
				t.Errorf("duration_ms %v", got["duration_ms"])
			}
		})
	}
}

func TestLoggerLevelFiltered(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	Logger(log, false).Report(context.Background(), &record.Record{Start: time.Now(), Status: 200})
	if buf.Len() != 0 {
		t.Errorf("an Info line passed a Warn handler: %s", buf.Bytes())
	}
	Logger(log, false).Report(context.Background(), &record.Record{Start: time.Now(), Status: 500})
	if buf.Len() == 0 {
		t.Error("no Warn line")
	}
}

func TestLoggerFailuresOnly(t *testing.T) {
	rpcErr := record.Record{Start: time.Now(), Status: 200}
	rpcErr.NewOps(1)[0] = record.Op{Kind: record.OpRequest, Method: "tools/call", ID: "1", Error: record.RPCError{Code: -32602, Valid: true}}
	toolErr := record.Record{Start: time.Now(), Status: 200}
	toolErr.NewOps(1)[0] = record.Op{Kind: record.OpRequest, Method: "tools/call", ID: "1", ToolError: true}
	tests := []struct {
		name   string
		rec    record.Record
		logged bool
	}{
		{"success", record.Record{Start: time.Now(), Status: 200}, false},
		{"tool error (a result, not a failure)", toolErr, false},
		{"JSON-RPC error", rpcErr, true},
		{"HTTP error", record.Record{Start: time.Now(), Status: 404}, true},
		{"gateway reason", record.Record{Start: time.Now(), Status: 200, Reason: record.ReasonStreamClosed}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			Logger(slog.New(slog.NewJSONHandler(&buf, nil)), true).Report(context.Background(), &tc.rec)
			if got := buf.Len() > 0; got != tc.logged {
				t.Fatalf("logged %v, want %v: %s", got, tc.logged, buf.Bytes())
			}
		})
	}
}

// TestFlushReachesTheClient: over a real connection, a flush through the
// observe writer puts the bytes on the wire before the handler returns.
func TestFlushReachesTheClient(t *testing.T) {
	read := make(chan struct{})
	srv := httptest.NewServer(New(nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: 1\n\n")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush: %v", err)
			return
		}
		select {
		case <-read:
		case <-r.Context().Done():
		}
	})))
	defer srv.Close()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, len("data: 1\n\n"))
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "data: 1\n\n" {
		t.Fatalf("read %q, %v", buf, err)
	}
	close(read)
}
