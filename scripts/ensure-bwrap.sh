#!/usr/bin/env bash
# The autograder runs each student's kernel inside bubblewrap (no network, read-only system,
# no view of solutions/ or other students' work). Install Debian's package when we can
# (root on Debian/Ubuntu); otherwise say how: grading then falls back to plain subprocess
# limits and says so in its output and report.
set -euo pipefail
if command -v bwrap >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing bubblewrap for the autograder's sandbox (apt-get install bubblewrap)..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
else
  echo "note: bubblewrap (bwrap) not found: grading will run student code WITHOUT a sandbox." >&2
  echo "      Install it (Debian/Ubuntu: sudo apt-get install bubblewrap)." >&2
fi
