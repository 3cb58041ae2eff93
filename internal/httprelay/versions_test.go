package httprelay

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

// TestLearnsAdvertisedVersions: the revisions the gateway's own -32022
// offers through the relay are learned from the backend's server/discover
// results as they are relayed, in JSON and in event streams, and from
// nothing else.
func TestLearnsAdvertisedVersions(t *testing.T) {
	all := new(mcpwire.Advertised).Supported()
	const discover = `{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`
	const pair = `{"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2026-07-28","2025-11-25"],"capabilities":{}}}`
	tests := []struct {
		name     string
		request  string
		sse      bool   // the backend answers with an event stream
		response string // the JSON body, or the one event's data
		want     []string
	}{
		{"discover result as JSON", discover, false, pair, []string{"2026-07-28", "2025-11-25"}},
		{"discover result in an event stream", discover, true, pair, []string{"2026-07-28", "2025-11-25"}},
		{"unknown revisions left out", discover, false,
			`{"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2099-01-01","2025-11-25"]}}`, []string{"2025-11-25"}},
		{"a discover error teaches nothing", discover, false,
			`{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found","data":{"supportedVersions":["2025-11-25"]}}}`, all},
		{"another method's result teaches nothing", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, false, pair, all},
		{"a result for another id teaches nothing", discover, false,
			`{"jsonrpc":"2.0","id":2,"result":{"supportedVersions":["2025-11-25"]}}`, all},
		{"in a batch, the discover's result", `[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"server/discover"}]`, false,
			`[{"jsonrpc":"2.0","id":1,"result":{"tools":[],"supportedVersions":["2025-06-18"]}},{"jsonrpc":"2.0","id":2,"result":{"supportedVersions":["2025-03-26"]}}]`,
			[]string{"2025-03-26"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.sse {
					w.Header().Set("Content-Type", "text/event-stream")
					_, _ = io.WriteString(w, "event: message\ndata: "+tt.response+"\n\n")
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, tt.response)
			}))
			t.Cleanup(backend.Close)
			versions := new(mcpwire.Advertised)
			f := newFront(t, newRelay(t, backend.URL, Options{Versions: versions}))
			resp := post(t, f.URL, tt.request, nil)
			if got, err := io.ReadAll(resp.Body); err != nil || (!tt.sse && string(got) != tt.response) {
				t.Fatalf("client got %q (%v), want the backend's response unchanged", got, err)
			}
			f.record(t)
			if got := versions.Supported(); !slices.Equal(got, tt.want) {
				t.Errorf("Supported() = %v, want %v", got, tt.want)
			}
		})
	}
}
