# Shared helpers for scripts/*.sh. Sourced, not run.

# Built tools live outside the clone, keyed by version, so a fresh clone on a
# machine that already built them does not build them again.
MCPGATE_CACHE="${MCPGATE_CACHE:-$HOME/.cache/mcpgate}"
STATICCHECK_VERSION=v0.8.2
# Keep in step with tools/jaeger/go.mod.
JAEGER_VERSION=v1.76.0

repo_root() { cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd; }

# ensure_node_peers installs the MCP peers (server-everything, the TypeScript
# SDK, the inspector) from the committed lock file, once per lock file.
ensure_node_peers() {
	local dir="$1/e2e/node"
	local stamp="$dir/node_modules/.mcpgate-lock.sha256"
	local want
	want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
		return 0
	fi
	echo "== installing MCP peers from e2e/node/package-lock.json"
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || return 1
	echo "$want" >"$stamp"
}

# ensure_staticcheck builds staticcheck from the pinned tools module once.
ensure_staticcheck() {
	local bin="$MCPGATE_CACHE/bin/staticcheck-$STATICCHECK_VERSION"
	if [ ! -x "$bin" ]; then
		echo "== building staticcheck $STATICCHECK_VERSION into $MCPGATE_CACHE/bin" >&2
		mkdir -p "$MCPGATE_CACHE/bin"
		(cd "$1/tools/staticcheck" && go build -o "$bin" honnef.co/go/tools/cmd/staticcheck) >&2 || return 1
	fi
	echo "$bin"
}

# ensure_jaeger builds Jaeger (v2, for the end-to-end trace tests) from the
# pinned tools module once, and prints the binary's path. The first build
# takes about 11 minutes.
ensure_jaeger() {
	local bin="$MCPGATE_CACHE/bin/jaeger-$JAEGER_VERSION"
	if [ ! -x "$bin" ]; then
		echo "== building Jaeger $JAEGER_VERSION into $MCPGATE_CACHE/bin (once; takes ~11 min)" >&2
		mkdir -p "$MCPGATE_CACHE/bin"
		(cd "$1/tools/jaeger" && go build -o "$bin.tmp" github.com/jaegertracing/jaeger/cmd/jaeger) >&2 || return 1
		mv "$bin.tmp" "$bin"
	fi
	echo "$bin"
}

# Keep in step with tools/helm/go.mod.
HELM_VERSION=v4.3.2

# ensure_helm builds Helm (for scripts/check-deploy.sh, which renders
# deploy/helm/mcpgate) from the pinned tools module once, and prints the
# binary's path. The first build takes about 5 minutes.
ensure_helm() {
	local bin="$MCPGATE_CACHE/bin/helm-$HELM_VERSION"
	if [ ! -x "$bin" ]; then
		echo "== building Helm $HELM_VERSION into $MCPGATE_CACHE/bin (once; takes ~5 min)" >&2
		mkdir -p "$MCPGATE_CACHE/bin"
		(cd "$1/tools/helm" && go build -o "$bin.tmp" helm.sh/helm/v4/cmd/helm) >&2 || return 1
		mv "$bin.tmp" "$bin"
	fi
	echo "$bin"
}
