// Package health is what a relay reports about its backends for the admin
// listener's /readyz: one shape for every relay, so that the gateway asks
// each the same question (Status) instead of knowing their concrete types.
package health
