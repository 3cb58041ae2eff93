package aggregate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

// On 2026-07-28 a client mirrors each tools/call argument whose property
// in the tool's inputSchema carries an x-mcp-header annotation in an
// Mcp-Param-{name} header (SEP-2243), and the server MUST answer 400
// -32020 when a header is missing, unexpected, badly encoded or differs
// from the argument. The SDK's server checks that against the tools it
// holds when the request arrives; a stateless request's session has none
// yet (its backends connect while it is handled), so the aggregator checks
// in the tool handler instead, against the tool as it published it.
// checkParamHeaders follows the SDK's own check (validateParamHeaders in
// go-sdk's mcp/streamable_headers.go) rule for rule, so that the gateway
// accepts and refuses what a Go SDK server would. The backend's headers
// are not the client's: the gateway's SDK client writes them from the
// backend's own schema.

// checkParamHeaders refuses a 2026-07-28 tools/call whose Mcp-Param-*
// headers do not mirror its arguments as the tool's published inputSchema
// says. The refusal is -32020 at HTTP 400, which the SDK does not give an
// error a handler returns: the error is noted on the session (one per
// stateless request), and jsonErrors writes it so.
func (c *conn) checkParamHeaders(req *mcp.CallToolRequest) error {
	if !mcpwire.Stateless(c.s.version) || req.Extra == nil {
		return nil
	}
	tool := c.s.offeredTool(c.b.Name, req.Params.Name)
	if tool == nil {
		return nil
	}
	err := checkParamHeaders(req.Extra.Header, tool.InputSchema, req.Params.Arguments)
	if err == nil {
		return nil
	}
	werr := &jsonrpc.Error{Code: mcpwire.CodeHeaderMismatch, Message: err.Error()}
	c.s.refused.Store(werr)
	return werr
}

// offeredTool is the tool named name as backend's catalog offers it on the
// session.
func (s *session) offeredTool(backend, name string) *mcp.Tool {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.offered[backend]
	if o == nil {
		return nil
	}
	for _, t := range o.cat.tools {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// paramSchema is what the check reads of an input schema.
type paramSchema struct {
	Type       string                 `json:"type"`
	Header     json.RawMessage        `json:"x-mcp-header,omitempty"`
	Properties map[string]paramSchema `json:"properties,omitempty"`
}

// paramBinding is one annotated property: its path from the arguments'
// top level, and the header that mirrors it.
type paramBinding struct {
	path   []string
	header string
}

// paramBindings returns the annotated properties of an input schema (any
// form the SDK holds one in), at any depth; nil when there are none.
func paramBindings(schema any) []paramBinding {
	raw, ok := schema.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(schema); err != nil {
			return nil
		}
	}
	if !bytes.Contains(raw, []byte("x-mcp-header")) {
		return nil // the common case, without decoding the schema
	}
	var s paramSchema
	if json.Unmarshal(raw, &s) != nil {
		return nil
	}
	return collectBindings(s.Properties, nil, nil)
}

func collectBindings(props map[string]paramSchema, prefix []string, out []paramBinding) []paramBinding {
	for name, p := range props {
		path := append(append([]string(nil), prefix...), name)
		var header string
		if json.Unmarshal(p.Header, &header) == nil && header != "" {
			out = append(out, paramBinding{path: path, header: header})
		}
		if len(p.Properties) > 0 {
			out = collectBindings(p.Properties, path, out)
		}
	}
	return out
}

// checkParamHeaders checks the request's Mcp-Param-* headers against the
// arguments (the raw JSON object; nil when absent) for the annotated
// properties of schema. The error says what is wrong.
func checkParamHeaders(h http.Header, schema any, arguments json.RawMessage) error {
	bindings := paramBindings(schema)
	if len(bindings) == 0 {
		return nil
	}
	var args map[string]json.RawMessage
	if len(arguments) > 0 && json.Unmarshal(arguments, &args) != nil {
		return nil // not an object: the tool's own validation answers that
	}
	for _, b := range bindings {
		name := mcpwire.HeaderParamPrefix + b.header
		value := h.Get(name)
		where := strings.Join(b.path, ".")
		arg, ok := lookupArg(args, b.path)
		if !ok || string(arg) == "null" {
			if value != "" {
				return fmt.Errorf("header mismatch: unexpected %s header for absent or null parameter %q", name, where)
			}
			continue
		}
		if value == "" {
			return fmt.Errorf("header mismatch: missing %s header for parameter %q", name, where)
		}
		decoded, ok := decodeParamHeader(value)
		if !ok {
			return fmt.Errorf("header mismatch: %s header contains invalid Base64 encoding", name)
		}
		body := primitiveArg(arg)
		if body == nil {
			return fmt.Errorf("header mismatch: %s header present but body parameter %q is not a primitive type", name, where)
		}
		if !headerEquals(decoded, body) {
			return fmt.Errorf("header mismatch: %s header value '%s' does not match body value", name, value)
		}
	}
	return nil
}

// lookupArg follows path through nested argument objects.
func lookupArg(args map[string]json.RawMessage, path []string) (json.RawMessage, bool) {
	if len(path) == 0 {
		return nil, false
	}
	cur, ok := args[path[0]]
	for _, part := range path[1:] {
		if !ok {
			return nil, false
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(cur, &obj) != nil {
			return nil, false
		}
		cur, ok = obj[part]
	}
	return cur, ok
}

// Integers beyond ±(2^53−1) have no exact IEEE-754 double, which is how
// JSON numbers are read on the other side.
const maxSafeInt = 1<<53 - 1

// primitiveArg is an argument as a header may mirror it: a string, a
// bool, or an integer within the safe range (int64); nil for anything else.
func primitiveArg(raw json.RawMessage) any {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	switch v := v.(type) {
	case string, bool:
		return v
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) || v != math.Trunc(v) || v < -maxSafeInt || v > maxSafeInt {
			return nil
		}
		return int64(v)
	}
	return nil
}

// decodeParamHeader undoes the =?base64?…?= wrapping a client uses for a
// value that is not plain printable ASCII; a value without both ends of
// the wrapper is literal. Invalid Base64 (characters, padding) is false.
func decodeParamHeader(v string) (string, bool) {
	if enc, ok := strings.CutPrefix(v, "=?base64?"); ok {
		if enc, ok = strings.CutSuffix(enc, "?="); ok {
			b, err := base64.StdEncoding.DecodeString(enc)
			if err != nil {
				return "", false
			}
			return string(b), true
		}
	}
	return v, true
}

// headerEquals compares a decoded header with the argument: integers by
// value (the header may spell one as 1.0 or 1e3), the rest as text.
func headerEquals(header string, body any) bool {
	switch b := body.(type) {
	case int64:
		f, err := strconv.ParseFloat(header, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || f < -maxSafeInt || f > maxSafeInt {
			return false
		}
		return int64(f) == b
	case bool:
		return header == strconv.FormatBool(b)
	case string:
		return header == b
	}
	return false
}
