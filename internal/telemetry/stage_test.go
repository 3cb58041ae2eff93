package telemetry

import "testing"

// TestToolArgumentsRecorded: opt-in arguments reach the SERVER span, redacted.
func TestToolArgumentsRecorded(t *testing.T) {
	for _, on := range []bool{false, true} {
		h := newHarness(t, InstrumentOptions{RecordToolArguments: on}, nil)
		h.serve(post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"login","arguments":{"user":"a","password":"hunter2"}}}`), answer())
		got, ok := attrs(h.spans.Ended()[0].Attributes())["gen_ai.tool.call.arguments"]
		switch {
		case !on && ok:
			t.Errorf("arguments recorded without opt-in: %s", got)
		case on && got != `{"user":"a","password":"[REDACTED]"}`:
			t.Errorf("arguments = %q", got)
		}
	}
}
