package sessionseal

import "errors"

// ErrInvalid is satisfied by every error [Ring.Open] returns: the one test
// a caller makes before answering the client, identically for every kind.
var ErrInvalid = errors.New("invalid session token")

// The kinds of invalid token, for logs and metrics only; each error Open
// returns also satisfies errors.Is with exactly one of these.
var (
	ErrMalformed  = errors.New("malformed")           // not a token: length, charset, encoding, plaintext layout
	ErrVersion    = errors.New("unsupported version") // a token or plaintext format this build does not know
	ErrUnknownKey = errors.New("unknown key")         // sealed under a key the ring does not hold (removed, or foreign)
	ErrTampered   = errors.New("authentication failed")
	ErrExpired    = errors.New("expired")
	ErrPrincipal  = errors.New("another principal") // sealed for a different principal than the caller
)

// openError is what Open returns: one value per kind, built once, so a
// refusal costs no allocation.
type openError struct {
	kind   error
	reason string
	msg    string
}

func (e *openError) Error() string { return e.msg }

// Is makes the error match ErrInvalid as well as its kind.
func (e *openError) Is(target error) bool { return target == ErrInvalid || target == e.kind }

func (e *openError) Unwrap() error { return e.kind }

func newOpenError(kind error, reason string) *openError {
	return &openError{kind: kind, reason: reason, msg: ErrInvalid.Error() + ": " + kind.Error()}
}

var (
	errMalformed  = newOpenError(ErrMalformed, "malformed")
	errVersion    = newOpenError(ErrVersion, "version")
	errUnknownKey = newOpenError(ErrUnknownKey, "unknown_key")
	errTampered   = newOpenError(ErrTampered, "tampered")
	errExpired    = newOpenError(ErrExpired, "expired")
	errPrincipal  = newOpenError(ErrPrincipal, "principal")
)

// Reason returns a short label for an error of Open — "malformed",
// "version", "unknown_key", "tampered", "expired" or "principal" — fit
// for a metric attribute, and "" for any other error.
func Reason(err error) string {
	var e *openError
	if errors.As(err, &e) {
		return e.reason
	}
	return ""
}
