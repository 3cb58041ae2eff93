package authn

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// maxDocumentBytes bounds a discovery document or JWKS.
const maxDocumentBytes = 1 << 20

// keySet is one issuer's signing keys. It implements go-oidc's KeySet.
//
// Keys are fetched in the background when the gateway starts and then
// every refreshEvery, so that a key the issuer removed stops being accepted.
// A token with an unknown kid triggers a refresh too, but such refreshes
// are coalesced (concurrent misses share one fetch) and throttled (at most
// one per minRefresh): go-oidc's RemoteKeySet refetches on every unknown
// kid, which lets a flood of made-up kids hammer the identity provider.
//
// When the issuer is unreachable, the keys already fetched keep being used;
// before the first successful fetch there are none, and verification fails
// with errNoKeys (503 to the client).
type keySet struct {
	issuer     string
	client     *http.Client
	now        func() time.Time
	minRefresh time.Duration
	every      time.Duration
	retryMin   time.Duration
	log        *slog.Logger
	ctx        context.Context // canceled by Close; bounds fetches
	// swap installs a new snapshot; the authenticator wraps it so that
	// cached tokens verified by removed keys are dropped atomically.
	swap func(removed map[string]bool, store func())

	snap    atomic.Pointer[keySnapshot] // nil until the first successful fetch
	fetches atomic.Int64                // JWKS requests made, for tests and metrics
	onFetch func(ok bool)               // told about every fetch; nil = nobody

	mu          sync.Mutex
	jwksURL     string // configured, or found by discovery
	inflight    *inflight
	lastAttempt time.Time
	lastErr     error
	nextRetry   time.Time // when the background loop tries next
	firstDone   chan struct{}
	firstOnce   sync.Once
}

type keySnapshot struct {
	keys      []jose.JSONWebKey
	fetchedAt time.Time
}

type inflight struct {
	done chan struct{}
	err  error
}

// verifyState carries what one verification learns between our code and
// the KeySet callback that go-oidc makes in the middle of Verify.
type verifyState struct {
	raw   string
	jws   *jose.JSONWebSignature
	snap  *keySnapshot // the snapshot that verified the signature
	keyID string       // keyIdentity of the verifying key
	err   error        // the key set's own error (go-oidc flattens it with %v)
}

type verifyStateKey struct{}

// supportedAlgs are the only signature algorithms accepted: never "none",
// never HMAC (a public key must not double as a shared secret).
var supportedAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// VerifySignature implements oidc.KeySet.
func (ks *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	st, _ := ctx.Value(verifyStateKey{}).(*verifyState)
	if st == nil || st.raw != jwt || st.jws == nil {
		jws, err := jose.ParseSignedCompact(jwt, supportedAlgs)
		if err != nil {
			return nil, err
		}
		st = &verifyState{raw: jwt, jws: jws}
	}
	payload, err := ks.verify(ctx, st)
	if err != nil {
		st.err = err
	}
	return payload, err
}

func (ks *keySet) verify(ctx context.Context, st *verifyState) ([]byte, error) {
	if len(st.jws.Signatures) != 1 {
		return nil, errors.New("token must have exactly one signature")
	}
	h := st.jws.Signatures[0].Header
	if snap := ks.snap.Load(); snap != nil {
		payload, id, matched := snap.verify(st.jws, h.KeyID, h.Algorithm)
		if payload != nil {
			st.snap, st.keyID = snap, id
			return payload, nil
		}
		if matched {
			return nil, fmt.Errorf("bad signature (kid %s)", clip(h.KeyID))
		}
	}
	// Unknown kid (or no keys yet): the issuer may have rotated.
	rerr := ks.refresh(ctx, false)
	snap := ks.snap.Load()
	if snap == nil {
		if rerr == nil || errors.Is(rerr, errThrottled) {
			rerr = ks.lastError()
		}
		return nil, fmt.Errorf("%w: %v", errNoKeys, rerr)
	}
	payload, id, matched := snap.verify(st.jws, h.KeyID, h.Algorithm)
	switch {
	case payload != nil:
		st.snap, st.keyID = snap, id
		return payload, nil
	case matched:
		return nil, fmt.Errorf("bad signature (kid %s)", clip(h.KeyID))
	case h.KeyID == "":
		return nil, errors.New("no key verifies the signature (token has no kid)")
	case rerr == nil:
		return nil, fmt.Errorf("unknown kid %s after refresh", clip(h.KeyID))
	case errors.Is(rerr, errThrottled):
		return nil, fmt.Errorf("unknown kid %s (key set refreshed less than %s ago)", clip(h.KeyID), ks.minRefresh)
	default:
		return nil, fmt.Errorf("unknown kid %s; key set refresh failed: %v", clip(h.KeyID), rerr)
	}
}

// verify tries the keys that may have signed: those with the token's kid
// (all of them when it has none) whose alg, if set, is the token's. matched
// reports whether a key with the token's (non-empty) kid was there.
func (s *keySnapshot) verify(jws *jose.JSONWebSignature, kid, alg string) (payload []byte, id string, matched bool) {
	for i := range s.keys {
		k := &s.keys[i]
		if kid != "" && k.KeyID != kid {
			continue
		}
		matched = kid != ""
		if k.Algorithm != "" && k.Algorithm != alg {
			continue
		}
		if p, err := jws.Verify(k.Key); err == nil {
			return p, keyIdentity(k), true
		}
	}
	return nil, "", matched
}

// keyIdentity names a key for cache invalidation: its kid, or its
// thumbprint when it has none.
func keyIdentity(k *jose.JSONWebKey) string {
	if k.KeyID != "" {
		return "kid:" + k.KeyID
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return "?"
	}
	return "jkt:" + hex.EncodeToString(tp)
}

func (ks *keySet) lastError() error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.lastErr == nil {
		return errors.New("the first fetch has not completed")
	}
	return ks.lastErr
}

// refresh fetches the key set, sharing a fetch already in flight. Unless
// force, it returns errThrottled instead of fetching when the last attempt
// was less than minRefresh ago.
func (ks *keySet) refresh(ctx context.Context, force bool) error {
	ks.mu.Lock()
	inf := ks.inflight
	if inf == nil {
		now := ks.now()
		if !force && !ks.lastAttempt.IsZero() && now.Sub(ks.lastAttempt) < ks.minRefresh {
			ks.mu.Unlock()
			return errThrottled
		}
		ks.lastAttempt = now
		inf = &inflight{done: make(chan struct{})}
		ks.inflight = inf
		go ks.run(inf)
	}
	ks.mu.Unlock()
	select {
	case <-inf.done:
		return inf.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run performs one fetch for inf and installs the result.
func (ks *keySet) run(inf *inflight) {
	keys, err := ks.fetch()
	if err == nil {
		next := &keySnapshot{keys: keys, fetchedAt: ks.now()}
		var removed map[string]bool
		if old := ks.snap.Load(); old != nil {
			removed = removedKeys(old.keys, keys)
		}
		ks.swap(removed, func() { ks.snap.Store(next) })
	}
	ks.mu.Lock()
	ks.lastErr = err
	ks.inflight = nil
	ks.mu.Unlock()
	inf.err = err
	close(inf.done)
	ks.firstOnce.Do(func() { close(ks.firstDone) })
}

func removedKeys(old, cur []jose.JSONWebKey) map[string]bool {
	still := make(map[string]bool, len(cur))
	for i := range cur {
		still[keyIdentity(&cur[i])] = true
	}
	var removed map[string]bool
	for i := range old {
		if id := keyIdentity(&old[i]); !still[id] {
			if removed == nil {
				removed = map[string]bool{}
			}
			removed[id] = true
		}
	}
	return removed
}

// loop keeps the key set fresh until ks.ctx is done: at once, then every
// `every`; after a failure sooner, with exponential back-off from retryMin.
func (ks *keySet) loop() {
	backoff := ks.retryMin
	for {
		err := ks.refresh(ks.ctx, true)
		if ks.ctx.Err() != nil {
			return
		}
		wait := ks.every
		if err != nil {
			wait = min(backoff, ks.every)
			backoff = min(2*backoff, ks.every)
			if ks.snap.Load() == nil {
				ks.log.Warn("cannot fetch the OIDC issuer's signing keys; tokens of this issuer get 503 until it succeeds",
					"issuer", ks.issuer, "error", err, "retry_in", wait)
			} else {
				ks.log.Warn("cannot refresh the OIDC issuer's signing keys; using the keys fetched before",
					"issuer", ks.issuer, "error", err, "retry_in", wait)
			}
		} else {
			backoff = ks.retryMin
		}
		ks.mu.Lock()
		ks.nextRetry = ks.now().Add(wait)
		ks.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ks.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// retryAfter estimates when keys may be there: the next background attempt
// or the end of the refresh throttle, whichever is sooner.
func (ks *keySet) retryAfter() time.Duration {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	now := ks.now()
	at := ks.lastAttempt.Add(ks.minRefresh)
	if !ks.nextRetry.IsZero() && ks.nextRetry.Before(at) {
		at = ks.nextRetry
	}
	return max(at.Sub(now), time.Second)
}

// ready reports why the key set cannot verify tokens, or nil.
func (ks *keySet) ready() error {
	snap := ks.snap.Load()
	switch {
	case snap == nil:
		return fmt.Errorf("oidc issuer %s: no signing keys yet: %w", ks.issuer, ks.lastError())
	case len(snap.keys) == 0:
		return fmt.Errorf("oidc issuer %s: its key set has no usable signing keys", ks.issuer)
	}
	return nil
}

// fetch discovers the JWKS URL if need be, then fetches and parses the
// JWKS, reporting the outcome to onFetch.
func (ks *keySet) fetch() ([]jose.JSONWebKey, error) {
	keys, err := ks.fetchKeys()
	if ks.onFetch != nil {
		ks.onFetch(err == nil)
	}
	return keys, err
}

func (ks *keySet) fetchKeys() ([]jose.JSONWebKey, error) {
	ctx, cancel := context.WithTimeout(ks.ctx, ks.client.Timeout)
	if ks.client.Timeout == 0 {
		cancel()
		ctx, cancel = context.WithCancel(ks.ctx)
	}
	defer cancel()
	ks.mu.Lock()
	u := ks.jwksURL
	ks.mu.Unlock()
	if u == "" {
		var err error
		if u, err = ks.discover(ctx); err != nil {
			return nil, err
		}
		ks.mu.Lock()
		ks.jwksURL = u
		ks.mu.Unlock()
	}
	ks.fetches.Add(1)
	body, status, err := ks.get(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("fetching JWKS %s: %w", u, err)
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("fetching JWKS %s: HTTP %d", u, status)
	}
	keys, err := parseJWKS(body)
	if err != nil {
		return nil, fmt.Errorf("JWKS %s: %w", u, err)
	}
	return keys, nil
}

// discover finds the JWKS URL from the issuer's OpenID Connect discovery
// document, or failing that (404) its RFC 8414 authorization server metadata.
func (ks *keySet) discover(ctx context.Context) (string, error) {
	base := strings.TrimSuffix(ks.issuer, "/")
	candidates := []string{base + "/.well-known/openid-configuration"}
	if u, err := url.Parse(ks.issuer); err == nil {
		path := strings.TrimSuffix(u.Path, "/")
		u.Path, u.RawPath = "/.well-known/oauth-authorization-server"+path, ""
		candidates = append(candidates, u.String())
	}
	var lastErr error
	for _, c := range candidates {
		body, status, err := ks.get(ctx, c)
		if err != nil {
			return "", fmt.Errorf("discovery %s: %w", c, err)
		}
		if status == http.StatusNotFound {
			lastErr = fmt.Errorf("discovery %s: HTTP 404", c)
			continue
		}
		if status != http.StatusOK {
			return "", fmt.Errorf("discovery %s: HTTP %d", c, status)
		}
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			return "", fmt.Errorf("discovery %s: %w", c, err)
		}
		if doc.Issuer != ks.issuer {
			return "", fmt.Errorf("discovery %s: issuer %s does not match the configured %s", c, clip(doc.Issuer), ks.issuer)
		}
		if err := checkFetchURL(doc.JWKSURI, ks.issuer); err != nil {
			return "", fmt.Errorf("discovery %s: jwks_uri: %w", c, err)
		}
		return doc.JWKSURI, nil
	}
	return "", lastErr
}

// checkFetchURL accepts https URLs, and http ones only when the issuer
// itself is http (a loopback test or development setup).
func checkFetchURL(s, issuer string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "":
		return fmt.Errorf("%s is not an absolute URL", clip(s))
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && strings.HasPrefix(issuer, "http://"):
		return nil
	}
	return fmt.Errorf("%s must use https", clip(s))
}

func (ks *keySet) get(ctx context.Context, u string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := ks.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return nil, 0, err
	}
	if len(body) > maxDocumentBytes {
		return nil, 0, fmt.Errorf("document larger than %d bytes", maxDocumentBytes)
	}
	if resp.StatusCode == http.StatusOK {
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "" && mt != "application/json" &&
			mt != "application/jwk-set+json" && !strings.HasSuffix(mt, "+json") {
			return nil, 0, fmt.Errorf("unexpected content type %s", clip(mt))
		}
	}
	return body, resp.StatusCode, nil
}

// parseJWKS keeps the usable signing keys of a JWKS: public RSA (≥ 2048
// bits), ECDSA and Ed25519 keys not marked for encryption. Symmetric keys
// are dropped whatever they claim, so no token can be verified by HMAC.
// Keys of types this program does not know are skipped (RFC 7517 §5).
func parseJWKS(body []byte) ([]jose.JSONWebKey, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, err
	}
	if raw.Keys == nil {
		return nil, errors.New(`no "keys" member`)
	}
	keys := make([]jose.JSONWebKey, 0, len(raw.Keys))
	for _, r := range raw.Keys {
		var k jose.JSONWebKey
		if err := json.Unmarshal(r, &k); err != nil {
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if !k.IsPublic() {
			k = k.Public()
		}
		switch pub := k.Key.(type) {
		case *rsa.PublicKey:
			if pub.N.BitLen() < 2048 {
				continue
			}
		case *ecdsa.PublicKey, ed25519.PublicKey:
		default:
			continue
		}
		keys = append(keys, k)
	}
	return keys, nil
}
