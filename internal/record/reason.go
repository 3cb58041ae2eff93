package record

// Reason is the gateway's own reason for an outcome (as opposed to a
// JSON-RPC error code or a tool error reported by the backend). It becomes
// error.type on spans and metrics and error.type in the audit log.
type Reason string

// The reasons the gateway sets. Each has one entry in reasons, which
// classifies it for every reader.
const (
	ReasonBodyTooLarge        Reason = "body_too_large"
	ReasonHeadersTooLarge     Reason = "headers_too_large"
	ReasonParseError          Reason = "parse_error"
	ReasonInvalidRequest      Reason = "invalid_request"
	ReasonHeaderMismatch      Reason = "header_mismatch"
	ReasonUnsupportedVersion  Reason = "unsupported_protocol_version"
	ReasonOriginRejected      Reason = "origin_rejected"
	ReasonSessionNotFound     Reason = "session_not_found"
	ReasonSessionLimit        Reason = "session_limit"
	ReasonMethodNotAllowed    Reason = "method_not_allowed"
	ReasonNotAcceptable       Reason = "not_acceptable"
	ReasonUpstreamUnavailable Reason = "upstream_unavailable"
	ReasonUpstreamTimeout     Reason = "upstream_timeout"
	ReasonUpstreamError       Reason = "upstream_error"
	ReasonStreamClosed        Reason = "stream_closed_without_response"
	ReasonPanic               Reason = "internal_error"
	ReasonClientCanceled      Reason = "client_canceled"
	ReasonToolError           Reason = "tool_error"        // result.isError: the backend's tool failed (an outcome, never a Fail reason)
	ReasonUnauthenticated     Reason = "unauthenticated"   // 401: no, or no valid, credential
	ReasonForbidden           Reason = "forbidden"         // 403: authenticated but lacking a required scope
	ReasonAuthUnavailable     Reason = "auth_unavailable"  // 503: the identity provider's keys are not available yet
	ReasonAuditUnavailable    Reason = "audit_unavailable" // 503: audit.failClosed and the audit sink is failing
	ReasonRateLimited         Reason = "rate_limited"      // 429: a rateLimits rule refused the request
	ReasonAccessDenied        Reason = "access_denied"     // 403: authz.mode enforce and the policies deny a message
)

// Class is how an outcome counts: the audit log's outcome field, and
// whether a log line or a span reports an error.
type Class uint8

const (
	ClassSuccess Class = iota
	ClassDenied        // the gateway refused the caller (authn, origin, an unknown session)
	ClassError         // the client's message or behaviour was at fault
	ClassFailure       // the gateway or the backend failed while serving
)

// Category is which part of the path a reason blames.
type Category uint8

const (
	CategoryNone     Category = iota // not one of the gateway's reasons
	CategoryAuth                     // the authn stage
	CategoryClient                   // the client's request
	CategoryUpstream                 // the backend
	CategoryGateway                  // the gateway itself
	CategoryTool                     // the backend's tool reported an error
	CategoryAuthz                    // the authz stage: a policy denied the request
)

type reasonInfo struct {
	class     Class
	rejection bool
	category  Category
}

// reasons is the one table of what each reason means. A rejection is a
// refusal before any backend saw the request: the audit log writes one
// "rejected" event for it instead of one per message. docs/audit.md has
// the same table.
var reasons = map[Reason]reasonInfo{
	ReasonUnauthenticated: {ClassDenied, true, CategoryAuth},
	ReasonForbidden:       {ClassDenied, true, CategoryAuth},
	ReasonAuthUnavailable: {ClassFailure, true, CategoryAuth},
	ReasonAccessDenied:    {ClassDenied, true, CategoryAuthz},
	ReasonOriginRejected:  {ClassDenied, true, CategoryClient},
	ReasonSessionNotFound: {ClassDenied, true, CategoryClient},
	// Over a limit is a refusal of a valid request, by the gateway's
	// policy, like an unknown session: denied, not the client's error.
	ReasonRateLimited:         {ClassDenied, true, CategoryClient},
	ReasonBodyTooLarge:        {ClassError, true, CategoryClient},
	ReasonHeadersTooLarge:     {ClassError, true, CategoryClient},
	ReasonParseError:          {ClassError, true, CategoryClient},
	ReasonInvalidRequest:      {ClassError, true, CategoryClient},
	ReasonHeaderMismatch:      {ClassError, true, CategoryClient},
	ReasonUnsupportedVersion:  {ClassError, true, CategoryClient},
	ReasonMethodNotAllowed:    {ClassError, true, CategoryClient},
	ReasonNotAcceptable:       {ClassError, true, CategoryClient},
	ReasonClientCanceled:      {ClassError, false, CategoryClient},
	ReasonSessionLimit:        {ClassFailure, true, CategoryGateway},
	ReasonAuditUnavailable:    {ClassFailure, true, CategoryGateway},
	ReasonPanic:               {ClassFailure, false, CategoryGateway},
	ReasonUpstreamUnavailable: {ClassFailure, false, CategoryUpstream},
	ReasonUpstreamTimeout:     {ClassFailure, false, CategoryUpstream},
	ReasonUpstreamError:       {ClassFailure, false, CategoryUpstream},
	ReasonStreamClosed:        {ClassFailure, false, CategoryUpstream},
	ReasonToolError:           {ClassFailure, false, CategoryTool},
}

// Known reports whether r is one of the gateway's reasons (a metric
// attribute may carry it as it is).
func (r Reason) Known() bool { _, ok := reasons[r]; return ok }

// Class is how an outcome with reason r counts. A reason added without a
// table entry counts as a failure while serving.
func (r Reason) Class() Class {
	if r == "" {
		return ClassSuccess
	}
	if i, ok := reasons[r]; ok {
		return i.class
	}
	return ClassFailure
}

// Rejection reports whether r refuses the request before any backend saw it.
func (r Reason) Rejection() bool { return reasons[r].rejection }

// Category is the part of the path r blames.
func (r Reason) Category() Category { return reasons[r].category }
