package httprelay

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/record"
	"github.com/mcpgate/mcpgate/internal/sse"
)

// bound is how long any single wait in these tests may take before the test
// fails instead of hanging. No test asserts on elapsed time.
const bound = 10 * time.Second

const toolsCall = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}`

// front plays the outer stages of the chain in front of a relay: it reads
// and parses the body as inspect does, fills the record, and hands the
// record to the test once the relay has returned.
type front struct {
	*httptest.Server
	recs chan *record.Record
}

func newFront(t *testing.T, h http.Handler) *front {
	t.Helper()
	f := &front{recs: make(chan *record.Record, 16)}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &record.Record{Start: time.Now(), HTTPMethod: r.Method}
		// Deferred so that the record is handed over even when the relay
		// aborts the response with http.ErrAbortHandler.
		defer func() { f.recs <- rec }()
		ctx := record.NewContext(r.Context(), rec)
		if r.Method == http.MethodPost {
			raw, err := io.ReadAll(r.Body)
			if err != nil {
				t.Errorf("front: reading body: %v", err)
				return
			}
			body, err := jsonrpc.Parse(raw, jsonrpc.Limits{})
			if err != nil {
				t.Errorf("front: parsing body: %v", err)
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			fillOps(rec, raw, &body)
			ctx = inspect.NewContext(ctx, &inspect.Request{Raw: raw, Body: body, Version: r.Header.Get("Mcp-Protocol-Version")})
		}
		h.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(f.Close)
	return f
}

// record returns the record of the next request the front finished.
func (f *front) record(t *testing.T) *record.Record {
	t.Helper()
	select {
	case rec := <-f.recs:
		return rec
	case <-time.After(bound):
		t.Fatal("the relay did not return")
		return nil
	}
}

// fillOps does what inspect does to the record, for the relay's benefit.
func fillOps(rec *record.Record, raw []byte, b *jsonrpc.Body) {
	ops := rec.NewOps(len(b.Messages))
	rec.Batch = b.Batch
	for i := range b.Messages {
		m := &b.Messages[i]
		ops[i].Kind, ops[i].Method, ops[i].Name = record.KindOf(m.Kind), m.Method, m.Name
		if m.ID.Present() {
			ops[i].ID = string(m.ID.Bytes(raw))
		}
	}
}

func newRelay(t testing.TB, backend string, opts Options) *Relay {
	t.Helper()
	u, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	opts.URL = u
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Name == "" {
		opts.Name = "search"
	}
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var client = &http.Client{Timeout: bound}

func post(t *testing.T, url, body string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// event is one dispatched SSE event as a client sees it.
type event struct {
	id, name, data string
}

// readEvents reads the dispatched events of an SSE body to its end.
func readEvents(t *testing.T, body io.Reader) []event {
	t.Helper()
	rd := sse.NewReader(body, 0)
	var evs []event
	for {
		ev, err := rd.Next()
		if ev.Dispatched() {
			evs = append(evs, event{string(ev.ID), string(ev.Name), string(ev.Data)})
		}
		if err == io.EOF {
			return evs
		}
		if err != nil {
			t.Fatalf("reading the event stream: %v", err)
		}
	}
}

type rpcError struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Error   struct {
		Code    int64  `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func decodeError(t *testing.T, data []byte) rpcError {
	t.Helper()
	var e rpcError
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("not a JSON-RPC error: %v: %q", err, data)
	}
	if e.JSONRPC != "2.0" {
		t.Errorf("jsonrpc = %q, want 2.0", e.JSONRPC)
	}
	return e
}
