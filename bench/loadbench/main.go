// Command loadbench measures MCP tools/call throughput and latency through
// mcpgate against a bare httputil.ReverseProxy in front of the same backend,
// in the same run, with the arms' rounds interleaved; see bench/README.md.
//
//	loadbench [run] [flags]    the benchmark (the default)
//	loadbench backend [flags]  the MCP backend it starts as a subprocess
//	loadbench proxy [flags]    the baseline reverse proxy it starts
package main

import (
	"fmt"
	"os"
)

func main() {
	args := os.Args[1:]
	cmd := "run"
	if len(args) > 0 && (args[0] == "run" || args[0] == "backend" || args[0] == "proxy") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "backend":
		err = runBackend(args)
	case "proxy":
		err = runProxy(args)
	default:
		err = runBench(args)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}
