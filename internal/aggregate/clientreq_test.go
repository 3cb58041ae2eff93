package aggregate

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestRouteIDs: a request to the client marked with its route goes out
// under the route id, without the marker; the answer's id parses back to
// the route; the SDK's cancellation of it goes out under the same id.
func TestRouteIDs(t *testing.T) {
	base := routeBase("TAG", "web")
	cases := []struct {
		name    string
		backend string // its id, JSON
		meta    string // other _meta members
	}{
		{name: "integer id", backend: `7`},
		{name: "string id", backend: `"req.7"`},
		{name: "other meta kept", backend: `7`, meta: `,"progressToken":"p1"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			it := &idTransport{prefix: []byte(`"mcpgate.x.`), route: base}
			in := `{"jsonrpc":"2.0","id":` + tc.backend + `,"method":"sampling/createMessage","params":{"_meta":{"a":1` + tc.meta + `},"maxTokens":5}}`
			marked := it.incoming([]byte(in))
			if marked == nil || !strings.Contains(string(marked), routeMetaKey) {
				t.Fatalf("incoming(%s) = %s, want the route marked", in, marked)
			}
			// What the SDK server sends: its own id 3, the _meta as given.
			var m map[string]any
			if err := json.Unmarshal(marked, &m); err != nil {
				t.Fatal(err)
			}
			m["id"] = 3
			sent, _ := json.Marshal(m)
			out, sdkID, full := routeEvent(sent)
			if out == nil || sdkID != "3" {
				t.Fatalf("routeEvent = %s, %q", out, sdkID)
			}
			if strings.Contains(string(out), routeMetaKey) || !strings.Contains(string(out), `"a":1`) || !strings.Contains(string(out), `"maxTokens":5`) {
				t.Errorf("routeEvent = %s: want the marker out, the rest kept", out)
			}
			if tc.meta != "" && !strings.Contains(string(out), `"progressToken":"p1"`) {
				t.Errorf("routeEvent = %s lost the progress token", out)
			}
			id, _ := json.Marshal(full)
			rt, ok := parseRoute(id)
			if !ok || rt.tag != "TAG" || rt.backend != "web" || string(rt.id) != tc.backend || string(rt.m) != "3" {
				t.Fatalf("parseRoute(%s) = %+v, %v", id, rt, ok)
			}
			var asks askIDs
			asks.put(sdkID, full)
			c := asks.cancelled([]byte(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3,"reason":"x"}}`))
			if !strings.Contains(string(c), `"requestId":`+string(id)) {
				t.Errorf("cancelled = %s, want requestId %s", c, id)
			}
			if _, ok := asks.take(sdkID); ok {
				t.Error("the route id is kept after its cancellation")
			}
		})
	}
}

// TestParseRouteRefuses: ids that are not route ids are left alone.
func TestParseRouteRefuses(t *testing.T) {
	for _, id := range []string{`3`, `"mcpgate.x.3"`, `"mcpgate.sr.T.d2Vi.Nw.x"`, `"mcpgate.sr.T.d2Vi.Nw"`, `"mcpgate.sr.T.!!.Nw.3"`, `"mcpgate.sr.T.d2Vi.e30x.3"`} {
		if rt, ok := parseRoute([]byte(id)); ok {
			t.Errorf("parseRoute(%s) = %+v, want refused", id, rt)
		}
	}
	if _, ok := parseRoute([]byte(`"mcpgate.sr.T.d2Vi.Nw.3"`)); !ok {
		t.Error("a route id was refused")
	}
}

// TestIncomingLeavesOthers: a backend's other messages are not marked.
func TestIncomingLeavesOthers(t *testing.T) {
	it := &idTransport{prefix: []byte(`"mcpgate.x.`), route: routeBase("T", "web")}
	for _, in := range []string{
		`{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"roots/list"}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"text":"sampling/createMessage"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"ping"}`,
	} {
		if out := it.incoming([]byte(in)); out != nil {
			t.Errorf("incoming(%s) = %s, want unchanged", in, out)
		}
	}
}
