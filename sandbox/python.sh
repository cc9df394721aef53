#!/usr/bin/env bash
# Creates the virtual environment (.venv) and installs ticketwarden into it, with test tools.
# On a fresh Debian 12 machine it first installs Python's venv module from Debian's packages.
set -euo pipefail
venv="${1:-.venv}"
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "setup: installing python3 and python3-venv from Debian's packages..."
  as_root apt-get update -qq -o DPkg::Lock::Timeout=600
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 \
    python3 python3-venv python3-pip ca-certificates curl >/dev/null
fi
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -e '.[test]'
