// Package mcpwiretest has test helpers for MCP peers: a front that
// classifies requests into protocol eras the way dual-era servers do.
package mcpwiretest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// Seen is one POST an EraClassifier received.
type Seen struct {
	Method      string
	SessionID   string
	Version     string // the MCP-Protocol-Version header
	HasMeta     bool   // params._meta is an object
	MetaTrace   string // params._meta.traceparent
	HeaderTrace string // the traceparent header
	Status      int    // what the classifier answered; 0 when next served it
}

// EraClassifier is an http.Handler in front of a session-era MCP server that
// detects the era of each POST the way the MCP conformance suite's
// reference server does (examples/servers/typescript, a dual-era front on
// TypeScript SDK 1.29): a request without Mcp-Session-Id whose params carry
// _meta is taken for a stateless 2026-07-28 request. Such a request without
// an MCP-Protocol-Version header is answered 400 -32020 ("Missing
// MCP-Protocol-Version header"), as that server does; one whose header
// names a session-era revision is answered 400 -32022, since the stateless
// path serves 2026-07-28 only. Everything else goes to Next.
type EraClassifier struct {
	Next http.Handler

	mu   sync.Mutex
	seen []Seen
}

// Seen returns the POSTs received so far.
func (c *EraClassifier) Seen() []Seen {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Seen(nil), c.seen...)
}

// Rejected returns the POSTs the classifier refused.
func (c *EraClassifier) Rejected() []Seen {
	var out []Seen
	for _, s := range c.Seen() {
		if s.Status != 0 {
			out = append(out, s)
		}
	}
	return out
}

func (c *EraClassifier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		c.Next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var msg struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params struct {
			Meta json.RawMessage `json:"_meta"`
		} `json:"params"`
	}
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte("[")) || json.Unmarshal(body, &msg) != nil {
		c.Next.ServeHTTP(w, r)
		return
	}
	s := Seen{
		Method:      msg.Method,
		SessionID:   r.Header.Get("Mcp-Session-Id"),
		Version:     r.Header.Get("Mcp-Protocol-Version"),
		HasMeta:     bytes.HasPrefix(bytes.TrimSpace(msg.Params.Meta), []byte("{")),
		HeaderTrace: r.Header.Get("Traceparent"),
	}
	if s.HasMeta {
		var m struct {
			Traceparent string `json:"traceparent"`
		}
		_ = json.Unmarshal(msg.Params.Meta, &m)
		s.MetaTrace = m.Traceparent
	}
	id := msg.ID
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	reject := func(code int, text string) {
		s.Status = http.StatusBadRequest
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"error":{"code":%d,"message":%q}}`, id, code, text)
	}
	switch {
	case s.SessionID != "" || !s.HasMeta:
		// Session era: the server behind decides.
	case s.Version == "":
		reject(-32020, "Missing MCP-Protocol-Version header")
	case strings.Compare(s.Version, "2026-07-28") < 0:
		reject(-32022, "Unsupported protocol version "+s.Version+" for a stateless request")
	}
	c.mu.Lock()
	c.seen = append(c.seen, s)
	c.mu.Unlock()
	if s.Status == 0 {
		c.Next.ServeHTTP(w, r)
	}
}
