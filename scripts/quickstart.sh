#!/usr/bin/env bash
# Quickstart: builds mcpgate, installs the reference MCP server
# (@modelcontextprotocol/server-everything, pinned by e2e/node/package-lock.json)
# and runs the gateway in front of it over stdio on 127.0.0.1:8080. It then
# makes a few real MCP calls through the gateway — with curl and with the MCP
# inspector CLI — and shows the gateway's per-request log lines.
#
#   scripts/quickstart.sh            demo, then keep serving until Ctrl-C
#   scripts/quickstart.sh --demo     demo, then stop
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
root=$(repo_root)
cd "$root"

listen="${MCPGATE_LISTEN:-127.0.0.1:8080}"
url="http://$listen/mcp"
work=$(mktemp -d)
log="$work/mcpgate.log"

ensure_node_peers "$root"
echo "== building mcpgate"
go build -o "$work/mcpgate" ./cmd/mcpgate

server="$root/e2e/node/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
echo "== starting: mcpgate serve --listen $listen -- node server-everything stdio"
"$work/mcpgate" serve --listen "$listen" -- node "$server" stdio 2>"$log" &
gw=$!
trap 'kill $gw 2>/dev/null; wait $gw 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do
	curl -fsS "http://$listen/healthz" >/dev/null 2>&1 && break
	kill -0 $gw 2>/dev/null || { cat "$log"; exit 1; }
	sleep 0.1
done

mcp() { # mcp SESSION BODY — one MCP POST through the gateway
	curl -sS "$url" -H 'Content-Type: application/json' \
		-H 'Accept: application/json, text/event-stream' \
		-H 'MCP-Protocol-Version: 2025-11-25' ${1:+-H "Mcp-Session-Id: $1"} -d "$2"
}

echo
echo "== 1. initialize with curl (the gateway starts a server process for this session)"
headers="$work/headers"
curl -sS -D "$headers" -o "$work/init.json" "$url" -H 'Content-Type: application/json' \
	-H 'Accept: application/json, text/event-stream' \
	-d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"quickstart","version":"1"}}}'
session=$(sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: *\([^[:space:]]*\).*/\1/p' "$headers")
echo "Mcp-Session-Id: $session"
head -c 300 "$work/init.json"; echo " …"
mcp "$session" '{"jsonrpc":"2.0","method":"notifications/initialized"}'

echo
echo "== 2. tools/call echo with curl (answered as a server-sent event stream)"
mcp "$session" '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello through mcpgate"}}}'

echo "== 3. end the session (DELETE stops its server process)"
curl -sS -o /dev/null -w 'HTTP %{http_code}\n' -X DELETE "$url" -H "Mcp-Session-Id: $session"

echo
echo "== 4. the MCP inspector CLI through the gateway"
inspector="$root/e2e/node/node_modules/.bin/mcp-inspector"
echo "\$ mcp-inspector --cli $url --transport http --method tools/call --tool-name get-sum --tool-arg a=2 --tool-arg b=3"
"$inspector" --cli "$url" --transport http --method tools/call --tool-name get-sum --tool-arg a=2 --tool-arg b=3

echo
echo "== 5. what the gateway logged (one line per request; stderr, JSON)"
grep '"msg":"request"' "$log" || true

if [ "${1:-}" = "--demo" ]; then
	exit 0
fi
echo
echo "mcpgate is serving $url — try:"
echo "  $inspector --cli $url --transport http --method tools/list"
echo "Press Ctrl-C to stop. Gateway log: following $log"
tail -f "$log" &
wait $gw
