#!/usr/bin/env bash
# Make sure a tool from Debian's packages is here. Install it when we can (root on
# Debian/Ubuntu); otherwise say how to get it and what happens without it.
#
#   scripts/ensure-debian-package.sh PACKAGE "what it is for" "what happens without it" COMMAND...
#
# Used by `make test` (chromium: the browser tests; bubblewrap: the grading sandbox) and
# `make grade` (bubblewrap).
set -euo pipefail
package=$1 purpose=$2 without=$3
shift 3
for cmd in "$@"; do
  if command -v "$cmd" >/dev/null; then exit 0; fi
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing $package for $purpose (apt-get install $package)..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
else
  echo "note: $package not found, so $without" >&2
  echo "      Install it (Debian/Ubuntu: sudo apt-get install $package)." >&2
fi
