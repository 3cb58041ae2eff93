package stdiorelay

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

// sharedConn is one child serving every client: stateless (2026-07-28)
// traffic, and all sessions when isolation is "shared". Each request's id —
// and its progress token — is replaced by a gateway-wide number on the way
// in and restored on the way out, so clients that reuse the same ids never
// see each other's responses.
type sharedConn struct {
	cmd     Command
	log     *slog.Logger
	backoff *backoff
	// broadcast delivers notifications about the server as a whole
	// (list changes, resource updates) to every session.
	broadcast func(item)
	onRestart func()
	closing   atomic.Bool // close was called: the child's exit is expected

	mu      sync.Mutex
	child   *child
	nextID  int64
	pending map[int64]*sharedCall
	msg     jsonrpc.Body // used only by the stdout goroutine
	edits   []jsonrpc.Edit
}

type sharedCall struct {
	ch       *child // the child the request went to
	l        *listener
	sess     *session // nil for stateless requests
	clientID []byte
	token    []byte // the client's progress token, if any
}

func newSharedConn(cmd Command, log *slog.Logger, b *backoff, broadcast func(item), onRestart func()) *sharedConn {
	return &sharedConn{cmd: cmd, log: log, backoff: b, broadcast: broadcast, onRestart: onRestart, pending: map[int64]*sharedCall{}}
}

// running returns the child, starting it when there is none. Starts are
// spaced by the back-off, so a server that cannot start is not respawned
// in a tight loop. Once close was called none starts: a request that was
// already on its way would otherwise leave a child nobody stops.
func (c *sharedConn) running() (*child, error) {
	if c.closing.Load() {
		return nil, errShuttingDown
	}
	if c.child != nil {
		select {
		case <-c.child.exited:
			c.child = nil
		default:
			return c.child, nil
		}
	}
	if wait := c.backoff.wait(); wait > 0 {
		return nil, &unavailableError{retryAfter: wait}
	}
	if c.onRestart != nil && c.backoff.attempts() > 0 {
		c.onRestart()
	}
	ch, err := startChild(c.cmd, c.log, c.dispatch)
	if err != nil {
		c.backoff.failed()
		return nil, err
	}
	c.child = ch
	go func() {
		<-ch.exited
		if time.Since(ch.started) < healthyRun {
			c.backoff.failed()
		} else {
			c.backoff.reset()
		}
		if c.closing.Load() {
			c.log.Debug("stdio server stopped", "error", ch.err)
		} else {
			c.log.Warn("shared stdio server exited", "error", ch.err)
		}
		c.failAll(ch, fmt.Sprintf("backend process exited (%v)", exitReason(ch.err)))
	}()
	return ch, nil
}

func (c *sharedConn) send(l *listener, in *inspect.Request, s *session, meta [][]jsonrpc.MetaKV) error {
	c.mu.Lock()
	ch, err := c.running()
	if err != nil {
		c.mu.Unlock()
		return err
	}
	out := make([][]byte, 0, len(in.Body.Messages))
	for i := range in.Body.Messages {
		m := &in.Body.Messages[i]
		raw := m.Object.Bytes(in.Raw)
		c.edits = c.edits[:0]
		switch {
		case m.Kind == jsonrpc.KindRequest:
			c.nextID++
			gid := c.nextID
			call := &sharedCall{ch: ch, l: l, sess: s, clientID: m.ID.Bytes(in.Raw)}
			num := strconv.AppendInt(nil, gid, 10)
			c.edits = m.AppendReplaceIDEdits(c.edits, num)
			if m.ProgressToken.Present() {
				call.token = m.ProgressToken.Bytes(in.Raw)
				c.edits = append(c.edits, jsonrpc.Edit{At: m.ProgressToken, Data: num})
				// "id" may follow "params" in the object; Splice wants
				// the edits in body order.
				jsonrpc.SortEdits(c.edits)
			}
			c.pending[gid] = call
		case m.Method == "notifications/cancelled" && m.ParamsRequestID.Present():
			// Stateless requests share no id space: one client's ids
			// cannot name another's requests, so without a session there
			// is nothing this can cancel (closing the stream does).
			gid, ok := int64(0), false
			if s != nil {
				gid, ok = c.lookupLocked(s, m.ParamsRequestID.Bytes(in.Raw))
			}
			if !ok {
				continue // nothing in flight by that id: nothing to cancel
			}
			c.edits = append(c.edits, jsonrpc.Edit{At: m.ParamsRequestID, Data: strconv.AppendInt(nil, gid, 10)})
		case m.Kind == jsonrpc.KindResult || m.Kind == jsonrpc.KindError:
			// The shared child's requests are never relayed (see dispatch),
			// so no client response can belong to it.
			continue
		}
		if len(c.edits) == 0 && (i >= len(meta) || len(meta[i]) == 0) {
			out = append(out, raw)
			continue
		}
		if i < len(meta) && len(meta[i]) > 0 {
			c.edits = m.AppendSetMetaEdits(c.edits, in.Raw, meta[i]...)
		}
		jsonrpc.SortEdits(c.edits)
		// Spans are offsets into the whole body; splice the whole body and
		// cut the message back out.
		spliced, err := jsonrpc.Splice(nil, in.Raw[:m.Object.End], c.edits)
		if err != nil {
			c.mu.Unlock()
			return err
		}
		out = append(out, spliced[m.Object.Start:])
	}
	c.mu.Unlock()
	for _, msg := range out {
		if err := ch.send(msg); err != nil {
			return fmt.Errorf("writing to backend: %w", err)
		}
	}
	return nil
}

func (c *sharedConn) lookupLocked(s *session, clientID []byte) (int64, bool) {
	for gid, call := range c.pending {
		if call.sess == s && string(call.clientID) == string(clientID) {
			return gid, true
		}
	}
	return 0, false
}

// forget abandons l's unanswered requests. Closing a stateless request's
// stream cancels it (2026-07-28), so the child is told; a session's client
// may still collect its answer elsewhere under older revisions, but a
// shared child's answer could never find it, so it is cancelled too.
func (c *sharedConn) forget(l *listener) {
	c.mu.Lock()
	var cancel []int64
	for gid, call := range c.pending {
		if call.l == l {
			delete(c.pending, gid)
			cancel = append(cancel, gid)
		}
	}
	ch := c.child
	c.mu.Unlock()
	if ch == nil {
		return
	}
	for _, gid := range cancel {
		msg := []byte(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":` +
			strconv.FormatInt(gid, 10) + `,"reason":"client closed the stream"}}`)
		_ = ch.send(msg)
	}
}

func (c *sharedConn) dispatch(line []byte) {
	if err := c.msg.Parse(line, jsonrpc.Limits{}); err != nil || c.msg.Batch {
		c.log.Warn("stdio server wrote something that is not one JSON-RPC message; dropped", "error", err, "bytes", len(line))
		return
	}
	m := &c.msg.Messages[0]
	switch m.Kind {
	case jsonrpc.KindResult, jsonrpc.KindError:
		gid, ok := gatewayID(m.ID.Bytes(line))
		c.mu.Lock()
		call := c.pending[gid]
		delete(c.pending, gid)
		c.mu.Unlock()
		if !ok || call == nil {
			c.log.Debug("response to a request nobody awaits; dropped")
			return
		}
		out, err := jsonrpc.Splice(nil, line, m.AppendReplaceIDEdits(nil, call.clientID))
		if err != nil {
			return
		}
		call.l.push(newItem(out, m, call.clientID))
	case jsonrpc.KindRequest:
		// Which client a shared server means cannot be known, so its
		// requests (sampling, elicitation, roots) are refused rather than
		// sent to the wrong person.
		c.log.Warn("shared stdio server sent a request to a client; refused", "method", m.Method)
		reply := []byte(`{"jsonrpc":"2.0","id":` + string(m.ID.Bytes(line)) +
			`,"error":{"code":-32601,"message":"server-to-client requests are not relayed for a shared stdio backend"}}`)
		c.mu.Lock()
		ch := c.child
		c.mu.Unlock()
		if ch != nil {
			_ = ch.send(reply)
		}
	case jsonrpc.KindNotification:
		if m.Method == "notifications/progress" && m.ParamsProgressToken.Present() {
			gid, ok := gatewayID(m.ParamsProgressToken.Bytes(line))
			c.mu.Lock()
			call := c.pending[gid]
			c.mu.Unlock()
			if ok && call != nil && call.token != nil && call.l.sse {
				out, err := jsonrpc.Splice(nil, line, []jsonrpc.Edit{{At: m.ParamsProgressToken, Data: call.token}})
				if err == nil {
					call.l.push(item{data: out})
				}
			}
			return
		}
		switch m.Method {
		case "notifications/tools/list_changed", "notifications/prompts/list_changed",
			"notifications/resources/list_changed", "notifications/resources/updated":
			c.broadcast(item{data: line})
		default:
			// Log messages and the like may concern one client's request;
			// with no way to tell whose, they are not spread to everyone.
			c.log.Debug("shared stdio server notification not relayed", "method", m.Method)
		}
	}
}

func gatewayID(raw []byte) (int64, bool) {
	n, err := strconv.ParseInt(string(raw), 10, 64)
	return n, err == nil
}

func (c *sharedConn) failAll(ch *child, msg string) {
	c.mu.Lock()
	if c.child == ch {
		c.child = nil
	}
	// Only this child's calls: a successor may already be serving others.
	var failed []*sharedCall
	for gid, call := range c.pending {
		if call.ch == ch {
			failed = append(failed, call)
			delete(c.pending, gid)
		}
	}
	c.mu.Unlock()
	for _, call := range failed {
		call.l.push(errorItem(call.clientID, msg))
	}
}

func (c *sharedConn) close() {
	c.closing.Store(true)
	c.mu.Lock()
	ch := c.child
	c.mu.Unlock()
	if ch != nil {
		ch.stop(context.Background())
	}
}
