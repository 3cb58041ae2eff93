package aggregate

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"sync"
	"unsafe"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgate/mcpgate/internal/record"
)

// failures carries the gateway's failures (a *record.BackendError a
// handler returned) from the SDK's goroutines to the record of the HTTP
// request that carried the message. The SDK passes a handler only the
// message, not the HTTP request's context — but it does pass the request's
// header map (RequestExtra.Header), the very map of the request ServeHTTP
// handed it: that map's identity is the key.
type failures struct{ m sync.Map } // header map → *failureBox

// failureBox holds the first failure of one HTTP request's messages (the
// record keeps the first reason too); the SDK may run a batch's handlers
// concurrently.
type failureBox struct {
	mu sync.Mutex
	be *record.BackendError
}

func headerKey(h http.Header) unsafe.Pointer { return reflect.ValueOf(h).UnsafePointer() }

// open registers r's messages for the duration of the SDK's handling; the
// returned func unregisters them and records the failure, if any, on rec.
func (f *failures) open(r *http.Request, rec *record.Record) func() {
	if r.Header == nil {
		return func() {}
	}
	key, box := headerKey(r.Header), &failureBox{}
	f.m.Store(key, box)
	return func() {
		f.m.Delete(key)
		box.mu.Lock()
		be := box.be
		box.mu.Unlock()
		if be != nil {
			rec.FailBackend(be, be.Error())
		}
	}
}

// middleware is the outermost receiving middleware of every session's
// server: a handler's *record.BackendError is noted for its request's
// record and goes to the SDK as the JSON-RPC error it stands for.
func (f *failures) middleware(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		res, err := next(ctx, method, req)
		var be *record.BackendError
		if err == nil || !errors.As(err, &be) {
			return res, err
		}
		if x := req.GetExtra(); x != nil && x.Header != nil {
			if v, ok := f.m.Load(headerKey(x.Header)); ok {
				box := v.(*failureBox)
				box.mu.Lock()
				if box.be == nil {
					box.be = be
				}
				box.mu.Unlock()
			}
		}
		return res, &jsonrpc.Error{Code: be.Code(), Message: be.Error()}
	}
}
