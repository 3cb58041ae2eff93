package telemetry

import (
	"strconv"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// The functions here map client-influenced values onto bounded sets for
// metric attributes. Spans may carry the raw value (length-limited); a
// metric series is forever, so a metric never does.

// boundMethod keeps the MCP specification's method names.
func boundMethod(m string) string {
	if jsonrpc.KnownMethod(m) {
		return m
	}
	return other
}

// boundVersion keeps the protocol revisions the gateway knows; "" stays ""
// (the attribute is then left out).
func boundVersion(v string) string {
	if v == "" || mcpwire.KnownVersion(v) {
		return v
	}
	return other
}

// boundHTTPVersion keeps the HTTP versions net/http can speak.
func boundHTTPVersion(v string) string {
	switch v {
	case "", "1.0", "1.1", "2", "3":
		return v
	}
	return other
}

// codeStrings holds the JSON-RPC error codes a metric may carry as
// themselves: the five of JSON-RPC 2.0 and the block -32099..-32000 it
// reserves for implementation-defined server errors, which is where MCP puts
// its own (-32002 resource not found, -32020 header mismatch, -32022
// unsupported version, -32042 URL elicitation required, …). 105 values; any
// other code (application codes are unbounded integers) is "_OTHER".
var codeStrings = func() map[int64]string {
	m := make(map[int64]string, 105)
	for _, c := range []int64{-32700, -32600, -32601, -32602, -32603} {
		m[c] = strconv.FormatInt(c, 10)
	}
	for c := int64(-32099); c <= -32000; c++ {
		m[c] = strconv.FormatInt(c, 10)
	}
	return m
}()

// codeString formats a JSON-RPC error code, without allocating for the
// codes that matter.
func codeString(c int64) string {
	if s, ok := codeStrings[c]; ok {
		return s
	}
	return strconv.FormatInt(c, 10)
}

// boundCode is codeString for metrics.
func boundCode(c int64) string {
	if s, ok := codeStrings[c]; ok {
		return s
	}
	return other
}

// boundReason keeps the gateway's reasons and "tool_error" (the table of
// record.Reason); "" stays "".
func boundReason(r string) string {
	if r == "" || record.Reason(r).Known() {
		return r
	}
	return other
}

// httpMethodName is the span name of a request without a JSON-RPC message:
// the HTTP method when it is a standard one, else "HTTP" (as the HTTP
// conventions do), so a client cannot mint span names.
func httpMethodName(m string) string {
	switch m {
	case "GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE":
		return m
	}
	return "HTTP"
}

// boundHTTPMethod is the http.request.method attribute value.
func boundHTTPMethod(m string) string {
	if n := httpMethodName(m); n != "HTTP" {
		return n
	}
	return other
}
