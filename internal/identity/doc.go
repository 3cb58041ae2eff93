// Package identity defines the authenticated principal of a request.
//
// The authn stage puts an *Identity in the request context (and in the
// request record) when, and only when, the caller authenticated. A request
// served without authentication — anonymous mode — carries no Identity at
// all: there is deliberately no synthetic "anonymous", "root" or OS-user
// subject, so nothing downstream (attribution, audit, session binding) can
// mistake an unauthenticated caller for a principal.
package identity
