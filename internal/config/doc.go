// Package config loads mcpgate's YAML configuration file strictly and reports
// every problem with the file, line and key path it concerns, for example
//
//	mcpgate.yaml:12: backends[1].timeouts.connect: invalid duration "5x"
//	mcpgate.yaml:7: unknown key "upstreams" (known keys here: listen, path, tls, …)
//
// Strict means: unknown keys at any depth, duplicate keys, values of the wrong
// type, several YAML documents in one file, anchors, aliases, merge keys and
// custom tags are all errors. Nothing is silently ignored.
//
// Loading happens in four steps, in this order:
//
//  1. the YAML is parsed into a node tree and mapped onto [Config] by a
//     hand-written walker over a small schema (load.go);
//  2. secret references, ${env:NAME} and ${file:PATH}, in string values are
//     resolved as each value is read (refs.go); $${ stands for a literal ${;
//  3. values the file did not set get their defaults (defaults.go);
//  4. [Config.Validate] runs the semantic checks (validate.go).
//
// A Config remembers which values came from references ([Config.Ref]) so that
// logging can show the reference instead of the secret; error messages never
// contain a resolved reference value.
//
// [ForUpstream] and [ForCommand] build the Config for the no-file command line
// forms `serve --listen ADDR --upstream URL` and `serve --listen ADDR -- CMD…`.
package config
