//lint:file-ignore SA1019 logging is deprecated as of 2026-07-28; the gateway must still carry it.

package aggregate

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// newNotifyingBackend is a session-era backend whose "notify" tool sends
// three progress notifications and a log message and answers at once: the
// answer follows the notifications on the call's stream immediately.
func newNotifyingBackend(t *testing.T) Backend {
	t.Helper()
	server := mcp.NewServer(&mcp.Implementation{Name: "n", Version: "1"}, &mcp.ServerOptions{SupportedProtocolVersions: sessionEra})
	server.AddTool(&mcp.Tool{Name: "notify", InputSchema: map[string]any{"type": "object"}},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			tok := req.Params.GetProgressToken()
			for i := range 3 {
				if err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: float64(i + 1), Total: 3}); err != nil {
					return nil, err
				}
			}
			if err := req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "info", Data: "notified"}); err != nil {
				return nil, err
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "done"}}}, nil
		})
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return Backend{Name: "n", URL: u}
}

// TestAggregatorNotificationOrder: the progress and log notifications a
// backend sends before its answer reach the client before the answer, on
// the call's stream, every time (the SDK's client would let the answer
// overtake them). Run with -count=20: each run makes 10 calls per case.
func TestAggregatorNotificationOrder(t *testing.T) {
	cases := []struct {
		name string
		fast bool // no client capabilities: the fast path serves tools/call
	}{
		{"SDK path", false},
		{"fast path", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			agg := newAggregator(t, Options{Backends: []Backend{newNotifyingBackend(t)}})
			u := front(t, agg, nil)
			sid := rawInit(t, u, tc.fast)
			rawCall(t, u, sid, `{"jsonrpc":"2.0","id":2,"method":"logging/setLevel","params":{"level":"info"}}`)
			for i := range 10 {
				body := rawCall(t, u, sid, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"n_notify","arguments":{},"_meta":{"progressToken":"p"}}}`)
				res := strings.Index(body, `"result"`)
				before := body[:res]
				if n := strings.Count(before, `"notifications/progress"`); n != 3 {
					t.Fatalf("call %d: %d progress notifications before the answer, want 3:\n%s", i, n, body)
				}
				if !strings.Contains(before, `"notifications/message"`) {
					t.Fatalf("call %d: no log message before the answer:\n%s", i, body)
				}
			}
		})
	}
}

// TestFenceReaderCounts: markers are counted once each, also when a read
// splits them, and bytes that only look alike are not.
func TestFenceReaderCounts(t *testing.T) {
	progress := `{"jsonrpc":"2.0","method":"notifications/progress","params":{}}`
	message := `{"jsonrpc":"2.0","method":"notifications/message","params":{}}`
	cases := []struct {
		name string
		wire string
		want int64
	}{
		{"none", `{"jsonrpc":"2.0","id":1,"result":{}}`, 0},
		{"one progress", progress, 1},
		{"progress and message", progress + "\n" + message, 2},
		{"escaped in a string", `{"id":1,"result":{"content":[{"type":"text","text":"{\"method\":\"notifications/progress\"}"}]}}`, 0},
		{"spaced", `{"method": "notifications/progress"}`, 0},
		{"many", strings.Repeat("data: "+progress+"\n\n", 7), 7},
	}
	for _, tc := range cases {
		for _, split := range []bool{false, true} {
			name := tc.name
			if split {
				name += ", one byte a read"
			}
			t.Run(name, func(t *testing.T) {
				f := newNoteFence()
				var r io.Reader = strings.NewReader(tc.wire)
				if split {
					r = iotest.OneByteReader(r)
				}
				got, err := io.ReadAll(&fenceReader{r: r, f: f})
				if err != nil || !bytes.Equal(got, []byte(tc.wire)) {
					t.Fatalf("read %q, %v: want the bytes unchanged", got, err)
				}
				if n := f.read.Load(); n != tc.want {
					t.Errorf("counted %d, want %d", n, tc.want)
				}
			})
		}
	}
}

// FuzzFenceReader: however the bytes are split across reads, the count is
// that of the whole.
func FuzzFenceReader(f *testing.F) {
	f.Add([]byte(`{"method":"notifications/progress"}{"method":"notifications/message"}`), uint8(3))
	f.Add([]byte(`"method":"notifications/progres"method":"notifications/progress"`), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		var want int
		for _, m := range fenceMarkers {
			want += bytes.Count(data, m)
		}
		fence := newNoteFence()
		r := &fenceReader{r: &chunkReader{b: data, n: int(chunk%16) + 1}, f: fence}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("bytes changed: %q, %v", got, err)
		}
		if n := fence.read.Load(); n != int64(want) {
			t.Errorf("counted %d, want %d", n, want)
		}
	})
}

// chunkReader returns b n bytes a read.
type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), c.n)], c.b)
	c.b = c.b[k:]
	return k, nil
}
