// Package authzstage is the request path's authz stage: it decides each
// JSON-RPC message of a request with internal/authz's engine, records the
// decision on the message's op (record.Op.Authz), refuses a request with a
// denied message in enforce mode before anything reaches the backend, and
// filters the list results of the response (tools/list, prompts/list,
// resources/list, resources/templates/list) to what the principal may use,
// JSON and SSE alike, in front of every relay.
//
// It sits after sessionbind: the principal is the one authn found, and a
// session someone else owns has already been refused. Like the reporters
// and relays it reads the parsed request that inspect left in the context.
package authzstage
