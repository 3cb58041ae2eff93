package authn

import "github.com/mcpgate/mcpgate/internal/config"

// OptionsFromConfig derives Options from a validated configuration's auth
// section. HTTPClient, Now and Logger are left for the caller.
func OptionsFromConfig(a *config.Auth) Options {
	o := Options{
		Anonymous:              a.Anonymous(),
		APIKeyHeader:           a.APIKeyHeader,
		Resource:               a.Resource,
		ResourceName:           a.ResourceName,
		AuthorizationServers:   a.AuthorizationServers,
		ScopesSupported:        a.ScopesSupported,
		Skew:                   a.OIDC.Skew,
		TokenCacheTTL:          a.OIDC.TokenCacheTTL,
		TokenCacheSize:         a.OIDC.TokenCacheSize,
		JWKSRefreshInterval:    a.OIDC.JWKSRefreshInterval,
		JWKSMinRefreshInterval: a.OIDC.JWKSMinRefreshInterval,
		FetchTimeout:           a.OIDC.FetchTimeout,
	}
	if a.Has(config.AuthOIDC) {
		for _, is := range a.OIDC.Issuers {
			o.Issuers = append(o.Issuers, Issuer{
				Issuer:         is.Issuer,
				Audiences:      is.Audiences,
				JWKSURL:        is.JWKSURL,
				NameClaim:      is.Claims.Name,
				EmailClaim:     is.Claims.Email,
				GroupsClaim:    is.Claims.Groups,
				RequiredScopes: is.RequiredScopes,
				// The same value: config validates it, New re-checks.
				RequireTokenType: is.RequireTokenType,
			})
		}
	}
	if a.Has(config.AuthAPIKey) {
		for _, k := range a.APIKeys {
			o.APIKeys = append(o.APIKeys, APIKey{Subject: k.Subject, SHA256: k.SHA256, Groups: k.Groups})
		}
	}
	return o
}
