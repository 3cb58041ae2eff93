// Package inspect is the stage that reads each POST body once (bounded),
// parses it once with the strict parser of package jsonrpc, checks it
// against the transport rules of the protocol revision in use, fills the
// request record, and hands the parsed message to the inner stages through
// the context. Nothing after it parses the request again.
package inspect
