#!/usr/bin/env bash
# Runs mcpgate's whole test suite: formatting, vet, staticcheck, every Go test
# under the race detector (end-to-end tests against real MCP peers included,
# against a gateway built with -race: a race it reports fails the test), the
# allocation tests without it, and a bounded run of each fuzz target. Exits
# non-zero on the first failure.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
root=$(repo_root)
cd "$root"

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './e2e/node/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== staticcheck"
sc=$(ensure_staticcheck "$root")
"$sc" ./...

ensure_node_peers "$root"
# The end-to-end trace tests run a real Jaeger (e2e/harness_jaeger_test.go).
MCPGATE_JAEGER=$(ensure_jaeger "$root")
export MCPGATE_JAEGER

echo "== go test -race"
go test -race -count=1 -timeout 20m ./...

# Allocation promises are checked without the race detector, which changes
# allocation counts (the tests skip themselves under -race).
echo "== allocation tests (no -race)"
go test -count=1 -run 'Allocs$|DoesNotAllocate$' ./internal/...

bash scripts/check-deploy.sh   # the Helm chart renders and its config validates (deploy/)

# Each fuzz target runs briefly on top of its committed corpus: enough to catch
# a regression in CI; longer runs are a manual job (docs/operations.md). The
# budget is a count, not a duration: Go 1.26's fuzz coordinator can report a
# spurious "context deadline exceeded" when a duration ends while a starved
# worker is mid-call (go.dev/issue/75804, fixed in Go 1.27).
fuzztime="${FUZZTIME:-30000x}"
echo "== fuzz ($fuzztime per target)"
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "-- $pkg $target"
		go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg" >/tmp/mcpgate-fuzz.log 2>&1 || { cat /tmp/mcpgate-fuzz.log; exit 1; }
	done
done
echo "== all checks passed"
