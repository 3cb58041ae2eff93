#!/usr/bin/env bash
# Checks deploy/: the Helm chart lints and renders for each value set in
# deploy/helm/ci (and the defaults), each rendering holds together and its
# mcpgate configuration passes `mcpgate validate` (deploy/rendercheck); the
# Collector config parses as YAML and the Grafana dashboard as JSON, and
# every metric the dashboard queries is one mcpgate emits. Run by
# scripts/test.sh; exits non-zero on the first failure.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
root=$(repo_root)
cd "$root"

helm=$(ensure_helm "$root")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/mcpgate" ./cmd/mcpgate
go build -o "$work/rendercheck" ./deploy/rendercheck

chart=deploy/helm/mcpgate
echo "== helm lint"
"$helm" lint --strict "$chart" >"$work/lint.log" 2>&1 || { cat "$work/lint.log"; exit 1; }

for set in default deploy/helm/ci/*.yaml; do
	args=()
	[ "$set" != default ] && args=(--values "$set")
	echo "== helm template ($set)"
	"$helm" template mcpgate "$chart" --namespace mcpgate "${args[@]}" >"$work/rendered.yaml"
	"$work/rendercheck" -mcpgate "$work/mcpgate" -secrets deploy/helm/ci/secrets <"$work/rendered.yaml"
done

# deploy/rendercheck's unit test reads the default rendering from testdata:
# keep it the chart's.
if ! diff <(sed 1d deploy/rendercheck/testdata/rendered.yaml) <("$helm" template mcpgate "$chart") >"$work/diff" ; then
	cat "$work/diff"
	echo "deploy/rendercheck/testdata/rendered.yaml is stale: regenerate it with helm template mcpgate $chart (keep its first line)"; exit 1
fi

# The chart refuses to let config override what it owns.
if "$helm" template mcpgate "$chart" --set config.listen=0.0.0.0:1 >/dev/null 2>&1; then
	echo "helm template accepted config.listen, which the chart owns"; exit 1
fi

echo "== deploy/otel-collector.yaml, deploy/grafana-dashboard.json"
go run ./deploy/filecheck deploy/otel-collector.yaml deploy/grafana-dashboard.json docs/telemetry.md
echo "== deploy checks passed"
