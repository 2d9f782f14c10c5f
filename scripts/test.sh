#!/usr/bin/env bash
# The one test command (`npm test`): system packages, dependencies, lint,
# typecheck, build (dist/, which the integration and fault tests run), unit
# tests, integration tests, fault tests. Integration tests start their own
# InfluxDB / VictoriaMetrics / Mosquitto / Redis on free loopback ports
# (tests/harness/services.ts); this script only makes sure the binaries exist.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() {
  printf '\n==> [%s] %s\n' "$1" "$2"
}

# binary -> Debian package
declare -A PKG_OF=(
  [influxd]=influxdb
  [mosquitto]=mosquitto
  [mosquitto_pub]=mosquitto-clients
  [mosquitto_sub]=mosquitto-clients
  [victoria-metrics]=victoria-metrics
  [chromium]=chromium
  [redis-server]=redis-server
)
# Debian package -> system user its service runs as (to stop only those daemons)
declare -A SERVICE_USER=(
  [influxdb]=influxdb
  [mosquitto]=mosquitto
  [victoria-metrics]=_victoria-metrics
  [redis-server]=redis
)
# Debian package -> daemon process name
declare -A DAEMON_OF=(
  [influxdb]=influxd
  [mosquitto]=mosquitto
  [victoria-metrics]=victoria-metrics
  [redis-server]=redis-server
)

have_bin() {
  command -v "$1" >/dev/null 2>&1 && return 0
  local d
  for d in /usr/local/sbin /usr/sbin /sbin; do
    [ -x "$d/$1" ] && return 0
  done
  return 1
}

# ---------------------------------------------------------------------------
step 1/8 'system packages (influxdb, mosquitto, mosquitto-clients, victoria-metrics, chromium, redis-server)'
missing_pkgs=()
for bin in influxd mosquitto mosquitto_pub mosquitto_sub victoria-metrics chromium redis-server; do
  if ! have_bin "$bin"; then
    pkg=${PKG_OF[$bin]}
    [[ " ${missing_pkgs[*]-} " == *" $pkg "* ]] || missing_pkgs+=("$pkg")
    echo "missing: $bin (Debian package $pkg)"
  fi
done

if [ "${#missing_pkgs[@]}" -eq 0 ]; then
  echo "all service binaries present"
elif [ "$(id -u)" -ne 0 ]; then
  echo "ERROR: missing Debian packages: ${missing_pkgs[*]}" >&2
  echo "Install them as root:  sudo apt-get install -y ${missing_pkgs[*]}" >&2
  echo "(or run this script as root and it will install them)" >&2
  exit 1
else
  export DEBIAN_FRONTEND=noninteractive
  # Keep postinst from starting the system daemons (they would take ports 8086/1883/8428).
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    created_policy=1
    trap 'if [ "$created_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT
  fi
  echo "installing: ${missing_pkgs[*]}"
  apt-get update
  apt-get install -y --no-install-recommends "${missing_pkgs[@]}"
  if [ "$created_policy" = 1 ]; then
    rm -f /usr/sbin/policy-rc.d
    created_policy=0
  fi

  # Stop and disable whatever the packages started anyway; tests run their own instances.
  for pkg in "${missing_pkgs[@]}"; do
    [ "$pkg" = mosquitto-clients ] && continue
    [ "$pkg" = chromium ] && continue
    svc=$pkg
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
      systemctl stop "$svc" >/dev/null 2>&1 || true
      systemctl disable "$svc" >/dev/null 2>&1 || true
    fi
    if command -v service >/dev/null 2>&1; then
      service "$svc" stop >/dev/null 2>&1 || true
    fi
    if command -v update-rc.d >/dev/null 2>&1; then
      update-rc.d "$svc" disable >/dev/null 2>&1 || true
    fi
    # Only the system daemon (running as its service user), never a test instance.
    user=${SERVICE_USER[$pkg]}
    if id -u "$user" >/dev/null 2>&1; then
      pkill -x -u "$user" "${DAEMON_OF[$pkg]}" >/dev/null 2>&1 || true
    fi
  done
  for bin in influxd mosquitto mosquitto_pub mosquitto_sub victoria-metrics chromium redis-server; do
    have_bin "$bin" || { echo "ERROR: $bin still missing after apt-get install" >&2; exit 1; }
  done
fi

# ---------------------------------------------------------------------------
step 2/8 'node dependencies'
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "node_modules missing or older than package-lock.json: npm ci"
  npm ci
else
  echo "node_modules up to date"
fi

# ---------------------------------------------------------------------------
step 3/8 'lint: eslint .'
npx eslint .

# ---------------------------------------------------------------------------
step 4/8 'typecheck: tsc --noEmit -p tsconfig.json'
npx tsc --noEmit -p tsconfig.json

# ---------------------------------------------------------------------------
step 5/8 'build: npm run build (tsc -> dist/, the console bundle -> dist/console; what bin/steward.js runs)'
npm run build

# ---------------------------------------------------------------------------
step 6/8 'unit tests: vitest run --project unit'
npx vitest run --project unit

# ---------------------------------------------------------------------------
step 7/8 'integration tests: vitest run --project integration'
npx vitest run --project integration

# ---------------------------------------------------------------------------
step 8/8 'fault tests (kill -9, SIGSTOP, full disk, storage down 300 s; files in parallel): vitest run --project faults'
npx vitest run --project faults

printf '\n==> all steps passed\n'
