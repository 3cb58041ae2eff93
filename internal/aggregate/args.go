package aggregate

import (
	"context"
	"encoding/json"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// A tools/call's arguments go to the backend exactly as the client sent
// them. The SDK path needs help for that: the server hands the handler the
// raw bytes (nil when the client sent none), and a nil json.RawMessage in
// CallToolParams.Arguments (an interface) would marshal as "arguments":
// null, which TypeScript servers reject; ClientSession.CallTool in turn
// replaces an absent value with {}. withArguments notes in the context
// that the client sent none, and keepArguments, a sending middleware of
// every backend client, takes the member out again just before the
// request is marshalled. (The fast path splices the client's bytes and
// never touches the member.)

type noArgumentsKey struct{}

// withArguments returns ctx marked when raw is absent.
func withArguments(ctx context.Context, raw json.RawMessage) context.Context {
	if len(raw) > 0 {
		return ctx
	}
	return context.WithValue(ctx, noArgumentsKey{}, true)
}

func keepArguments(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if method == "tools/call" && ctx.Value(noArgumentsKey{}) != nil {
			if p, ok := req.GetParams().(*mcp.CallToolParams); ok && p != nil {
				p.Arguments = nil // omitempty: absent, as the client sent it
			}
		}
		return next(ctx, method, req)
	}
}
