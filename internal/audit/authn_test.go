package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/internal/authn"
	"github.com/mcpgate/mcpgate/internal/observe"
)

// TestAuthnRejectionsCarryNoCredential runs real authn rejections through
// observe and the reporter: whatever credential the client presented, the
// event (whose error.message is authn's detail) must not contain it.
func TestAuthnRejectionsCarryNoCredential(t *testing.T) {
	good := "mcpg_" + strings.Repeat("a", 40)
	sum := sha256.Sum256([]byte(good))
	a, err := authn.New(authn.Options{
		APIKeys:  []authn.APIKey{{Subject: "ci", SHA256: hex.EncodeToString(sum[:])}},
		Resource: "https://gw.example.com/mcp",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	tests := []struct {
		name, header, value, secret string
	}{
		{"unknown API key", "X-API-Key", apiKey, apiKey},
		{"unknown API key as bearer", "Authorization", "Bearer " + apiKey, apiKey},
		{"JWT with oidc off", "Authorization", "Bearer " + jwt, jwt},
		{"opaque bearer token", "Authorization", "Bearer " + opaque, opaque},
		{"basic credentials", "Authorization", "Basic " + opaque, opaque},
		{"unknown scheme", "Authorization", "Token " + opaque, opaque},
		{"malformed bearer", "Authorization", "Bearer " + opaque + " " + opaque, opaque},
		{"token in the query", "", "", opaque},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, events := newMemLogger(t, Options{})
			rep, err := l.Reporter(ReportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			h := observe.New(nil, rep)(a.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				t.Error("request admitted")
			})))
			req := httptest.NewRequest("POST", "/mcp", strings.NewReader(`{}`))
			if tt.header != "" {
				req.Header.Set(tt.header, tt.value)
			} else {
				req = httptest.NewRequest("POST", "/mcp?access_token="+opaque, strings.NewReader(`{}`))
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			line, evs := events()
			if len(evs) != 1 || evs[0]["event"] != "rejected" || evs[0]["outcome"] != "denied" {
				t.Fatalf("events: %s", line)
			}
			if strings.Contains(line, tt.secret) {
				t.Errorf("event contains the credential:\n%s", line)
			}
		})
	}
}
