package aggregate

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

// benchBackend is the load benchmark's backend in process: the official Go
// SDK with one tool, echo, answering JSON; stateless is Stateless: true.
func benchBackend(b *testing.B, stateless bool) *url.URL {
	b.Helper()
	server := mcp.NewServer(&mcp.Implementation{Name: "bench", Version: "1"}, nil)
	type echoArgs struct {
		Message string `json:"message"`
	}
	mcp.AddTool(server, &mcp.Tool{Name: "echo"}, func(_ context.Context, _ *mcp.CallToolRequest, in echoArgs) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Message}}}, nil, nil
	})
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Stateless: stateless, JSONResponse: true}))
	b.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	return u
}

// benchCall posts tools/call bodies to url in session sid, as the load
// benchmark's clients do.
type benchCaller struct {
	b      *testing.B
	url    string
	sid    string
	tool   string
	client *http.Client
	id     int
}

func (c *benchCaller) call() {
	c.id++
	body := `{"jsonrpc":"2.0","id":` + strconv.Itoa(c.id) + `,"method":"tools/call","params":{"name":"` + c.tool + `","arguments":{"message":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}}`
	req, err := http.NewRequest(http.MethodPost, c.url, strings.NewReader(body))
	if err != nil {
		c.b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set(mcpwire.HeaderProtocolVersion, "2025-06-18")
	if c.sid != "" {
		req.Header.Set(mcpwire.HeaderSessionID, c.sid)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		c.b.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(out), `"result"`) {
		c.b.Fatalf("HTTP %d: %s", resp.StatusCode, out)
	}
}

// BenchmarkFastPath measures one tools/call through the aggregator (two
// backends, as bench/configs/aggregate.yaml) to a session and to a
// stateless backend, on the fast path (a client that declares nothing) and
// on the SDK path (a client that declares roots), next to the same call
// made to the backend directly: the difference is the gateway's cost. The
// figures include the in-process client and backend.
//
//	go test ./internal/aggregate/ -run '^$' -bench FastPath -benchmem
func BenchmarkFastPath(b *testing.B) {
	for _, k := range backendKinds {
		b.Run(strings.ReplaceAll(k.name, " ", "_"), func(b *testing.B) {
			u := benchBackend(b, k.stateless)
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			b.Cleanup(hc.CloseIdleConnections)
			b.Run("direct", func(b *testing.B) {
				raw := &rawClient{t: b, url: u.String(), client: hc}
				sid := ""
				if !k.stateless {
					sid = raw.open()
				}
				c := &benchCaller{b: b, url: u.String(), sid: sid, tool: "echo", client: hc}
				b.ReportAllocs()
				for b.Loop() {
					c.call()
				}
			})
			for _, p := range []struct {
				name string
				caps string
			}{{"fast", `{}`}, {"sdk", `{"roots":{}}`}} {
				b.Run(p.name, func(b *testing.B) {
					agg := newAggregator(b, Options{Backends: []Backend{{Name: "bench", URL: u}, {Name: "other", URL: u}}})
					front := front(b, agg, nil)
					resp := (&rawClient{t: b, url: front, client: hc}).post("", strings.Replace(initializeBody, `"capabilities":{}`, `"capabilities":`+p.caps, 1))
					sid := resp.Header.Get(mcpwire.HeaderSessionID)
					if sid == "" {
						b.Fatal("no session")
					}
					(&rawClient{t: b, url: front, client: hc}).post(sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
					c := &benchCaller{b: b, url: front, sid: sid, tool: "bench_echo", client: hc}
					b.ReportAllocs()
					for b.Loop() {
						c.call()
					}
				})
			}
		})
	}
}
