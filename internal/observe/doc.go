// Package observe is the outermost stage of the gateway's chain. It creates
// the request record, lets every inner stage fill it in, and when the request
// ends reports it — today as one structured log line; telemetry and audit
// attach as Reporters — for every request, including the ones an inner
// stage rejected.
package observe
