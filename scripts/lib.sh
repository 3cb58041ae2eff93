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

# ensure_go_tool NAME VERSION ROOT TOOLDIR PACKAGE NOTE builds PACKAGE from
# the pinned tools module ROOT/tools/TOOLDIR into the cache as NAME-VERSION
# once (through a temporary name, so that an interrupted build is never
# taken for a finished one), and prints the binary's path.
ensure_go_tool() {
	local name=$1 version=$2 root=$3 dir=$4 pkg=$5 note=$6
	local bin="$MCPGATE_CACHE/bin/$name-$version"
	if [ ! -x "$bin" ]; then
		echo "== building $name $version into $MCPGATE_CACHE/bin$note" >&2
		mkdir -p "$MCPGATE_CACHE/bin"
		(cd "$root/tools/$dir" && go build -o "$bin.tmp" "$pkg") >&2 || return 1
		mv "$bin.tmp" "$bin"
	fi
	echo "$bin"
}

# ensure_staticcheck builds staticcheck once.
ensure_staticcheck() {
	ensure_go_tool staticcheck "$STATICCHECK_VERSION" "$1" staticcheck honnef.co/go/tools/cmd/staticcheck ""
}

# ensure_jaeger builds Jaeger (v2, for the end-to-end trace tests) once.
# The first build takes about 11 minutes.
ensure_jaeger() {
	ensure_go_tool jaeger "$JAEGER_VERSION" "$1" jaeger github.com/jaegertracing/jaeger/cmd/jaeger " (once; takes ~11 min)"
}

# Keep in step with tools/helm/go.mod.
HELM_VERSION=v4.3.2

# ensure_helm builds Helm (for scripts/check-deploy.sh, which renders
# deploy/helm/mcpgate) once. The first build takes about 5 minutes.
ensure_helm() {
	ensure_go_tool helm "$HELM_VERSION" "$1" helm helm.sh/helm/v4/cmd/helm " (once; takes ~5 min)"
}
