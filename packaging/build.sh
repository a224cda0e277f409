#!/usr/bin/env bash
# Builds the distributable packages from a built binary and checks each: the npm launcher
# and this platform's binary package (npm pack), the MCP Bundle (mcpb validate, mcpb pack),
# server.json (the registry's schema). Nothing is published from here.
#   bash packaging/build.sh BINARY OUT_DIR
# Needs node, npm and the CI tools (npm ci --prefix .ci) on PATH.
set -euo pipefail
bin=$(realpath "$1")
out=$(mkdir -p "$2" && realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
version=$(grep -m1 '^version' "$root/Cargo.toml" | cut -d'"' -f2)
node "$here/check.mjs" "$version"

os=$(node -p process.platform)
cpu=$(node -p process.arch)
platform="$os-$cpu"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# npm: the binary of this platform in a package of its own, and the launcher.
mkdir -p "$work/platform/bin"
sed -e "s/PLATFORM/$platform/g" -e "s/VERSION/$version/" -e "s/\"OS\"/\"$os\"/" -e "s/\"CPU\"/\"$cpu\"/" \
  "$here/npm/platform-package.json" > "$work/platform/package.json"
cp "$bin" "$work/platform/bin/pluggedin-mcp"
chmod 755 "$work/platform/bin/pluggedin-mcp"
cp -r "$here/npm/pluggedin-mcp" "$work/launcher"
(cd "$work/platform" && npm pack --silent --pack-destination "$out" >/dev/null)
(cd "$work/launcher" && npm pack --silent --pack-destination "$out" >/dev/null)

# The MCP Bundle for Claude Desktop.
mkdir -p "$work/mcpb/server"
cp "$here/mcpb/manifest.json" "$work/mcpb/"
cp "$bin" "$work/mcpb/server/pluggedin-mcp"
chmod 755 "$work/mcpb/server/pluggedin-mcp"
mcpb validate "$work/mcpb/manifest.json"
mcpb pack "$work/mcpb" "$out/pluggedin-mcp-$platform.mcpb" >/dev/null
cp "$here/registry/server.json" "$out/"
ls "$out"
