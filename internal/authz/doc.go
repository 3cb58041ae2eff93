// Package authz decides, with Cedar policies, whether a principal may make
// an MCP request, and filters list results down to what it may use.
//
// The entity model (namespace mcpgate, schema.cedarschema): the principal
// is a mcpgate::User (the authenticated identity: issuer, subject, groups,
// scopes, method, selected claims) or the one mcpgate::Anonymous; the
// action is the MCP method; the resource is the mcpgate::Tool, Prompt or
// Resource the request names, or the mcpgate::Backend for a method without
// one; the context carries the call's arguments (bounded: args.go), the
// protocol revision and the client's name.
//
// An Engine holds the policy set behind an atomic pointer, so Reload swaps
// a newly parsed and type-checked set in while requests are evaluated and
// keeps the old one when the new one fails. Decide applies the mode (off,
// shadow, enforce) and names the determining policies by their @id;
// FilterList removes the items of a tools/prompts/resources list that the
// matching call action would deny, copying every other byte unchanged.
//
// Evaluation visits only the policies whose scope can match the request's
// action and resource (policy.go's index); the result is the same as
// evaluating every policy, which TestIndexMatchesFullEvaluation checks.
package authz
