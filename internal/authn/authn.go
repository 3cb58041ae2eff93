package authn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/mcpgate/mcpgate/internal/identity"
	"github.com/mcpgate/mcpgate/internal/record"
)

// Options configures an Authenticator; OptionsFromConfig derives them from
// the auth section of the configuration. A mode is on when its list is not
// empty: Issuers for oidc, APIKeys for apiKey.
type Options struct {
	// Anonymous lets requests that present no credential through, without
	// an identity. A credential that is presented is verified all the same.
	Anonymous bool
	// Issuers are the trusted OIDC issuers (mode oidc).
	Issuers []Issuer
	// APIKeys are the accepted API keys (mode apiKey).
	APIKeys []APIKey
	// APIKeyHeader carries API keys; "" means X-API-Key. Keys are also
	// accepted as Authorization: Bearer mcpg_….
	APIKeyHeader string

	// Resource is the gateway's resource identifier (auth.resource), an
	// absolute URL; required unless only Anonymous is set.
	Resource string
	// ResourceName is the metadata's human-readable resource_name ("" = none).
	ResourceName string
	// AuthorizationServers go into the metadata; nil means the issuers.
	AuthorizationServers []string
	// ScopesSupported go into the metadata and into 401 challenges.
	ScopesSupported []string

	// Skew is the clock skew allowed on exp, nbf and iat. 0 means none
	// (the configuration's default is 60s).
	Skew time.Duration
	// TokenCacheTTL bounds how long a verified token is trusted without
	// verifying it again; 0 disables the cache.
	TokenCacheTTL time.Duration
	// TokenCacheSize bounds the cache's entries; 0 disables the cache.
	TokenCacheSize int
	// JWKSRefreshInterval is the period of background key set refreshes;
	// 0 means 5m.
	JWKSRefreshInterval time.Duration
	// JWKSMinRefreshInterval is the least time between two refreshes
	// triggered by tokens with an unknown kid; 0 means 10s.
	JWKSMinRefreshInterval time.Duration
	// FetchTimeout bounds each discovery and JWKS request; 0 means 10s.
	FetchTimeout time.Duration
	// RetryBackoff is the first delay before retrying a failed key fetch in
	// the background (it doubles up to JWKSRefreshInterval); 0 means 1s.
	RetryBackoff time.Duration

	// HTTPClient fetches discovery documents and key sets; nil means a
	// client with FetchTimeout. Its Timeout, if set, also bounds each fetch.
	HTTPClient *http.Client
	// Now is the clock for token times, the cache and the refresh
	// throttle; nil means time.Now.
	Now func() time.Time
	// OnKeyFetch, when set, is told the outcome of every discovery and
	// key set fetch (for the mcpgate.jwks.fetches metric).
	OnKeyFetch func(ok bool)
	// Logger receives key set fetch problems; nil means slog.Default().
	Logger *slog.Logger
}

// Issuer is one trusted OIDC issuer.
type Issuer struct {
	Issuer    string   // exactly the tokens' iss
	Audiences []string // the token's aud must contain one; at least one
	JWKSURL   string   // "" means discovery from Issuer
	// Claims mapped onto the identity; "" means not mapped.
	NameClaim, EmailClaim, GroupsClaim string
	// RequiredScopes must all be in the token's scope or scp claim (403
	// insufficient_scope otherwise).
	RequiredScopes []string
	// RequireTokenType, when set, must be the JOSE header's typ: "" (any)
	// or TokenTypeAccessToken (RFC 9068; application/at+jwt is accepted too).
	RequireTokenType string
}

// APIKey is one accepted API key.
type APIKey struct {
	Subject string
	SHA256  string // hex digest of the key
	Groups  []string
}

// Authenticator is the authn stage. Build it with New; Close stops its
// background key refreshes.
type Authenticator struct {
	anonymous    bool
	issuers      map[string]*issuer
	keySets      []*keySet
	apiKeys      *apiKeySet // nil when mode apiKey is off
	apiKeyHeader string
	cache        *tokenCache // nil when disabled
	skew         time.Duration
	now          func() time.Time

	metadataURL    string // the resource_metadata of 401 challenges
	metadataPath   string
	metadata       []byte // the JSON document
	challengeScope string

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// New builds an Authenticator and starts fetching the issuers' keys in the
// background. It does not wait for them: an issuer that cannot be reached
// makes Ready report an error, and requests bearing its tokens get 503,
// until its keys arrive.
func New(opts Options) (*Authenticator, error) {
	a := &Authenticator{
		anonymous:    opts.Anonymous,
		issuers:      map[string]*issuer{},
		apiKeyHeader: http.CanonicalHeaderKey(cmp(opts.APIKeyHeader, "X-API-Key")),
		skew:         max(opts.Skew, 0),
		now:          opts.Now,
	}
	if a.now == nil {
		a.now = time.Now
	}
	if len(opts.Issuers) == 0 && len(opts.APIKeys) == 0 {
		if !opts.Anonymous {
			return nil, errors.New("authn: no authentication mode: configure issuers, API keys or anonymous access")
		}
		return a, nil
	}
	mu, err := MetadataURL(opts.Resource)
	if err != nil {
		return nil, fmt.Errorf("authn: %w", err)
	}
	a.metadataURL = mu
	pu, _ := url.Parse(mu)
	a.metadataPath = pu.Path
	if err := a.buildMetadata(&opts); err != nil {
		return nil, err
	}
	a.challengeScope = strings.Join(opts.ScopesSupported, " ")
	if len(opts.APIKeys) > 0 {
		if a.apiKeys, err = newAPIKeySet(opts.APIKeys); err != nil {
			return nil, fmt.Errorf("authn: %w", err)
		}
	}
	if len(opts.Issuers) == 0 {
		return a, nil
	}

	a.cache = newTokenCache(opts.TokenCacheSize, opts.TokenCacheTTL)
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: cmp(opts.FetchTimeout, 10*time.Second)}
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	algs := make([]string, len(supportedAlgs))
	for i, alg := range supportedAlgs {
		algs[i] = string(alg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	for _, o := range opts.Issuers {
		if o.Issuer == "" || len(o.Audiences) == 0 {
			cancel()
			return nil, fmt.Errorf("authn: issuer %q: an issuer URL and at least one audience are required", o.Issuer)
		}
		if a.issuers[o.Issuer] != nil {
			cancel()
			return nil, fmt.Errorf("authn: issuer %q configured twice", o.Issuer)
		}
		if o.RequireTokenType != "" && o.RequireTokenType != TokenTypeAccessToken {
			cancel()
			return nil, fmt.Errorf("authn: issuer %q: unsupported required token type %q (only %s)", o.Issuer, o.RequireTokenType, TokenTypeAccessToken)
		}
		iss := &issuer{
			name:        o.Issuer,
			audiences:   slices.Clone(o.Audiences),
			nameClaim:   o.NameClaim,
			emailClaim:  o.EmailClaim,
			groupsClaim: o.GroupsClaim,
			required:    slices.Clone(o.RequiredScopes),
			claimNames:  claimNames(o.NameClaim, o.EmailClaim, o.GroupsClaim),
			tokenType:   o.RequireTokenType,
		}
		ks := &keySet{
			issuer:     o.Issuer,
			jwksURL:    o.JWKSURL,
			client:     client,
			now:        a.now,
			minRefresh: cmp(opts.JWKSMinRefreshInterval, 10*time.Second),
			every:      cmp(opts.JWKSRefreshInterval, 5*time.Minute),
			retryMin:   cmp(opts.RetryBackoff, time.Second),
			log:        log,
			ctx:        ctx,
			firstDone:  make(chan struct{}),
			onFetch:    opts.OnKeyFetch,
		}
		ks.swap = func(removed map[string]bool, store func()) {
			if a.cache == nil {
				store()
				return
			}
			a.cache.swap(iss, removed, store)
		}
		iss.keys = ks
		iss.verifier = oidc.NewVerifier(o.Issuer, ks, &oidc.Config{
			// aud (several accepted values) and exp/nbf/iat (with a
			// configurable skew, exp required) are checked by checkClaims.
			SkipClientIDCheck:    true,
			SkipExpiryCheck:      true,
			SupportedSigningAlgs: algs,
			Now:                  a.now,
		})
		a.issuers[o.Issuer] = iss
		a.keySets = append(a.keySets, ks)
	}
	for _, ks := range a.keySets {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			ks.loop()
		}()
	}
	return a, nil
}

func cmp[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Middleware returns the authn stage. On success the identity is in the
// request context (identity.FromContext) and in the request record; on
// failure the stage answers the request itself and records why.
func (a *Authenticator) Middleware() func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if len(a.issuers) == 0 && a.apiKeys == nil {
			// Anonymous only: nothing to verify against. Credentials are
			// ignored here (the relay strips them before forwarding).
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := record.FromContext(r.Context())
			id, f := a.authenticate(r)
			if f != nil {
				a.reject(w, rec, f)
				return
			}
			if id != nil {
				if rec != nil {
					rec.Identity = id
				}
				r = r.WithContext(identity.NewContext(r.Context(), id))
			}
			next.ServeHTTP(w, r)
		})
	}
}

// authenticate returns the request's identity; nil and no failure means an
// anonymous request that anonymous mode lets through.
func (a *Authenticator) authenticate(r *http.Request) (*identity.Identity, *failure) {
	cred, f := a.credential(r)
	if f != nil {
		return nil, f
	}
	switch cred.kind {
	case credAPIKey:
		if id := a.apiKeys.lookup(cred.value); id != nil {
			return id, nil
		}
		return nil, badToken("API key matches no configured digest")
	case credJWT:
		if len(a.issuers) == 0 {
			return nil, badToken("bearer token is not an API key (no %s prefix) and mode oidc is off", APIKeyPrefix)
		}
		return a.verifyJWT(r.Context(), cred.value)
	}
	if a.anonymous {
		return nil, nil
	}
	return nil, noCredential("no credential presented")
}

// Ready reports nil when every OIDC issuer's keys have been fetched and
// include a usable signing key, else why not (for /readyz).
func (a *Authenticator) Ready() error {
	var errs []error
	for _, ks := range a.keySets {
		if err := ks.ready(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close stops the background key refreshes and waits for them.
func (a *Authenticator) Close() {
	a.closeOnce.Do(func() {
		if a.cancel != nil {
			a.cancel()
		}
		a.wg.Wait()
	})
}
