// Package record holds the per-request record that every stage of the
// gateway's chain fills in and that the outermost stage, observe, reads when
// the request ends.
//
// Carrying facts in one record rather than emitting telemetry from each stage
// means every attribute — identity included — is set when the request ends,
// whatever order the stages ran in.
//
// It is also the relays' one contract (docs/architecture.md): answers are
// recorded with Record.Answer, the gateway's failures are typed
// (BackendError, Reason), and Record.OpOutcome is the one classification
// every reporter reads.
package record
