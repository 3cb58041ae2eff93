package stdiorelay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

// ownChild is the conn of a session with a child of its own. Ids need no
// remapping: only this session's client talks to this child, so the
// child's requests to the client and the client's answers pass unchanged.
type ownChild struct {
	sess  *session
	child *child
	log   *slog.Logger
	msg   jsonrpc.Body // used only by the stdout goroutine

	answered atomic.Bool // the child has sent a response
	stopping atomic.Bool // the gateway asked it to stop: its exit is no failure
	counted  atomic.Bool // its failure to start was counted in the back-off

	mu       sync.Mutex
	pending  map[string]*listener // request id → its exchange
	progress map[string]*listener // progress token → its exchange
	exited   bool
}

func startOwnChild(cmd Command, s *session, log *slog.Logger, onExit func(*ownChild)) (*ownChild, error) {
	oc := &ownChild{sess: s, log: log, pending: map[string]*listener{}, progress: map[string]*listener{}}
	ch, err := startChild(cmd, log, oc.dispatch)
	if err != nil {
		return nil, err
	}
	oc.child = ch
	go func() {
		<-ch.exited
		oc.mu.Lock()
		oc.exited = true
		oc.mu.Unlock()
		// End the session before failing what is pending, so that a client
		// that reads the error finds the session already gone.
		onExit(oc)
		oc.fail(fmt.Sprintf("backend process exited (%v)", exitReason(ch.err)))
	}()
	return oc, nil
}

func exitReason(err error) string {
	if err == nil {
		return "status 0"
	}
	return err.Error()
}

var errExited = errors.New("backend process has exited")

func (oc *ownChild) send(l *listener, in *inspect.Request, s *session, meta [][]jsonrpc.MetaKV) error {
	oc.mu.Lock()
	if oc.exited {
		oc.mu.Unlock()
		return errExited
	}
	for i := range in.Body.Messages {
		m := &in.Body.Messages[i]
		if m.Kind != jsonrpc.KindRequest {
			continue
		}
		id := string(m.ID.Bytes(in.Raw))
		if _, dup := oc.pending[id]; dup {
			oc.mu.Unlock()
			return errDuplicateID
		}
		oc.pending[id] = l
		if m.ProgressToken.Present() {
			oc.progress[string(m.ProgressToken.Bytes(in.Raw))] = l
		}
	}
	oc.mu.Unlock()
	if l.sse {
		s.addStream(l)
	}
	for i := range in.Body.Messages {
		if err := oc.child.send(withMeta(in, i, meta, nil)); err != nil {
			return fmt.Errorf("writing to backend: %w", err)
		}
	}
	return nil
}

// withMeta returns message i of in as it goes to the child: its bytes with
// edits (offsets into in.Raw) and the params._meta members meta[i] spliced
// in, or its bytes as they are when there is nothing to change.
func withMeta(in *inspect.Request, i int, meta [][]jsonrpc.MetaKV, edits []jsonrpc.Edit) []byte {
	m := &in.Body.Messages[i]
	if i < len(meta) && len(meta[i]) > 0 {
		edits = m.AppendSetMetaEdits(edits, in.Raw, meta[i]...)
	}
	if len(edits) == 0 {
		return m.Object.Bytes(in.Raw)
	}
	jsonrpc.SortEdits(edits)
	// Spans are offsets into the whole body; splice up to the message's end
	// and cut the message back out.
	spliced, err := jsonrpc.Splice(nil, in.Raw[:m.Object.End], edits)
	if err != nil {
		return m.Object.Bytes(in.Raw)
	}
	return spliced[m.Object.Start:]
}

func (oc *ownChild) forget(l *listener) {
	oc.mu.Lock()
	for k, x := range oc.pending {
		if x == l {
			delete(oc.pending, k)
		}
	}
	for k, x := range oc.progress {
		if x == l {
			delete(oc.progress, k)
		}
	}
	oc.mu.Unlock()
	oc.sess.removeStream(l)
}

// dispatch routes one message from the child's stdout.
func (oc *ownChild) dispatch(line []byte) {
	if err := oc.msg.Parse(line, jsonrpc.Limits{}); err != nil || oc.msg.Batch {
		oc.log.Warn("stdio server wrote something that is not one JSON-RPC message; dropped", "error", err, "bytes", len(line))
		return
	}
	m := &oc.msg.Messages[0]
	it := newItem(line, m, nil)
	switch m.Kind {
	case jsonrpc.KindResult, jsonrpc.KindError:
		oc.answered.Store(true)
		oc.mu.Lock()
		if m.IDNull && len(oc.pending) == 1 {
			// A server that could not read a request's id answers with a
			// null id; with one request in flight it can only be that one,
			// and the client must not wait for an answer that never comes.
			for id := range oc.pending {
				it = errorResponseFor(m, id)
			}
		}
		l := oc.pending[it.id]
		delete(oc.pending, it.id)
		oc.mu.Unlock()
		if l == nil || !l.push(it) {
			oc.log.Debug("response to a request nobody awaits; dropped", "id", it.id)
		}
		return
	case jsonrpc.KindNotification:
		if m.Method == "notifications/progress" && m.ParamsProgressToken.Present() {
			oc.mu.Lock()
			l := oc.progress[string(m.ParamsProgressToken.Bytes(line))]
			oc.mu.Unlock()
			if l != nil && l.sse && l.push(it) {
				return
			}
		}
	}
	oc.sess.route(it)
}

// fail answers every request still awaiting a response with a JSON-RPC
// error, so no client waits on a child that is gone.
func (oc *ownChild) fail(msg string) {
	oc.mu.Lock()
	oc.exited = true
	pending := oc.pending
	oc.pending = map[string]*listener{}
	oc.mu.Unlock()
	for id, l := range pending {
		l.push(errorItem([]byte(id), msg))
	}
}

func (oc *ownChild) close() {
	oc.stopping.Store(true)
	oc.child.stop(context.Background())
}
