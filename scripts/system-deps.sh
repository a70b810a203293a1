#!/usr/bin/env bash
# Install the Debian packages the tests need, once; retry after `apt-get update` on failure.
set -euo pipefail
need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q "${need[@]}" >/tmp/authgate-apt.log 2>&1; then
  apt-get update -q >/dev/null 2>&1 || true
  apt-get install -y -q "${need[@]}" >/tmp/authgate-apt.log 2>&1 || { tail -20 /tmp/authgate-apt.log; exit 1; }
fi
# Debian starts the packaged nginx on port 80; the tests run their own instances.
if command -v service >/dev/null 2>&1; then service nginx stop >/dev/null 2>&1 || true; fi
