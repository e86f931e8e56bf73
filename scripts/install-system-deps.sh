#!/usr/bin/env bash
# Debian packages the tests and the playground run for real. Their services are never started
# by the package (policy-rc.d): the tests start their own processes on 127.0.0.1.
#   openssl: the control plane's certificates; prometheus: a real metrics server; hey: the
#   loadtester's load generator; nginx: the NGINX router's real-traffic test; graphite-carbon,
#   graphite-web: a real Graphite for the graphite metric backend; chromium: the dashboard's
#   browser test (Playwright drives /usr/bin/chromium; no browser is downloaded);
#   make, git, ca-certificates: the build.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
packages=(openssl make git ca-certificates prometheus hey nginx graphite-carbon graphite-web
  chromium)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
restore=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null && $SUDO chmod +x "$policy"
  restore=1
fi
trap '[ -n "$restore" ] && $SUDO rm -f "$policy"' EXIT
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
