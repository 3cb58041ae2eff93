package stdiorelay

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/observe"
	"github.com/mcpgate/mcpgate/internal/record"
)

// TestBatchAnswerCreditsTheRequest: in a batch, a client's response to a
// server request may carry the same id as one of the client's own requests
// (separate id spaces). The backend's answer answers the request; crediting
// it to the response (what matching by id alone did) left the request
// unanswered and gave the error to a message that has none.
func TestBatchAnswerCreditsTheRequest(t *testing.T) {
	r, err := New(Options{Command: fakeCommand(t), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var last *record.Record
	keep := observe.ReporterFunc(func(_ context.Context, rec *record.Record) {
		mu.Lock()
		last = rec
		mu.Unlock()
	})
	srv := httptest.NewServer(observe.New(nil, keep)(inspect.New(inspect.Options{})(r)))
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_ = r.Close(ctx)
	})
	h := &harness{t: t, relay: r, srv: srv}
	sid := h.initialize()

	body := `[{"jsonrpc":"2.0","id":1,"result":{}},` +
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"nosuch","arguments":{}}}]`
	resp := h.post(sid, "application/json", body, mcpwire.HeaderProtocolVersion, mcpwire.Version20250326)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, readAll(t, resp))
	}
	readAll(t, resp)

	mu.Lock()
	rec := last
	mu.Unlock()
	if rec == nil || len(rec.Ops) != 2 {
		t.Fatalf("record %+v: want the batch's two ops", rec)
	}
	if resp, req := rec.Ops[0], rec.Ops[1]; resp.Answered || resp.Error.Valid ||
		!req.Answered || !req.Error.Valid || req.Error.Code != -32602 {
		t.Errorf("client response op %+v, request op %+v: want the backend's -32602 on the request only", resp, req)
	}
}
