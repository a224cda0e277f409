#!/usr/bin/env bash
# The fleet, from a fresh clone, in one command: three replicas of the release binary
# behind nginx on loopback, with the configuration in deploy/nginx/pluggedin-mcp.conf,
# driven by 100 concurrent MCP clients; prints throughput with 1 and 3 replicas (stateless
# and stateful clients), failed calls during a rolling restart (must be 0) and around a
# kill -9 of one replica. Installs Debian's nginx when it is missing (needs root or sudo).
#
#   bash deploy/fleet.sh                 # each phase 10 s; FLEET_SECONDS=N to change
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "nginx is missing: installing Debian's package" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx >/dev/null \
    || { $sudo apt-get update >/dev/null && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx >/dev/null; }
  # The package starts its own nginx on port 80; this script runs its own instead.
  $sudo service nginx stop >/dev/null 2>&1 || true
fi

# Release build of the binary and the driver (benches/fleet.rs), then the run.
exec cargo bench --bench fleet
