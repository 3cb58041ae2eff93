package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/mcpgate/mcpgate/internal/sse"
)

// protocolVersion is the MCP revision the clients speak: the one most
// deployed clients use, so the gateway's path under test is the common one.
const protocolVersion = "2025-06-18"

// maxResponse bounds how much of one response a client reads: the largest
// echo (maxPayload) with room for its JSON-RPC envelope.
const maxResponse = 2 * maxPayload

// session is one MCP client session over Streamable HTTP, as a real client
// holds it: a session ID from initialize, sent back on every request.
type session struct {
	hc  *http.Client
	url string
	id  string // Mcp-Session-Id; empty if the server runs stateless
	// version is the protocol version initialize negotiated, sent as
	// Mcp-Protocol-Version on every later request, with or without a
	// session, as the transport says a client must.
	version string
	// tool is the echo tool's name; "" means "echo".
	tool string
	// authorization is the Authorization header's value, if any.
	authorization string

	body bytes.Buffer // request body, reused
	resp bytes.Buffer // response body, reused
	sse  *sse.Reader
}

// rpcResponse is the part of a JSON-RPC message the client checks.
type rpcResponse struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"` // set on requests and notifications from the server
	Result *struct {
		ProtocolVersion string `json:"protocolVersion"`
		IsError         bool   `json:"isError"`
		Content         []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
	} `json:"result"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// handshake opens a session: initialize, then notifications/initialized.
func handshake(ctx context.Context, t *target) (*session, error) {
	s := &session{hc: t.hc, url: t.url, tool: t.tool, authorization: t.authorization, sse: sse.NewReader(nil, maxResponse)}
	s.body.WriteString(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"` + protocolVersion +
		`","capabilities":{},"clientInfo":{"name":"loadbench","version":"1"}}}`)
	resp, err := s.post(ctx)
	if err != nil {
		return nil, fmt.Errorf("initialize: %w", err)
	}
	s.id = resp.Header.Get("Mcp-Session-Id")
	msg, err := s.readResponse(resp, 0)
	if err != nil {
		return nil, fmt.Errorf("initialize: %w", err)
	}
	if msg.Result.ProtocolVersion != protocolVersion {
		return nil, fmt.Errorf("initialize: server chose protocol version %q, want %q", msg.Result.ProtocolVersion, protocolVersion)
	}
	s.version = protocolVersion

	s.body.Reset()
	s.body.WriteString(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	resp, err = s.post(ctx)
	if err != nil {
		return nil, fmt.Errorf("notifications/initialized: %w", err)
	}
	drain(resp)
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("notifications/initialized: HTTP %s", resp.Status)
	}
	return s, nil
}

// call makes one tools/call of the echo tool (s.tool) and checks that the answer is an HTTP 200
// carrying the JSON-RPC result for this id with the message echoed back: a
// relay that answered fast but wrong must not look good.
func (s *session) call(ctx context.Context, id int64, message []byte) error {
	s.body.Reset()
	s.body.WriteString(`{"jsonrpc":"2.0","id":`)
	s.body.WriteString(strconv.FormatInt(id, 10))
	s.body.WriteString(`,"method":"tools/call","params":{"name":`)
	tool := s.tool
	if tool == "" {
		tool = "echo"
	}
	s.body.WriteString(strconv.Quote(tool))
	s.body.WriteString(`,"arguments":{"message":"`)
	s.body.Write(message) // plain ASCII: no escaping needed
	s.body.WriteString(`"}}}`)
	resp, err := s.post(ctx)
	if err != nil {
		return err
	}
	msg, err := s.readResponse(resp, id)
	if err != nil {
		return err
	}
	r := msg.Result
	if r.IsError || len(r.Content) != 1 || r.Content[0].Type != "text" || r.Content[0].Text != string(message) {
		return fmt.Errorf("id %d: result is not the echoed message", id)
	}
	return nil
}

// close ends the session, so that the backend does not accumulate them
// over the rounds. Without a session (a stateless server) there is nothing
// to end.
func (s *session) close(ctx context.Context) {
	if s.id == "" {
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, s.url, nil)
	if err != nil {
		return
	}
	s.setHeaders(req)
	if resp, err := s.hc.Do(req); err == nil {
		drain(resp)
	}
}

func (s *session) post(ctx context.Context) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(s.body.Bytes()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	s.setHeaders(req)
	return s.hc.Do(req)
}

func (s *session) setHeaders(req *http.Request) {
	if s.authorization != "" {
		req.Header.Set("Authorization", s.authorization)
	}
	if s.id != "" {
		req.Header.Set("Mcp-Session-Id", s.id)
	}
	if s.version != "" {
		req.Header.Set("Mcp-Protocol-Version", s.version)
	}
}

// readResponse reads the JSON-RPC response with the given id from resp,
// whether it comes as a JSON body or on an SSE stream (where requests and
// notifications from the server may come first), and closes resp.
func (s *session) readResponse(resp *http.Response, id int64) (*rpcResponse, error) {
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		s.resp.Reset()
		io.Copy(&s.resp, io.LimitReader(resp.Body, 200))
		return nil, fmt.Errorf("id %d: HTTP %s: %q", id, resp.Status, s.resp.Bytes())
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		s.resp.Reset()
		if _, err := io.Copy(&s.resp, io.LimitReader(resp.Body, maxResponse)); err != nil {
			return nil, fmt.Errorf("id %d: reading response: %w", id, err)
		}
		return checkResponse(s.resp.Bytes(), id)
	case "text/event-stream":
		s.sse.Reset(resp.Body)
		for range 1000 {
			ev, err := s.sse.Next()
			if err != nil {
				return nil, fmt.Errorf("id %d: event stream ended without the response: %w", id, err)
			}
			if !ev.Dispatched() {
				continue
			}
			if ev.Truncated {
				return nil, fmt.Errorf("id %d: event over %d bytes", id, maxResponse)
			}
			msg, err := checkResponse(ev.Data, id)
			if errors.Is(err, errNotResponse) {
				continue
			}
			return msg, err
		}
		return nil, fmt.Errorf("id %d: no response in 1000 events", id)
	}
	return nil, fmt.Errorf("id %d: unexpected Content-Type %q", id, resp.Header.Get("Content-Type"))
}

var errNotResponse = errors.New("not a response")

// checkResponse parses one JSON-RPC message and checks that it is a result
// for id. It returns errNotResponse for a server request or notification.
func checkResponse(b []byte, id int64) (*rpcResponse, error) {
	var msg rpcResponse
	if err := json.Unmarshal(b, &msg); err != nil {
		return nil, fmt.Errorf("id %d: bad JSON-RPC message: %w", id, err)
	}
	if msg.Method != "" {
		return nil, errNotResponse
	}
	if got := string(msg.ID); got != strconv.FormatInt(id, 10) {
		return nil, fmt.Errorf("id %d: response has id %s", id, got)
	}
	if msg.Error != nil {
		return nil, fmt.Errorf("id %d: JSON-RPC error %d: %s", id, msg.Error.Code, msg.Error.Message)
	}
	if msg.Result == nil {
		return nil, fmt.Errorf("id %d: response has no result", id)
	}
	return &msg, nil
}

// drain reads what is left of a body (bounded) before closing it, so the
// connection goes back to the pool instead of being closed.
func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	resp.Body.Close()
}
