#!/usr/bin/env bash
# run-matrix.sh — every row of the load benchmark figures in
# docs/operations.md, in one command:
#
#   bench/run-matrix.sh MCPGATE [OUTDIR]
#
# For each kind of backend (the SDK's Streamable HTTP handler with sessions,
# and with Stateless: true):
#   - modes:       one run, c=16, 64 B messages: the plain relay (arm
#                  gateway, configs/relay.yaml), the relay with everything
#                  on (arm all, configs/relay-all.yaml) and aggregating with
#                  everything on (arm agg-all, configs/aggregate-all.yaml);
#   - payloads:    the plain relay with 64 B, 64 KiB and 1 MiB messages, c=16;
#   - concurrency: the plain relay with 1 and 256 clients, 64 B (16 is the
#                  first payload run);
#   - sse:         the plain relay with the backend answering POSTs with
#                  text/event-stream, c=16, 64 B.
# Every run measures its arms against a bare httputil.ReverseProxy in the
# same run, rounds interleaved. The rows, one per arm, are appended to
# OUTDIR/rows.md (a Markdown table); each run's full report is
# OUTDIR/<backend>-<run>.txt.
#
# Environment:
#   ROUNDS (3), D (3s), WARMUP (1s)   rounds per arm, their length, warm-up
#   BACKENDS ("session stateless")    which backends
#   RUNS ("modes payload c sse")      which of the runs above
#   BEFORE=PATH                       another mcpgate build, measured as arm
#                                     "before" (configs/relay.yaml) beside the
#                                     plain relay in every run
#   LOADBENCH=PATH                    a loadbench binary (default: built)
#
# The traced configurations export to bench/otlpsink on 127.0.0.1:14318;
# one is started (and stopped at the end) unless something already listens
# there.
set -eu

if [ $# -lt 1 ]; then
	echo "usage: $0 MCPGATE [OUTDIR]" >&2
	exit 2
fi
mcpgate=$1
out=${2:-$(mktemp -d /tmp/loadbench-matrix.XXXXXX)}
rounds=${ROUNDS:-3}
d=${D:-3s}
warmup=${WARMUP:-1s}
backends=${BACKENDS:-session stateless}
runs=" ${RUNS:-modes payload c sse} "
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"

lb=${LOADBENCH:-}
if [ -z "$lb" ]; then
	lb=$out/loadbench
	(cd "$root" && go build -o "$lb" ./bench/loadbench)
fi

sink=
cleanup() {
	if [ -n "$sink" ]; then kill "$sink" 2>/dev/null || true; fi
}
trap cleanup EXIT INT TERM
if ! (exec 3<>/dev/tcp/127.0.0.1/14318) 2>/dev/null; then
	(cd "$root" && go build -o "$out/otlpsink" ./bench/otlpsink)
	"$out/otlpsink" >"$out/otlpsink.log" 2>&1 &
	sink=$!
	sleep 1
fi

# run NAME ARGS...: one loadbench run, its report to OUTDIR/NAME.txt.
run() {
	name=$1
	shift
	echo "== $name" >&2
	set -- -rounds "$rounds" -d "$d" -warmup "$warmup" -rows "$out/rows.md" \
		-mcpgate "$mcpgate" -gateway-config bench/configs/relay.yaml "$@"
	if [ -n "${BEFORE:-}" ]; then
		set -- "$@" -config-arm "before=bench/configs/relay.yaml,bin=$BEFORE"
	fi
	"$lb" "$@" >"$out/$name.txt"
	grep -E '^[a-z0-9_.-]+/proxy: ' "$out/$name.txt" >&2
}

cd "$root"
for b in $backends; do
	if [[ $runs == *" modes "* ]]; then
		run "$b-modes" -backend "$b" -oidc \
			-config-arm all=bench/configs/relay-all.yaml \
			-config-arm agg-all=bench/configs/aggregate-all.yaml,tool=bench_echo
	fi
	if [[ $runs == *" payload "* ]]; then
		for p in 64 65536 1048576; do
			run "$b-payload-$p" -backend "$b" -payload "$p"
		done
	fi
	if [[ $runs == *" c "* ]]; then
		for c in 1 256; do
			run "$b-c$c" -backend "$b" -c "$c"
		done
	fi
	if [[ $runs == *" sse "* ]]; then
		run "$b-sse" -backend "$b" -sse
	fi
done
echo "rows: $out/rows.md" >&2
cat "$out/rows.md"
