package aggregate

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/inspect"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/observe"
	"github.com/mcpgate/mcpgate/internal/record"
)

// TestSupportedVersionsMatchDiscover: in aggregating mode the gateway is the
// server, so the revisions its -32022 offers for an unknown one (the
// inspect stage, given SupportedVersions as the gateway gives it) are
// exactly those its server/discover lists, as SEP-2575 has a client check.
func TestSupportedVersionsMatchDiscover(t *testing.T) {
	b := newTestBackend(t, "one", []string{"t"}, nil)
	agg := newAggregator(t, Options{Backends: []Backend{b.backend(t)}})
	authn := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			record.FromContext(r.Context()).Identity = &identity.Identity{Subject: "alice", Issuer: "urn:test"}
			next.ServeHTTP(w, r)
		})
	}
	srv := httptest.NewServer(observe.New(nil)(inspect.New(inspect.Options{Supported: agg.SupportedVersions})(authn(agg))))
	t.Cleanup(func() {
		srv.Close()
		_ = agg.Close(t.Context())
	})

	// post sends a 2026-07-28-style server/discover naming version v in
	// the header and _meta, and returns the status and the one message.
	post := func(v string) (int, []byte) {
		t.Helper()
		body := `{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"` + v +
			`","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"}}}}`
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set(mcpwire.HeaderProtocolVersion, v)
		req.Header.Set(mcpwire.HeaderMethod, "server/discover")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			for line := range strings.Lines(string(raw)) {
				if data, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "data: "); ok {
					return resp.StatusCode, []byte(data)
				}
			}
		}
		return resp.StatusCode, raw
	}

	status, msg := post(mcpwire.Version20260728)
	var discovered struct {
		Result struct {
			SupportedVersions []string `json:"supportedVersions"`
		} `json:"result"`
	}
	if err := json.Unmarshal(msg, &discovered); err != nil || status != http.StatusOK || len(discovered.Result.SupportedVersions) == 0 {
		t.Fatalf("server/discover: %d %s (%v), want a result listing supportedVersions", status, msg, err)
	}
	status, msg = post("v999.0.0")
	var refused struct {
		Error struct {
			Code int64 `json:"code"`
			Data struct {
				Supported []string `json:"supported"`
			} `json:"data"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg, &refused); err != nil || status != http.StatusBadRequest || refused.Error.Code != mcpwire.CodeUnsupportedProtocolVersion {
		t.Fatalf("v999.0.0: %d %s (%v), want 400 -32022", status, msg, err)
	}
	listed := discovered.Result.SupportedVersions
	if got := refused.Error.Data.Supported; !slices.Equal(got, listed) {
		t.Errorf("-32022 offers %v, server/discover lists %v", got, listed)
	}
	if got := agg.SupportedVersions(); !slices.Equal(got, listed) {
		t.Errorf("SupportedVersions() = %v, server/discover lists %v", got, listed)
	}
}
