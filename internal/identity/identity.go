package identity

import "context"

// Method names how a principal authenticated.
type Method string

const (
	// MethodOIDC: a JWT access token verified against an OIDC issuer's keys.
	MethodOIDC Method = "oidc"
	// MethodAPIKey: a static API key matched against a configured digest.
	MethodAPIKey Method = "apiKey"
)

// APIKeyIssuer is the Issuer of every API-key identity, so that an API-key
// subject can never collide with a subject of an OIDC issuer.
const APIKeyIssuer = "urn:mcpgate:apikey"

// Identity is an authenticated principal. Values handed out by the authn
// stage may be shared between requests (verified tokens are cached): treat
// them, their Groups and their Claims as read-only.
type Identity struct {
	Subject string   // sub claim, or the API key's configured subject; never empty
	Issuer  string   // iss claim, or APIKeyIssuer
	Name    string   // display name from the configured claim; may be empty
	Email   string   // e-mail from the configured claim; may be empty
	Groups  []string // groups from the configured claim, or the API key's groups
	// Claims holds every claim of a verified token (nil for API keys).
	Claims map[string]any
	Method Method
}

type ctxKey struct{}

// NewContext returns ctx carrying id. A nil id leaves ctx unchanged, so that
// "no principal" is always represented by the absence of a value.
func NewContext(ctx context.Context, id *Identity) context.Context {
	if id == nil {
		return ctx
	}
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the request's authenticated principal, or nil when the
// request was not authenticated.
func FromContext(ctx context.Context) *Identity {
	id, _ := ctx.Value(ctxKey{}).(*Identity)
	return id
}
