package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// benchAudience is the "aud" of the benchmark's tokens; a config template
// names it as {{.Audience}}.
const benchAudience = "mcpgate-loadbench"

// issuer is a minimal OpenID Connect provider for the benchmark: discovery
// and a JWKS with one ES256 key, on 127.0.0.1. It mints one token that
// every client of every arm sends, so a gateway configured with auth mode
// oidc verifies real signatures over HTTP-fetched keys — once per token,
// then from its cache, as in production with long-lived sessions.
type issuer struct {
	URL   string
	Token string
	srv   *http.Server
}

func startIssuer(lifetime time.Duration) (*issuer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	l, err := listenLoopback("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	iss := &issuer{URL: "http://" + l.Addr().String()}
	jwk := jose.JSONWebKey{Key: key.Public(), KeyID: "bench-1", Algorithm: string(jose.ES256), Use: "sig"}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
	if err != nil {
		l.Close()
		return nil, err
	}
	discovery, err := json.Marshal(map[string]any{
		"issuer":                                iss.URL,
		"jwks_uri":                              iss.URL + "/jwks",
		"id_token_signing_alg_values_supported": []string{"ES256"},
	})
	if err != nil {
		l.Close()
		return nil, err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), jwk.KeyID))
	if err != nil {
		l.Close()
		return nil, err
	}
	now := time.Now()
	iss.Token, err = jwt.Signed(signer).Claims(jwt.Claims{
		Issuer:   iss.URL,
		Subject:  "loadbench-user",
		Audience: jwt.Audience{benchAudience},
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(lifetime)),
	}).Serialize()
	if err != nil {
		l.Close()
		return nil, err
	}

	mux := http.NewServeMux()
	serveJSON := func(body []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(body)
		}
	}
	mux.HandleFunc("GET /.well-known/openid-configuration", serveJSON(discovery))
	mux.HandleFunc("GET /jwks", serveJSON(jwks))
	iss.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := iss.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logf("issuer: %v", err)
		}
	}()
	return iss, nil
}

func (i *issuer) close() { i.srv.Close() }

// writePseudonymKey writes a fresh key for mcpgate's pseudonymization (32
// random bytes, base64) to dir and returns its path, for config templates
// that turn on hashed user attribution ({{.PseudonymKeyFile}}).
func writePseudonymKey(dir string) (string, error) {
	return writeKey(dir, "pseudonym.key", "pseudonymization key")
}

// writeSessionKey writes a fresh session-sealing key (32 random bytes,
// base64, mode 0600, as `mcpgate keygen` makes) to dir and returns its path,
// for config templates that seal session ids ({{.SessionKeyFile}}).
func writeSessionKey(dir string) (string, error) {
	return writeKey(dir, "session.key", "session key")
}

func writeKey(dir, name, what string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(b)+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return path, nil
}
