// Package redact applies a redaction function to the gateway's log: every
// string of every record (the message, attribute values, errors, values
// that format themselves, nested groups) passes through it before the
// record is written. The configuration supplies the function
// (config.Config.Redact): it replaces the values of ${env:…} and ${file:…}
// references by the references as written, so that a backend's secret
// that ends up in an error — url.Error quotes a URL with its query — is
// never logged, whichever component logs it.
package redact
