#!/usr/bin/env bash
# The browser tests drive a real Chromium. Install Debian's package when we can
# (root on Debian/Ubuntu); otherwise say how, and the browser tests will skip.
set -euo pipefail
if [ -n "${CHROMIUM:-}" ] || command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Chromium for the browser tests (apt-get install chromium)..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "note: no Chromium found, so the browser tests will be skipped." >&2
  echo "      Install it (Debian/Ubuntu: sudo apt-get install chromium) or set CHROMIUM=/path/to/chrome." >&2
fi
