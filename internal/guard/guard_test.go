package guard

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/record"
)

// serve runs req through h with a fresh record in its context.
func serve(h http.Handler, req *http.Request) (*httptest.ResponseRecorder, *record.Record) {
	rec := &record.Record{}
	req = req.WithContext(record.NewContext(req.Context(), rec))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w, rec
}

type rpcError struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Error   struct {
		Code    int64  `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func checkRPCError(t *testing.T, w *httptest.ResponseRecorder, status int, code int64) rpcError {
	t.Helper()
	if w.Code != status {
		t.Errorf("status %d, want %d", w.Code, status)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var e rpcError
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("body %q: %v", w.Body, err)
	}
	if e.JSONRPC != "2.0" || string(e.ID) != "null" || e.Error.Code != code {
		t.Errorf("error %s, want id null and code %d", w.Body, code)
	}
	return e
}

var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusTeapot)
})

// --- Recover ---

// writeCounter counts final (non-1xx) WriteHeader calls, which a recorder
// does not, and keeps the final status.
type writeCounter struct {
	*httptest.ResponseRecorder
	headers int
	final   int
}

func (w *writeCounter) WriteHeader(code int) {
	if code >= 200 {
		w.headers++
		if w.final == 0 {
			w.final = code
		}
	}
	w.ResponseRecorder.WriteHeader(code)
}

func TestRecover(t *testing.T) {
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		wantPanic any // what escapes Recover; nil: nothing
		status    int
		body      string // when not a JSON-RPC error
	}{
		{
			name:    "panic before writing",
			handler: func(w http.ResponseWriter, r *http.Request) { panic("boom") },
			status:  http.StatusInternalServerError,
		},
		{
			name:    "panic with an error",
			handler: func(w http.ResponseWriter, r *http.Request) { panic(errors.New("boom")) },
			status:  http.StatusInternalServerError,
		},
		{
			name: "panic after setting body headers",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "1000")
				w.Header().Set("Content-Encoding", "gzip")
				panic("boom")
			},
			status: http.StatusInternalServerError,
		},
		{
			name: "panic after an informational status",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusEarlyHints)
				panic("boom")
			},
			status: http.StatusInternalServerError,
		},
		{
			name: "panic after a partial write aborts",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "data: partial\n\n")
				panic("boom")
			},
			wantPanic: http.ErrAbortHandler,
			status:    http.StatusOK,
			body:      "data: partial\n\n",
		},
		{
			name: "panic after WriteHeader aborts",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusAccepted)
				panic("boom")
			},
			wantPanic: http.ErrAbortHandler,
			status:    http.StatusAccepted,
		},
		{
			name: "panic after Flush aborts",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if err := http.NewResponseController(w).Flush(); err != nil {
					t.Errorf("Flush: %v", err)
				}
				panic("boom")
			},
			wantPanic: http.ErrAbortHandler,
			status:    http.StatusOK,
		},
		{
			name:      "ErrAbortHandler passes through",
			handler:   func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) },
			wantPanic: http.ErrAbortHandler,
			status:    http.StatusOK, // the recorder's default: nothing was written
		},
		{
			name:    "no panic",
			handler: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fine") },
			status:  http.StatusOK,
			body:    "fine",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := Recover(slog.New(slog.NewJSONHandler(&logs, nil)))(tc.handler)
			rec := &record.Record{}
			req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			req = req.WithContext(record.NewContext(req.Context(), rec))
			w := &writeCounter{ResponseRecorder: httptest.NewRecorder()}
			var escaped any
			func() {
				defer func() { escaped = recover() }()
				h.ServeHTTP(w, req)
			}()
			if escaped != tc.wantPanic {
				t.Fatalf("panic %v escaped, want %v", escaped, tc.wantPanic)
			}
			if w.headers > 1 {
				t.Errorf("WriteHeader called %d times", w.headers)
			}
			if w.final != 0 && w.final != tc.status {
				t.Errorf("final status %d, want %d", w.final, tc.status)
			}
			if tc.body != "" || tc.wantPanic != nil {
				if w.Code != tc.status || w.Body.String() != tc.body {
					t.Errorf("got %d %q, want %d %q", w.Code, w.Body, tc.status, tc.body)
				}
			} else {
				if w.Code < 200 {
					w.Code = w.final // the recorder keeps the 1xx status
				}
				e := checkRPCError(t, w.ResponseRecorder, tc.status, jsonrpc.CodeInternalError)
				if e.Error.Message != "internal error" {
					t.Errorf("message %q: the panic value must not reach the client", e.Error.Message)
				}
				if cl := w.Header().Get("Content-Length"); cl != "" && cl != "0" && cl != itoa(w.Body.Len()) {
					t.Errorf("Content-Length %s for a %d-byte body", cl, w.Body.Len())
				}
				if ce := w.Header().Get("Content-Encoding"); ce != "" {
					t.Errorf("Content-Encoding %q on a plain body", ce)
				}
			}
			panicked := tc.wantPanic == nil && tc.body == "" || tc.wantPanic != nil && tc.name != "ErrAbortHandler passes through"
			if panicked {
				if rec.Reason != record.ReasonPanic {
					t.Errorf("reason %q, want %q", rec.Reason, record.ReasonPanic)
				}
				if !strings.Contains(logs.String(), "boom") || !strings.Contains(logs.String(), "stack") {
					t.Errorf("log lacks the panic or its stack: %s", logs.String())
				}
			} else if rec.Reason != "" {
				t.Errorf("reason %q", rec.Reason)
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestRecoverAbortsOverHTTP shows what a client sees of a handler that
// panics mid-response: a broken response, not a short one that looks whole.
func TestRecoverAbortsOverHTTP(t *testing.T) {
	srv := httptest.NewServer(Recover(slog.New(slog.DiscardHandler))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"jsonrpc":"2.0","id":1,"res`)
		http.NewResponseController(w).Flush()
		panic("boom")
	})))
	defer srv.Close()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Error("the truncated body read as complete")
	}
}

func TestRecoverWithoutRecord(t *testing.T) {
	h := Recover(slog.New(slog.DiscardHandler))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") }))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", nil))
	checkRPCError(t, w, http.StatusInternalServerError, jsonrpc.CodeInternalError)
}

// --- Limits ---

func TestLimits(t *testing.T) {
	const maxHeader, maxBody = 1024, 64
	tests := []struct {
		name       string
		header     http.Header
		body       io.Reader
		length     int64 // Content-Length; -1 unknown (chunked)
		wantStatus int
		wantReason record.Reason
		http10     bool   // an HTTP/1.0 request
		wantRead   string // the body as read by the next handler, when it runs
		wantErr    bool   // the next handler's read fails with *http.MaxBytesError
		wantClose  bool   // the response says Connection: close
	}{
		{
			name: "within the limits", body: strings.NewReader("small"), length: 5,
			wantStatus: http.StatusTeapot, wantRead: "small",
		},
		{
			name: "body exactly at the limit", body: strings.NewReader(strings.Repeat("b", maxBody)), length: maxBody,
			wantStatus: http.StatusTeapot, wantRead: strings.Repeat("b", maxBody),
		},
		{
			name:       "headers over the limit",
			header:     http.Header{"X-Big": {strings.Repeat("h", maxHeader)}},
			wantStatus: http.StatusRequestHeaderFieldsTooLarge, wantReason: record.ReasonHeadersTooLarge,
		},
		{
			name:       "many headers over the limit together",
			header:     manyHeaders(40, 30),
			wantStatus: http.StatusRequestHeaderFieldsTooLarge, wantReason: record.ReasonHeadersTooLarge,
		},
		{
			name: "Content-Length over the limit", body: strings.NewReader(strings.Repeat("b", maxBody+1)), length: maxBody + 1,
			wantStatus: http.StatusRequestEntityTooLarge, wantReason: record.ReasonBodyTooLarge,
		},
		{
			name: "chunked body over the limit", body: strings.NewReader(strings.Repeat("b", maxBody+1)), length: -1,
			wantStatus: http.StatusTeapot, wantErr: true, wantClose: true,
		},
		{
			name: "chunked body within the limit: served, then the connection closes", body: strings.NewReader("chunk"), length: -1,
			wantStatus: http.StatusTeapot, wantRead: "chunk", wantClose: true,
		},
		{
			name: "HTTP/1.0: served, then the connection closes", body: strings.NewReader("small"), length: 5, http10: true,
			wantStatus: http.StatusTeapot, wantRead: "small", wantClose: true,
		},
		{
			name: "no body", wantStatus: http.StatusTeapot,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ran := false
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ran = true
				if r.Body != nil {
					b, err := io.ReadAll(r.Body)
					var tooBig *http.MaxBytesError
					if tc.wantErr != errors.As(err, &tooBig) {
						t.Errorf("read error %v, want *http.MaxBytesError: %v", err, tc.wantErr)
					}
					if tooBig != nil && tooBig.Limit != maxBody {
						t.Errorf("MaxBytesError.Limit %d", tooBig.Limit)
					}
					if !tc.wantErr && string(b) != tc.wantRead {
						t.Errorf("read %q, want %q", b, tc.wantRead)
					}
				}
				w.WriteHeader(http.StatusTeapot)
			})
			req := httptest.NewRequest(http.MethodPost, "/mcp", tc.body)
			req.ContentLength = tc.length
			if tc.length == -1 {
				req.TransferEncoding = []string{"chunked"}
			}
			if tc.http10 {
				req.Proto, req.ProtoMajor, req.ProtoMinor = "HTTP/1.0", 1, 0
			}
			for k, v := range tc.header {
				req.Header[k] = v
			}
			w, rec := serve(Limits(maxHeader, maxBody, time.Second)(next), req)
			if w.Code != tc.wantStatus {
				t.Errorf("status %d, want %d", w.Code, tc.wantStatus)
			}
			if rec.Reason != tc.wantReason {
				t.Errorf("reason %q, want %q", rec.Reason, tc.wantReason)
			}
			if got := w.Header().Get("Connection") == "close"; got != tc.wantClose && tc.wantReason != record.ReasonBodyTooLarge {
				t.Errorf("Connection: close is %v, want %v", got, tc.wantClose)
			}
			if tc.wantReason != "" {
				if ran {
					t.Error("the next handler ran")
				}
				checkRPCError(t, w, tc.wantStatus, jsonrpc.CodeInvalidRequest)
			}
		})
	}
}

func manyHeaders(n, size int) http.Header {
	h := http.Header{}
	for i := range n {
		h.Set("X-H"+itoa(i), strings.Repeat("v", size))
	}
	return h
}

func TestHeaderBytes(t *testing.T) {
	tests := []struct {
		name string
		h    http.Header
		want int64
	}{
		{"none", http.Header{}, 0},
		{"one", http.Header{"Ab": {"cd"}}, 8},
		{"repeated", http.Header{"Ab": {"cd", "e"}}, 15},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := HeaderBytes(tc.h); got != tc.want {
				t.Errorf("HeaderBytes = %d, want %d", got, tc.want)
			}
		})
	}
}

// --- Origin ---

func TestOrigin(t *testing.T) {
	allowList := OriginPolicy{AllowedOrigins: []string{"https://app.example.com"}, MaxAge: 10 * time.Minute}
	tests := []struct {
		name       string
		policy     OriginPolicy
		method     string
		header     http.Header
		wantStatus int
		wantReason record.Reason
		want       map[string]string // response headers; "" means absent
	}{
		{
			name: "no Origin passes", policy: allowList, method: http.MethodPost,
			wantStatus: http.StatusTeapot,
			want:       map[string]string{"Access-Control-Allow-Origin": "", "Vary": ""},
		},
		{
			name: "no Origin passes with an empty policy", method: http.MethodPost,
			wantStatus: http.StatusTeapot,
		},
		{
			name: "allowed origin", policy: allowList, method: http.MethodPost,
			header:     http.Header{"Origin": {"https://app.example.com"}},
			wantStatus: http.StatusTeapot,
			want: map[string]string{
				"Access-Control-Allow-Origin":      "https://app.example.com",
				"Access-Control-Allow-Credentials": "",
				"Access-Control-Expose-Headers":    exposedHeaders,
				"Vary":                             "Origin",
			},
		},
		{
			name: "allowed origin, other case", policy: allowList, method: http.MethodPost,
			header:     http.Header{"Origin": {"HTTPS://APP.example.com"}},
			wantStatus: http.StatusTeapot,
			want:       map[string]string{"Access-Control-Allow-Origin": "HTTPS://APP.example.com", "Vary": "Origin"},
		},
		{
			name: "preflight", policy: allowList, method: http.MethodOptions,
			header: http.Header{
				"Origin":                         {"https://app.example.com"},
				"Access-Control-Request-Method":  {"POST"},
				"Access-Control-Request-Headers": {"content-type, mcp-protocol-version, mcp-param-region"},
			},
			wantStatus: http.StatusNoContent,
			want: map[string]string{
				"Access-Control-Allow-Origin":  "https://app.example.com",
				"Access-Control-Allow-Methods": allowedMethods,
				"Access-Control-Allow-Headers": "content-type, mcp-protocol-version, mcp-param-region",
				"Access-Control-Max-Age":       "600",
				"Vary":                         "Origin",
			},
		},
		{
			name:   "preflight without requested headers or max age",
			policy: OriginPolicy{AllowedOrigins: []string{"https://app.example.com"}}, method: http.MethodOptions,
			header:     http.Header{"Origin": {"https://app.example.com"}, "Access-Control-Request-Method": {"DELETE"}},
			wantStatus: http.StatusNoContent,
			want:       map[string]string{"Access-Control-Allow-Headers": "", "Access-Control-Max-Age": ""},
		},
		{
			name: "OPTIONS that is not a preflight passes on", policy: allowList, method: http.MethodOptions,
			header:     http.Header{"Origin": {"https://app.example.com"}},
			wantStatus: http.StatusTeapot,
		},
		{
			name: "disallowed origin", policy: allowList, method: http.MethodPost,
			header:     http.Header{"Origin": {"https://evil.example"}},
			wantStatus: http.StatusForbidden, wantReason: record.ReasonOriginRejected,
			want: map[string]string{"Access-Control-Allow-Origin": ""},
		},
		{
			name: "disallowed preflight", policy: allowList, method: http.MethodOptions,
			header:     http.Header{"Origin": {"https://evil.example"}, "Access-Control-Request-Method": {"POST"}},
			wantStatus: http.StatusForbidden, wantReason: record.ReasonOriginRejected,
			want: map[string]string{"Access-Control-Allow-Methods": ""},
		},
		{
			name: "prefix of an allowed origin", policy: allowList, method: http.MethodPost,
			header:     http.Header{"Origin": {"https://app.example.com.evil.example"}},
			wantStatus: http.StatusForbidden, wantReason: record.ReasonOriginRejected,
		},
		{
			name: "null origin", policy: allowList, method: http.MethodPost,
			header:     http.Header{"Origin": {"null"}},
			wantStatus: http.StatusForbidden, wantReason: record.ReasonOriginRejected,
		},
		{
			name: "empty policy rejects browsers", method: http.MethodPost,
			header:     http.Header{"Origin": {"http://localhost:3000"}},
			wantStatus: http.StatusForbidden, wantReason: record.ReasonOriginRejected,
		},
		{
			name: "any origin without credentials", policy: OriginPolicy{AllowAny: true}, method: http.MethodPost,
			header:     http.Header{"Origin": {"https://anyone.example"}},
			wantStatus: http.StatusTeapot,
			want:       map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Credentials": ""},
		},
		{
			// "*" is not allowed with credentials: the origin is echoed.
			name: "any origin with credentials", policy: OriginPolicy{AllowAny: true, AllowCredentials: true}, method: http.MethodPost,
			header:     http.Header{"Origin": {"https://anyone.example"}},
			wantStatus: http.StatusTeapot,
			want: map[string]string{
				"Access-Control-Allow-Origin":      "https://anyone.example",
				"Access-Control-Allow-Credentials": "true",
				"Vary":                             "Origin",
			},
		},
		{
			name:   "allowed origin with credentials",
			policy: OriginPolicy{AllowedOrigins: []string{"https://app.example.com"}, AllowCredentials: true}, method: http.MethodPost,
			header:     http.Header{"Origin": {"https://app.example.com"}},
			wantStatus: http.StatusTeapot,
			want:       map[string]string{"Access-Control-Allow-Origin": "https://app.example.com", "Access-Control-Allow-Credentials": "true"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/mcp", nil)
			for k, v := range tc.header {
				req.Header[k] = v
			}
			w, rec := serve(Origin(tc.policy)(ok), req)
			if w.Code != tc.wantStatus {
				t.Errorf("status %d, want %d", w.Code, tc.wantStatus)
			}
			if rec.Reason != tc.wantReason {
				t.Errorf("reason %q, want %q", rec.Reason, tc.wantReason)
			}
			if tc.wantReason != "" {
				e := checkRPCError(t, w, http.StatusForbidden, jsonrpc.CodeInvalidRequest)
				if strings.Contains(e.Error.Message, "evil") {
					t.Errorf("message repeats the origin: %q", e.Error.Message)
				}
			}
			for name, want := range tc.want {
				if got := strings.Join(w.Header().Values(name), ", "); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestOriginRejectedDetailIsBounded(t *testing.T) {
	long := "https://" + strings.Repeat("é", 200) + ".example"
	req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	req.Header.Set("Origin", long)
	_, rec := serve(Origin(OriginPolicy{})(ok), req)
	if len(rec.Detail) > 150 {
		t.Errorf("detail is %d bytes", len(rec.Detail))
	}
	if !strings.HasSuffix(rec.Detail, "…") || !utf8Valid(rec.Detail) {
		t.Errorf("detail %q: want valid UTF-8 ending in …", rec.Detail)
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\x00") == s }

// unwrapOnly reaches its writer's Flush only through Unwrap.
type unwrapOnly struct{ w http.ResponseWriter }

func (u *unwrapOnly) Header() http.Header         { return u.w.Header() }
func (u *unwrapOnly) Write(b []byte) (int, error) { return u.w.Write(b) }
func (u *unwrapOnly) WriteHeader(code int)        { u.w.WriteHeader(code) }
func (u *unwrapOnly) Unwrap() http.ResponseWriter { return u.w }

func TestRecoverKeepsFlush(t *testing.T) {
	r := httptest.NewRecorder()
	h := Recover(slog.New(slog.DiscardHandler))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "data: 1\n\n")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
	}))
	h.ServeHTTP(&unwrapOnly{w: r}, httptest.NewRequest(http.MethodGet, "/", nil))
	if !r.Flushed {
		t.Error("the writer below was not flushed")
	}
}
