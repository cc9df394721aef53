#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed, for the tests that render the report and the
# survey page headless. Idempotent.
set -euo pipefail
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v chromium >/dev/null 2>&1; then
  echo "browser: installing Debian's chromium package..."
  if ! apt-cache show chromium >/dev/null 2>&1; then as_root apt-get update -qq; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium fonts-dejavu-core >/dev/null
fi
echo "browser: $(chromium --version 2>/dev/null | head -n 1)"
