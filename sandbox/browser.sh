#!/usr/bin/env bash
# Makes sure Debian's Chromium and its ChromeDriver are installed, for the tests that render the
# report and fill in the survey page headless. Idempotent.
set -euo pipefail
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "browser: installing Debian's chromium and chromium-driver packages..."
  if ! apt-cache show chromium-driver >/dev/null 2>&1; then as_root apt-get update -qq -o DPkg::Lock::Timeout=600; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 \
    chromium chromium-driver fonts-dejavu-core >/dev/null
fi
echo "browser: $(chromium --version 2>/dev/null | head -n 1)"
