#!/usr/bin/env bash
# Quickstart: builds mcpgate, installs the reference MCP server
# (@modelcontextprotocol/server-everything, pinned by e2e/node/package-lock.json)
# and runs the gateway in front of it over stdio on 127.0.0.1:8080, from a
# generated config file that requires an API key (auth.mode: apiKey). It shows
# a call without the key being refused (401), then makes a few real MCP calls
# through the gateway with the key — with curl and with the MCP inspector
# CLI — and shows the gateway's per-request log lines.
#
#   scripts/quickstart.sh            demo, then keep serving until Ctrl-C
#   scripts/quickstart.sh --demo     demo, then stop
#
# MCPGATE_LISTEN sets the address (default 127.0.0.1:8080; must be loopback).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
root=$(repo_root)
cd "$root"

listen="${MCPGATE_LISTEN:-127.0.0.1:8080}"
url="http://$listen/mcp"
work=$(mktemp -d)
log="$work/mcpgate.log"
gw=""
trap '[ -n "$gw" ] && { kill $gw 2>/dev/null; wait $gw 2>/dev/null; }; rm -rf "$work"' EXIT

ensure_node_peers "$root"
echo "== building mcpgate"
go build -o "$work/mcpgate" ./cmd/mcpgate

echo
echo "== making an API key: mcpgate apikey new --subject quickstart-user"
"$work/mcpgate" apikey new --subject quickstart-user >"$work/apikey.txt"
key=$(sed -n 's/^[[:space:]]*\(mcpg_[A-Za-z0-9_-]*\)[[:space:]]*$/\1/p' "$work/apikey.txt")
entry=$(sed -n 's/^[[:space:]]*\(- {subject: .*}\)[[:space:]]*$/\1/p' "$work/apikey.txt")
if [ -z "$key" ] || [ -z "$entry" ]; then
	echo "cannot read the key and its config entry from mcpgate apikey new:"
	cat "$work/apikey.txt"
	exit 1
fi
echo "API key: $key"
echo "(shown for the demo; the config file stores only its SHA-256)"

server="$root/e2e/node/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
config="$work/mcpgate.yaml"
spans="$work/spans.json"
admin="${MCPGATE_ADMIN:-127.0.0.1:9464}"
cat >"$config" <<YAML
listen: $listen
admin: {listen: $admin}    # loopback: /metrics (Prometheus), /readyz, pprof
log: {requests: all}       # a log line for every request, not only failures
telemetry:
  traces: {exporter: console}   # spans as JSON on stdout; use otlp for a real backend
auth:
  mode: apiKey             # clients must present a key
  resource: $url
  apiKeys:
    $entry
backends:
  - name: everything
    command: [node, "$server", stdio]
YAML
echo
echo "== starting: mcpgate serve --config mcpgate.yaml"
sed 's/^/    /' "$config"
"$work/mcpgate" serve --config "$config" 2>"$log" >"$spans" &
gw=$!
for _ in $(seq 50); do
	curl -fsS "http://$listen/healthz" >/dev/null 2>&1 && break
	kill -0 $gw 2>/dev/null || { cat "$log"; exit 1; }
	sleep 0.1
done

init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"quickstart","version":"1"}}}'

echo
echo "== 0. initialize with curl, without the API key: refused"
curl -sS -D "$work/h401" -o "$work/b401" "$url" -H 'Content-Type: application/json' \
	-H 'Accept: application/json, text/event-stream' -d "$init"
sed -n '1s/\r$//p' "$work/h401"
grep -i '^www-authenticate:' "$work/h401" | tr -d '\r'
cat "$work/b401"; echo

mcp() { # mcp SESSION BODY — one MCP POST through the gateway, with the key
	curl -sS "$url" -H "X-API-Key: $key" -H 'Content-Type: application/json' \
		-H 'Accept: application/json, text/event-stream' \
		-H 'MCP-Protocol-Version: 2025-11-25' ${1:+-H "Mcp-Session-Id: $1"} -d "$2"
}

echo
echo "== 1. initialize with curl and X-API-Key (the gateway starts a server process for this session)"
headers="$work/headers"
curl -sS -D "$headers" -o "$work/init.json" "$url" -H "X-API-Key: $key" -H 'Content-Type: application/json' \
	-H 'Accept: application/json, text/event-stream' -d "$init"
sed -n '1s/\r$//p' "$headers"
session=$(sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: *\([^[:space:]]*\).*/\1/p' "$headers")
echo "Mcp-Session-Id: $session"
head -c 300 "$work/init.json"; echo " …"
mcp "$session" '{"jsonrpc":"2.0","method":"notifications/initialized"}'

echo
echo "== 2. tools/call echo with curl (answered as a server-sent event stream)"
mcp "$session" '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello through mcpgate"}}}'

echo "== 3. end the session (DELETE stops its server process)"
curl -sS -o /dev/null -w 'HTTP %{http_code}\n' -X DELETE "$url" -H "X-API-Key: $key" -H "Mcp-Session-Id: $session"

echo
echo "== 4. the MCP inspector CLI through the gateway, with the key in a header"
inspector="$root/e2e/node/node_modules/.bin/mcp-inspector"
echo "\$ mcp-inspector --cli $url --header \"X-API-Key: \$KEY\" --transport http --method tools/call --tool-name get-sum --tool-arg a=2 --tool-arg b=3"
"$inspector" --cli "$url" --header "X-API-Key: $key" --transport http --method tools/call --tool-name get-sum --tool-arg a=2 --tool-arg b=3

echo
echo "== 5. what the gateway logged (one line per request; stderr, JSON, with trace_id)"
grep '"msg":"request"' "$log" || true

echo
echo "== 6. the spans it emitted (OpenTelemetry MCP conventions; console exporter)"
sleep 6   # the batch span processor exports every 5 s
grep -o '"Name":"[^"]*","SpanContext":{"TraceID":"[0-9a-f]*"' "$spans" | sed 's/"SpanContext":{"TraceID"/ TraceID/; s/^/    /' | head -12 || true

echo
echo "== 7. its metrics (Prometheus, on the admin listener http://$admin/metrics)"
curl -fsS "http://$admin/metrics" | grep -E '^mcp_server_operation_duration_seconds_count' | head -8 || true

if [ "${1:-}" = "--demo" ]; then
	exit 0
fi
echo
echo "mcpgate is serving $url — try:"
echo "  $inspector --cli $url --header \"X-API-Key: $key\" --transport http --method tools/list"
echo "Press Ctrl-C to stop. Gateway log: following $log"
tail -f "$log" &
wait $gw
