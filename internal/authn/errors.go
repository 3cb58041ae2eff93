package authn

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
	"github.com/mcpgate/mcpgate/internal/record"
)

// WWW-Authenticate error codes (RFC 6750 §3.1).
const (
	errInvalidRequest    = "invalid_request"
	errInvalidToken      = "invalid_token"
	errInsufficientScope = "insufficient_scope"
)

// CodeAuth is the JSON-RPC error code of 401, 403 and 503 answers of this
// stage: -32000, the start of JSON-RPC's implementation-defined server error
// range, shared with the gateway's other errors (mcpwire.CodeGateway). A
// malformed credential (error="invalid_request") is answered with
// -32600 (Invalid Request) instead. -32001 is deliberately not used: the
// official SDKs send it with 404 for an unknown session, and a client that
// re-initializes on -32001 must not do so on an authentication failure.
// Clients act on the HTTP status and WWW-Authenticate, not on this code.
const CodeAuth int64 = mcpwire.CodeGateway

// failure is why the stage did not let a request through. Its detail is for
// the log only; clients see a generic description.
type failure struct {
	status     int    // 401, 403 or 503
	code       string // WWW-Authenticate error; "" when no credential was presented
	scope      string // space-separated scopes, for insufficient_scope
	reason     record.Reason
	detail     string // for the log
	retryAfter time.Duration
}

func (f *failure) Error() string { return string(f.reason) + ": " + f.detail }

// noCredential: nothing (or nothing in a scheme we support) was presented.
// RFC 6750 §3.1: such a challenge carries no error code.
func noCredential(detail string) *failure {
	return &failure{status: http.StatusUnauthorized, reason: record.ReasonUnauthenticated, detail: detail}
}

func badRequest(format string, args ...any) *failure {
	return &failure{status: http.StatusUnauthorized, code: errInvalidRequest, reason: record.ReasonUnauthenticated, detail: fmt.Sprintf(format, args...)}
}

func badToken(format string, args ...any) *failure {
	return &failure{status: http.StatusUnauthorized, code: errInvalidToken, reason: record.ReasonUnauthenticated, detail: fmt.Sprintf(format, args...)}
}

func insufficientScope(scope []string, format string, args ...any) *failure {
	return &failure{status: http.StatusForbidden, code: errInsufficientScope, scope: strings.Join(scope, " "),
		reason: record.ReasonForbidden, detail: fmt.Sprintf(format, args...)}
}

func unavailable(retry time.Duration, format string, args ...any) *failure {
	return &failure{status: http.StatusServiceUnavailable, reason: record.ReasonAuthUnavailable, retryAfter: retry, detail: fmt.Sprintf(format, args...)}
}

// Errors of the key set, classified by verify into failures.
var (
	// errNoKeys: the issuer's keys have never been fetched (503).
	errNoKeys = errors.New("no signing keys fetched yet")
	// errThrottled: a refresh was wanted but one ran too recently.
	errThrottled = errors.New("key set refresh throttled")
)

// reject answers the request for f: the one place failures become HTTP.
func (a *Authenticator) reject(w http.ResponseWriter, rec *record.Record, f *failure) {
	if rec != nil {
		rec.Fail(f.reason, f.detail)
	}
	var id []byte
	if rec != nil {
		id = rec.RequestID()
	}
	h := w.Header()
	code, msg := CodeAuth, "unauthorized"
	switch f.status {
	case http.StatusServiceUnavailable:
		secs := int64(math.Ceil(f.retryAfter.Seconds()))
		h.Set("Retry-After", strconv.FormatInt(min(max(secs, 1), 300), 10))
		msg = "authentication temporarily unavailable; retry later"
	case http.StatusForbidden:
		h.Set("WWW-Authenticate", a.challenge(f))
		msg = "forbidden: insufficient scope"
	default:
		h.Set("WWW-Authenticate", a.challenge(f))
		if f.code == errInvalidRequest {
			code = jsonrpc.CodeInvalidRequest
		}
	}
	h.Set("Cache-Control", "no-store")
	mcpwire.WriteError(w, f.status, id, code, msg)
}

// descriptions are the generic error_description of each error code.
var descriptions = map[string]string{
	errInvalidRequest:    "The request presents credentials in a way this server does not accept",
	errInvalidToken:      "The access token is invalid, expired or not meant for this resource",
	errInsufficientScope: "The access token lacks a required scope",
}

// challenge renders the WWW-Authenticate value for f.
func (a *Authenticator) challenge(f *failure) string {
	var b strings.Builder
	b.WriteString(`Bearer resource_metadata=`)
	b.WriteString(quote(a.metadataURL))
	scope := f.scope
	if scope == "" {
		scope = a.challengeScope
	}
	if scope != "" {
		b.WriteString(", scope=")
		b.WriteString(quote(scope))
	}
	if f.code != "" {
		b.WriteString(`, error="`)
		b.WriteString(f.code)
		b.WriteString(`", error_description=`)
		b.WriteString(quote(descriptions[f.code]))
	}
	return b.String()
}

// quote renders s as an RFC 9110 quoted-string. Values come from
// configuration and constants, never from the request.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		if c < ' ' || c == 0x7f {
			continue
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}

// clip bounds client-supplied text quoted in a log detail.
func clip(s string) string {
	const n = 64
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strconv.QuoteToASCII(s)
}

// ago renders a duration for a detail, rounded to a readable unit.
func ago(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.String()
}
