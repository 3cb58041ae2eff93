package aggregate

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// paramTestSchema annotates a string, an integer, a boolean and a nested
// string property.
const paramTestSchema = `{"type":"object","properties":{
	"region":{"type":"string","x-mcp-header":"Region"},
	"count":{"type":"integer","x-mcp-header":"Count"},
	"dry":{"type":"boolean","x-mcp-header":"Dry"},
	"plain":{"type":"string"},
	"opts":{"type":"object","properties":{"zone":{"type":"string","x-mcp-header":"Zone"}}}}}`

func TestCheckParamHeaders(t *testing.T) {
	cases := []struct {
		name    string
		args    string
		headers map[string]string
		ok      bool
	}{
		{"no annotated argument, no header", `{"plain":"x"}`, nil, true},
		{"absent arguments, no header", ``, nil, true},
		{"matching string", `{"region":"us-west"}`, map[string]string{"Mcp-Param-Region": "us-west"}, true},
		{"matching base64", `{"region":"Hello"}`, map[string]string{"Mcp-Param-Region": "=?base64?SGVsbG8=?="}, true},
		{"base64 without padding", `{"region":"Hello"}`, map[string]string{"Mcp-Param-Region": "=?base64?SGVsbG8?="}, false},
		{"base64 with invalid characters", `{"region":"Hello"}`, map[string]string{"Mcp-Param-Region": "=?base64?SGVs!!!bG8=?="}, false},
		{"literal without the suffix", `{"region":"=?base64?SGVsbG8="}`, map[string]string{"Mcp-Param-Region": "=?base64?SGVsbG8="}, true},
		{"literal base64 text", `{"region":"SGVsbG8="}`, map[string]string{"Mcp-Param-Region": "SGVsbG8="}, true},
		{"mismatching string", `{"region":"us-west"}`, map[string]string{"Mcp-Param-Region": "eu-central"}, false},
		{"missing header", `{"region":"us-west"}`, nil, false},
		{"header for an absent argument", `{}`, map[string]string{"Mcp-Param-Region": "us-west"}, false},
		{"header for a null argument", `{"region":null}`, map[string]string{"Mcp-Param-Region": "null"}, false},
		{"null argument, no header", `{"region":null}`, nil, true},
		{"matching integer", `{"count":42}`, map[string]string{"Mcp-Param-Count": "42"}, true},
		{"integer spelled as a float", `{"count":42}`, map[string]string{"Mcp-Param-Count": "42.0"}, true},
		{"mismatching integer", `{"count":42}`, map[string]string{"Mcp-Param-Count": "43"}, false},
		{"fractional argument", `{"count":1.5}`, map[string]string{"Mcp-Param-Count": "1.5"}, false},
		{"unsafe integer", `{"count":9007199254740993}`, map[string]string{"Mcp-Param-Count": "9007199254740993"}, false},
		{"matching boolean", `{"dry":true}`, map[string]string{"Mcp-Param-Dry": "true"}, true},
		{"boolean in capitals", `{"dry":true}`, map[string]string{"Mcp-Param-Dry": "TRUE"}, false},
		{"object where a primitive is annotated", `{"region":{"a":1}}`, map[string]string{"Mcp-Param-Region": "x"}, false},
		{"matching nested", `{"opts":{"zone":"z1"}}`, map[string]string{"Mcp-Param-Zone": "z1"}, true},
		{"missing nested header", `{"opts":{"zone":"z1"}}`, nil, false},
		{"arguments not an object", `[1]`, map[string]string{"Mcp-Param-Region": "x"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.headers {
				h.Set(k, v)
			}
			err := checkParamHeaders(h, json.RawMessage(paramTestSchema), json.RawMessage(tc.args))
			if (err == nil) != tc.ok {
				t.Errorf("checkParamHeaders(%s, %v) = %v, want ok=%v", tc.args, tc.headers, err, tc.ok)
			}
		})
	}
}

// FuzzCheckParamHeaders: any schema, arguments and header value are
// checked without a panic, and an argument mirrored literally (a printable
// string) always matches its own header.
func FuzzCheckParamHeaders(f *testing.F) {
	f.Add(paramTestSchema, `{"region":"us"}`, "us")
	f.Add(`{"properties":{"a":{"x-mcp-header":"A","properties":{"b":{"x-mcp-header":"B"}}}}}`, `{"a":{"b":1}}`, "=?base64?MQ==?=")
	f.Add(`{"properties":{"a":{"x-mcp-header":7}}}`, `{"a":[]}`, "")
	f.Fuzz(func(t *testing.T, schema, args, value string) {
		h := http.Header{}
		h.Set("Mcp-Param-Region", value)
		h.Set("Mcp-Param-A", value)
		_ = checkParamHeaders(h, json.RawMessage(schema), json.RawMessage(args))
		plain := value != "" && value == strings.TrimSpace(value) && !strings.HasPrefix(value, "=?base64?")
		for _, c := range value {
			plain = plain && c >= 0x20 && c < 0x7f
		}
		if plain {
			a, _ := json.Marshal(map[string]string{"region": value})
			if err := checkParamHeaders(h, json.RawMessage(paramTestSchema), a); err != nil {
				t.Errorf("%q mirrored literally: %v", value, err)
			}
		}
	})
}

// headerBackend is a Go SDK backend speaking versions (nil: 2026-07-28,
// statelessly) with a tool "where" whose region argument is mirrored in
// Mcp-Param-Region; it records the header each tools/call came with.
func headerBackend(t *testing.T, versions []string) (Backend, func() []string) {
	t.Helper()
	server := mcp.NewServer(&mcp.Implementation{Name: "h", Version: "1"}, &mcp.ServerOptions{SupportedProtocolVersions: versions})
	server.AddTool(&mcp.Tool{Name: "where", InputSchema: json.RawMessage(`{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"}},"required":["region"]}`)},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ok"}}}, nil
		})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, &mcp.StreamableHTTPOptions{Stateless: versions == nil})
	var seen []string
	ch := make(chan string, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Mcp-Method") == "tools/call" || (versions != nil && r.Method == http.MethodPost) {
			select {
			case ch <- r.Header.Get("Mcp-Method") + " " + r.Header.Get("Mcp-Param-Region"):
			default:
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return Backend{Name: "h", URL: u}, func() []string {
		for {
			select {
			case s := <-ch:
				seen = append(seen, s)
			default:
				return seen
			}
		}
	}
}

// TestAggregatorParamHeaders: in aggregating mode a 2026-07-28 tools/call
// whose Mcp-Param-* headers do not mirror its arguments as the published
// schema says is refused with HTTP 400 and -32020, the request's id, and
// never reaches the backend; a matching one is served, and the backend
// (when it speaks 2026-07-28 too) gets the header the gateway's client
// writes from the backend's own schema.
func TestAggregatorParamHeaders(t *testing.T) {
	cases := []struct {
		name   string
		args   string
		header string // Mcp-Param-Region; "" for none
		ok     bool
	}{
		{"matching", `{"region":"us-west"}`, "us-west", true},
		{"matching base64", `{"region":"Hello"}`, "=?base64?SGVsbG8=?=", true},
		{"invalid base64 padding", `{"region":"Hello"}`, "=?base64?SGVsbG8?=", false},
		{"mismatch", `{"region":"us-west"}`, "eu-central", false},
		{"missing header", `{"region":"us-west"}`, "", false},
	}
	backends := []struct {
		name     string
		versions []string
	}{{"stateless backend", nil}, {"session backend", sessionEra}}
	for _, be := range backends {
		for _, tc := range cases {
			t.Run(be.name+"/"+tc.name, func(t *testing.T) {
				b, seen := headerBackend(t, be.versions)
				agg := newAggregator(t, Options{Backends: []Backend{b}, Stateless: true})
				url := front(t, agg, nil)
				extra := http.Header{}
				if tc.header != "" {
					extra.Set("Mcp-Param-Region", tc.header)
				}
				status, ans := postStateless(t, url, "h_where", tc.args, extra)
				if string(ans.ID) != "7" {
					t.Errorf("answer id %s, want 7", ans.ID)
				}
				if tc.ok {
					if status != http.StatusOK || ans.Error != nil {
						t.Fatalf("HTTP %d, error %+v; want 200 and a result", status, ans.Error)
					}
					if be.versions == nil {
						if got := seen(); len(got) == 0 || got[len(got)-1] != "tools/call us-west" && got[len(got)-1] != "tools/call Hello" {
							t.Errorf("the backend's tools/call came with %q, want the argument mirrored", got)
						}
					}
					return
				}
				if status != http.StatusBadRequest || ans.Error == nil || ans.Error.Code != -32020 {
					t.Fatalf("HTTP %d, error %+v; want 400 and -32020", status, ans.Error)
				}
				if be.versions == nil {
					for _, s := range seen() {
						if strings.HasPrefix(s, "tools/call") {
							t.Errorf("a refused call reached the backend (%q)", s)
						}
					}
				}
			})
		}
	}
}
