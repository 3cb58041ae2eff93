package stdiorelay

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeEnv, when "1", turns the test binary into the fake stdio MCP server:
// TestMain runs it instead of the tests, so a child is just os.Executable()
// with this variable set.
const fakeEnv = "STDIORELAY_FAKE_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(fakeEnv) == "1" {
		runFake()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeCommand starts the fake server.
func fakeCommand(t testing.TB) Command {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Under -race a child would otherwise linger a second at exit.
	race := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	return Command{Argv: []string{exe}, Env: []string{fakeEnv + "=1", "GORACE=" + race}}
}

// fakeMsg is any JSON-RPC message, as the fake reads and writes it.
type fakeMsg struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *fakeErr        `json:"error,omitempty"`
}

type fakeErr struct {
	Code    int64  `json:"code"`
	Message string `json:"message"`
}

type fakeCallParams struct {
	Name      string `json:"name"`
	Arguments struct {
		Text string `json:"text"`
		MS   int    `json:"ms"`
		Tag  string `json:"tag"`
		Gate string `json:"gate"` // slow: finish early once this file exists
	} `json:"arguments"`
	Meta struct {
		ProgressToken json.RawMessage `json:"progressToken"`
		Traceparent   string          `json:"traceparent"`
	} `json:"_meta"`
}

// fakeServer is the state of the fake stdio MCP server.
type fakeServer struct {
	wmu sync.Mutex
	out *bufio.Writer

	mu        sync.Mutex
	cancelled []json.RawMessage        // params.requestId of every notifications/cancelled
	cancel    map[string]chan struct{} // in-flight slow calls by raw id
	asks      map[string]chan fakeMsg  // our requests to the client by raw id
	nextAsk   int
	initMeta  string // params._meta of the last initialize, as sent
}

func runFake() {
	fmt.Fprintf(os.Stderr, "fake stdio server starting, pid %d\n", os.Getpid())
	f := &fakeServer{
		out:    bufio.NewWriter(os.Stdout),
		cancel: map[string]chan struct{}{},
		asks:   map[string]chan fakeMsg{},
	}
	in := bufio.NewReader(os.Stdin)
	for {
		line, err := in.ReadBytes('\n')
		if len(strings.TrimSpace(string(line))) > 0 {
			var m fakeMsg
			if jerr := json.Unmarshal(line, &m); jerr != nil {
				// A message split over lines lands here: fail loudly.
				fmt.Fprintf(os.Stderr, "fake: not one JSON message per line: %v: %q\n", jerr, line)
				os.Exit(4)
			}
			if f.handle(m) {
				time.Sleep(time.Hour) // "deaf": stop reading stdin
			}
		}
		if err != nil {
			os.Exit(0) // stdin closed: the stdio transport's shutdown
		}
	}
}

func (f *fakeServer) write(m any) {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	f.wmu.Lock()
	defer f.wmu.Unlock()
	f.out.Write(b)
	f.out.WriteByte('\n')
	f.out.Flush()
}

func (f *fakeServer) reply(id json.RawMessage, result any) {
	b, _ := json.Marshal(result)
	f.write(fakeMsg{JSONRPC: "2.0", ID: id, Result: b})
}

func (f *fakeServer) text(id json.RawMessage, s string, isError bool) {
	f.reply(id, map[string]any{"content": []any{map[string]any{"type": "text", "text": s}}, "isError": isError})
}

// handle processes one message; it reports whether the fake must stop
// reading stdin.
func (f *fakeServer) handle(m fakeMsg) (deaf bool) {
	switch {
	case m.Method == "" && m.ID != nil: // a client's response to our request
		f.mu.Lock()
		ch := f.asks[string(m.ID)]
		f.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	case m.Method == "initialize":
		var p struct {
			ProtocolVersion string          `json:"protocolVersion"`
			Meta            json.RawMessage `json:"_meta"`
		}
		_ = json.Unmarshal(m.Params, &p)
		f.mu.Lock()
		f.initMeta = string(p.Meta)
		f.mu.Unlock()
		f.reply(m.ID, map[string]any{
			"protocolVersion": p.ProtocolVersion,
			"capabilities":    map[string]any{"tools": map[string]any{}},
			"serverInfo":      map[string]any{"name": "fake", "version": "1"},
		})
	case m.Method == "notifications/initialized":
	case m.Method == "server/discover":
		// A 2026-07-28 server's answer, naming a revision the gateway
		// does not know beside two it does.
		f.reply(m.ID, map[string]any{
			"supportedVersions": []string{"2099-01-01", "2026-07-28", "2025-11-25"},
			"capabilities":      map[string]any{"tools": map[string]any{}},
		})
	case m.Method == "tools/list":
		f.reply(m.ID, map[string]any{"tools": []any{map[string]any{"name": "echo", "inputSchema": map[string]any{"type": "object"}}}})
	case m.Method == "notifications/cancelled":
		var p struct {
			RequestID json.RawMessage `json:"requestId"`
		}
		_ = json.Unmarshal(m.Params, &p)
		f.mu.Lock()
		f.cancelled = append(f.cancelled, p.RequestID)
		if ch := f.cancel[string(p.RequestID)]; ch != nil {
			close(ch)
			delete(f.cancel, string(p.RequestID))
		}
		f.mu.Unlock()
	case m.Method == "tools/call":
		var p fakeCallParams
		_ = json.Unmarshal(m.Params, &p)
		switch p.Name {
		case "crash":
			os.Exit(3)
		case "deaf":
			f.text(m.ID, "deaf", false)
			return true
		case "nullid":
			// A server that failed to read the id answers with a null one.
			f.write(fakeMsg{JSONRPC: "2.0", ID: json.RawMessage("null"), Error: &fakeErr{Code: -32603, Message: "could not read id"}})
		case "slow":
			done := make(chan struct{})
			f.mu.Lock()
			f.cancel[string(m.ID)] = done
			f.mu.Unlock()
			go f.slow(m.ID, &p, done)
		default:
			go f.call(m.ID, &p)
		}
	case m.ID != nil:
		f.write(fakeMsg{JSONRPC: "2.0", ID: m.ID, Error: &fakeErr{Code: -32601, Message: "method not found: " + m.Method}})
	}
	return false
}

func (f *fakeServer) call(id json.RawMessage, p *fakeCallParams) {
	switch p.Name {
	case "echo":
		f.text(id, p.Arguments.Text, false)
	case "whoami":
		f.text(id, strconv.Itoa(os.Getpid()), false)
	case "getenv":
		v, ok := os.LookupEnv(p.Arguments.Text)
		f.text(id, strconv.FormatBool(ok)+":"+v, false)
	case "traceparent":
		f.text(id, p.Meta.Traceparent, false)
	case "initmeta":
		f.mu.Lock()
		meta := f.initMeta
		f.mu.Unlock()
		f.text(id, meta, false)
	case "log":
		f.write(map[string]any{"jsonrpc": "2.0", "method": "notifications/message",
			"params": map[string]any{"level": "info", "data": p.Arguments.Text}})
		f.text(id, "logged", false)
	case "cancelled":
		f.mu.Lock()
		b, _ := json.Marshal(f.cancelled)
		f.mu.Unlock()
		f.text(id, string(b), false)
	case "noisy":
		// One stderr "line" longer than any scanner buffer.
		os.Stderr.WriteString(strings.Repeat("x", 256<<10) + "\n")
		f.text(id, "noisy done", false)
	case "ask":
		f.mu.Lock()
		f.nextAsk++
		askID := json.RawMessage(strconv.Quote("ask-" + strconv.Itoa(f.nextAsk)))
		ch := make(chan fakeMsg, 1)
		f.asks[string(askID)] = ch
		f.mu.Unlock()
		f.write(map[string]any{"jsonrpc": "2.0", "id": askID, "method": "sampling/createMessage",
			"params": map[string]any{"messages": []any{map[string]any{"role": "user",
				"content": map[string]any{"type": "text", "text": p.Arguments.Text}}}, "maxTokens": 10}})
		answer := <-ch
		if answer.Error != nil {
			f.text(id, "client refused: "+answer.Error.Message, true)
			return
		}
		var r struct {
			Content struct {
				Text string `json:"text"`
			} `json:"content"`
		}
		_ = json.Unmarshal(answer.Result, &r)
		f.text(id, r.Content.Text, false)
	default:
		f.write(fakeMsg{JSONRPC: "2.0", ID: id, Error: &fakeErr{Code: -32602, Message: "unknown tool " + p.Name}})
	}
}

// slow runs for p.Arguments.MS milliseconds (or until the gate file
// exists), sending progress at once and then every few milliseconds; a
// cancelled call ends without a response, as MCP asks.
func (f *fakeServer) slow(id json.RawMessage, p *fakeCallParams, cancelled chan struct{}) {
	defer func() {
		f.mu.Lock()
		delete(f.cancel, string(id))
		f.mu.Unlock()
	}()
	deadline := time.After(time.Duration(p.Arguments.MS) * time.Millisecond)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		if p.Meta.ProgressToken != nil && n%4 == 0 {
			f.write(map[string]any{"jsonrpc": "2.0", "method": "notifications/progress",
				"params": map[string]any{"progressToken": p.Meta.ProgressToken, "progress": n, "message": p.Arguments.Tag}})
		}
		if p.Arguments.Gate != "" {
			if _, err := os.Stat(p.Arguments.Gate); err == nil {
				break
			}
		}
		select {
		case <-cancelled:
			return
		case <-deadline:
			f.text(id, p.Arguments.Tag+" done", false)
			return
		case <-tick.C:
		}
	}
	f.text(id, p.Arguments.Tag+" done", false)
}
