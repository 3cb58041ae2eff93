package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// echoArgs is the echo tool's input.
type echoArgs struct {
	Message string `json:"message" jsonschema:"the text to send back"`
}

// newBackend returns the MCP server both arms relay to: the official SDK's
// Streamable HTTP handler with one tool, echo, so that what is measured is
// the relay, not tool work. sse makes POST responses text/event-stream
// instead of application/json, which exercises a relay's streaming path.
// stateless makes it a server without sessions (StreamableHTTPOptions.
// Stateless: no Mcp-Session-Id, every POST served on its own, GET and
// DELETE refused), the shape of many production servers and of every
// 2026-07-28 one.
func newBackend(sse, stateless bool) http.Handler {
	server := mcp.NewServer(&mcp.Implementation{Name: "loadbench-backend", Version: "1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "echo", Description: "Returns its message as text."},
		func(_ context.Context, _ *mcp.CallToolRequest, in echoArgs) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Message}}}, nil, nil
		})
	mux := http.NewServeMux()
	mux.Handle("/mcp", mcp.NewStreamableHTTPHandler(
		func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{JSONResponse: !sse, Stateless: stateless},
	))
	mux.HandleFunc("GET /healthz", healthz)
	return mux
}

func healthz(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }

// runBackend is `loadbench backend`: it serves the backend and prints its
// MCP endpoint URL as the first line of stdout, for the parent to read.
func runBackend(args []string) error {
	fs := flag.NewFlagSet("backend", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "loopback `address` to listen on (port 0 picks one)")
	sse := fs.Bool("sse", false, "answer POSTs with text/event-stream instead of application/json")
	stateless := fs.Bool("stateless", false, "serve without sessions (the SDK's StreamableHTTPOptions.Stateless)")
	fs.Parse(args)

	ln, err := listenLoopback(*listen)
	if err != nil {
		return err
	}
	fmt.Printf("http://%s/mcp\n", ln.Addr())
	return serveUntilSignal(ln, newBackend(*sse, *stateless))
}
