package gateway

import (
	"testing"

	"github.com/mcpgate/mcpgate/internal/config"
)

// TestBinderOptions: unknown session ids fail closed in every auth.mode
// that includes a credential mode, with or without anonymous; only
// anonymous access alone keeps the gateway transparent to them.
func TestBinderOptions(t *testing.T) {
	tests := []struct {
		name  string
		modes []config.AuthMode
		want  bool // AnonymousOnly
	}{
		{"anonymous", []config.AuthMode{config.AuthAnonymous}, true},
		{"apiKey", []config.AuthMode{config.AuthAPIKey}, false},
		{"oidc", []config.AuthMode{config.AuthOIDC}, false},
		{"oidc, apiKey", []config.AuthMode{config.AuthOIDC, config.AuthAPIKey}, false},
		{"apiKey, anonymous", []config.AuthMode{config.AuthAPIKey, config.AuthAnonymous}, false},
		{"oidc, anonymous", []config.AuthMode{config.AuthOIDC, config.AuthAnonymous}, false},
		{"oidc, apiKey, anonymous", []config.AuthMode{config.AuthOIDC, config.AuthAPIKey, config.AuthAnonymous}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &config.Config{Auth: config.Auth{Mode: tt.modes}}
			if got := binderOptions(cfg).AnonymousOnly; got != tt.want {
				t.Errorf("AnonymousOnly = %v, want %v", got, tt.want)
			}
		})
	}
}
