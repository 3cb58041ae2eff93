package httprelay

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
	"github.com/mcpgate/mcpgate/internal/sse"
)

const (
	progressEvent = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1,\"progress\":1}}\n\n"
	resultEvent   = "id: 2\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"content\":[],\"isError\":true}}\n\n"
)

// TestSSEStreamsEventByEvent proves the relay does not hold the stream: the
// backend sends its final event only after the test has read the first one
// through the relay. A buffering relay deadlocks here until the client's
// bound fails the test.
func TestSSEStreamsEventByEvent(t *testing.T) {
	readFirst := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, progressEvent)
		http.NewResponseController(w).Flush()
		select {
		case <-readFirst:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, resultEvent)
	}))
	t.Cleanup(backend.Close)
	f := newFront(t, newRelay(t, backend.URL, Options{}))

	resp := post(t, f.URL, toolsCall, nil)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	rd := sse.NewReader(resp.Body, 0)
	ev, err := rd.Next()
	if err != nil || string(ev.Raw) != progressEvent {
		t.Fatalf("first event %q, %v; want %q", ev.Raw, err, progressEvent)
	}
	close(readFirst)
	ev, err = rd.Next()
	if err != nil || string(ev.Raw) != resultEvent {
		t.Fatalf("second event %q, %v; want %q", ev.Raw, err, resultEvent)
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Fatalf("after the response: %v, want EOF", err)
	}

	rec := f.record(t)
	op := rec.Ops[0]
	if !op.Answered || !op.ToolError || op.Error.Valid {
		t.Errorf("op %+v: want answered with a tool error", op)
	}
	if !rec.SSE || rec.StreamEvents != 2 || rec.Reason != "" {
		t.Errorf("record: sse %v events %d reason %q", rec.SSE, rec.StreamEvents, rec.Reason)
	}
}

func TestSSEOutcomes(t *testing.T) {
	tests := []struct {
		name   string
		stream string
		want   record.Op
	}{
		{
			name:   "result",
			stream: progressEvent + "data: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}\n\n",
			want:   record.Op{Answered: true},
		},
		{
			name:   "JSON-RPC error",
			stream: "data: {\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-32601,\"message\":\"no\"}}\n\n",
			want:   record.Op{Answered: true, Error: record.RPCError{Code: -32601, Message: "no", Valid: true}},
		},
		{
			name:   "CRLF line endings and a multi-line data field",
			stream: "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\r\ndata: \"result\":{\"isError\":true}}\r\n\r\n",
			want:   record.Op{Answered: true, ToolError: true},
		},
		{
			name:   "comments and priming events pass too",
			stream: ": keep-alive\n\nid: 1\ndata:\n\n" + resultEvent,
			want:   record.Op{Answered: true, ToolError: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, tc.stream)
			}))
			t.Cleanup(backend.Close)
			f := newFront(t, newRelay(t, backend.URL, Options{}))
			resp := post(t, f.URL, toolsCall, nil)
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if string(body) != tc.stream {
				t.Errorf("body %q, want %q", body, tc.stream)
			}
			rec := f.record(t)
			op := rec.Ops[0]
			got := record.Op{Answered: op.Answered, Error: op.Error, ToolError: op.ToolError}
			if got != tc.want {
				t.Errorf("op outcome %+v, want %+v", got, tc.want)
			}
			if rec.Reason != "" {
				t.Errorf("reason %q", rec.Reason)
			}
		})
	}
}

// hijacker returns a backend that writes the start of a chunked event
// stream and then drops the connection, as a crashing server does.
func hijacker(t *testing.T, stream string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		conn, bw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", len(stream), stream)
		bw.Flush()
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// staller returns a backend that sends stream and then stalls until the
// request ends.
func staller(t *testing.T, stream string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // else net/http does not notice the relay hang up
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, stream)
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// closer returns a backend that sends stream and ends the response cleanly.
func closer(t *testing.T, stream string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, stream)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestSSEStreamEndsEarly(t *testing.T) {
	tests := []struct {
		name       string
		backend    func(*testing.T, string) string
		stream     string
		request    string
		opts       Options
		wantEvents []string // data of the events before any synthesized ones
		cut        bool     // the last of wantEvents may arrive cut short
		wantSynth  []string // ids of synthesized errors, in order
		wantText   string
		wantReason record.Reason
	}{
		{
			name:       "closed without a response",
			backend:    closer,
			stream:     progressEvent,
			request:    toolsCall,
			wantEvents: []string{progressData},
			wantReason: record.ReasonStreamClosed,
		},
		{
			name:       "closed inside an event",
			backend:    closer,
			stream:     progressEvent + "data: {\"jsonrpc\":\"2.0\",",
			request:    toolsCall,
			wantEvents: []string{progressData},
			wantReason: record.ReasonStreamClosed,
		},
		{
			name:       "connection dies between events",
			backend:    hijacker,
			stream:     progressEvent,
			request:    toolsCall,
			wantEvents: []string{progressData},
			wantSynth:  []string{"7"},
			wantText:   `backend "search" failed mid-stream`,
			wantReason: record.ReasonUpstreamUnavailable,
		},
		{
			// The synthesized error must not be glued onto the unfinished
			// event the client already holds part of.
			name:       "connection dies inside an event",
			backend:    hijacker,
			stream:     progressEvent + "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\"res",
			request:    toolsCall,
			wantEvents: []string{progressData},
			wantSynth:  []string{"7"},
			wantText:   `backend "search" failed mid-stream`,
			wantReason: record.ReasonUpstreamUnavailable,
		},
		{
			name:       "connection dies at the end of a line",
			backend:    hijacker,
			stream:     progressEvent + "event: message\n",
			request:    toolsCall,
			wantEvents: []string{progressData},
			wantSynth:  []string{"7"},
			wantText:   `backend "search" failed mid-stream`,
			wantReason: record.ReasonUpstreamUnavailable,
		},
		{
			// The client holds Partial chunks of an event too large to
			// inspect: it is closed before the error goes out.
			name:       "connection dies inside an event larger than MaxInspect",
			backend:    hijacker,
			stream:     progressEvent + "data: " + strings.Repeat("x", 300),
			request:    toolsCall,
			opts:       Options{MaxInspect: 128},
			wantEvents: []string{progressData, strings.Repeat("x", 300)},
			cut:        true,
			wantSynth:  []string{"7"},
			wantText:   `backend "search" failed mid-stream`,
			wantReason: record.ReasonUpstreamUnavailable,
		},
		{
			name:       "connection dies after one of two responses",
			backend:    hijacker,
			stream:     "data: {\"jsonrpc\":\"2.0\",\"id\":\"a\",\"result\":{}}\n\n",
			request:    `[{"jsonrpc":"2.0","id":"a","method":"ping"},{"jsonrpc":"2.0","id":"b","method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"}]`,
			wantEvents: []string{`{"jsonrpc":"2.0","id":"a","result":{}}`},
			wantSynth:  []string{`"b"`},
			wantText:   `backend "search" failed mid-stream`,
			wantReason: record.ReasonUpstreamUnavailable,
		},
		{
			name:       "idle timeout",
			backend:    staller,
			stream:     progressEvent,
			request:    toolsCall,
			opts:       Options{IdleTimeout: 50 * time.Millisecond},
			wantEvents: []string{progressData},
			wantSynth:  []string{"7"},
			wantText:   `backend "search" went idle mid-stream`,
			wantReason: record.ReasonUpstreamTimeout,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFront(t, newRelay(t, tc.backend(t, tc.stream), tc.opts))
			resp := post(t, f.URL, tc.request, nil)
			evs := readEvents(t, resp.Body)
			if len(evs) != len(tc.wantEvents)+len(tc.wantSynth) {
				t.Fatalf("got %d events %q, want %d relayed and %d synthesized", len(evs), evs, len(tc.wantEvents), len(tc.wantSynth))
			}
			for i, want := range tc.wantEvents {
				if cut := tc.cut && i == len(tc.wantEvents)-1; cut && evs[i].data != "" && strings.HasPrefix(want, evs[i].data) {
					continue
				}
				if evs[i].data != want {
					t.Errorf("event %d: %q, want %q", i, evs[i].data, want)
				}
			}
			for i, id := range tc.wantSynth {
				e := decodeError(t, []byte(evs[len(tc.wantEvents)+i].data))
				if string(e.ID) != id || e.Error.Code != mcpwire.CodeGateway || e.Error.Message != tc.wantText {
					t.Errorf("synthesized error %d: id %s code %d %q; want id %s code %d %q",
						i, e.ID, e.Error.Code, e.Error.Message, id, mcpwire.CodeGateway, tc.wantText)
				}
			}
			rec := f.record(t)
			if rec.Reason != tc.wantReason {
				t.Errorf("reason %q, want %q", rec.Reason, tc.wantReason)
			}
			for _, id := range tc.wantSynth {
				op := opByID(rec, id)
				if op == nil || !op.Answered || !op.Error.Valid || op.Error.Code != mcpwire.CodeGateway {
					t.Errorf("op %s: the synthesized error is not recorded: %+v", id, op)
				}
			}
		})
	}
}

var progressData = strings.TrimSuffix(strings.TrimPrefix(progressEvent, "event: message\ndata: "), "\n\n")

// TestJSONBodyFails: a JSON response cut short is a backend failure, and
// the record must say so rather than report a success.
func TestJSONBodyFails(t *testing.T) {
	tests := []struct {
		name       string
		backend    func(*testing.T) string
		opts       Options
		wantReason record.Reason
	}{
		{
			name: "connection dies",
			backend: func(t *testing.T) string {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
					conn, bw, err := http.NewResponseController(w).Hijack()
					if err != nil {
						t.Errorf("hijack: %v", err)
						return
					}
					defer conn.Close()
					io.WriteString(bw, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\":\"2.0\",")
					bw.Flush()
				}))
				t.Cleanup(srv.Close)
				return srv.URL
			},
			wantReason: record.ReasonUpstreamUnavailable,
		},
		{
			name: "idle",
			backend: func(t *testing.T) string {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
					w.Header().Set("Content-Type", "application/json")
					io.WriteString(w, `{"jsonrpc":"2.0",`)
					http.NewResponseController(w).Flush()
					<-r.Context().Done()
				}))
				t.Cleanup(srv.Close)
				return srv.URL
			},
			opts:       Options{IdleTimeout: 50 * time.Millisecond},
			wantReason: record.ReasonUpstreamTimeout,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFront(t, newRelay(t, tc.backend(t), tc.opts))
			// The relay aborts the response: before its head was sent (a
			// response of known length is written out only when complete)
			// or after. Either way the client's error does not matter.
			req, err := http.NewRequest(http.MethodPost, f.URL, strings.NewReader(toolsCall))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			if resp, err := client.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if rec := f.record(t); rec.Reason != tc.wantReason {
				t.Errorf("reason %q, want %q", rec.Reason, tc.wantReason)
			}
		})
	}
}

// opByID is the op of rec with the raw id id, or nil.
func opByID(rec *record.Record, id string) *record.Op {
	for i := range rec.Ops {
		if rec.Ops[i].ID == id {
			return &rec.Ops[i]
		}
	}
	return nil
}
