#!/usr/bin/env bash
# `make run`: migrate the embedded SQLite store and serve the example rulebook.
# Without REDMINE_URL it first brings up the local sandbox Redmine and uses it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
venv="${VENV:-.venv}"
rules="${TICKETWARDEN_RULES:-examples/rulebooks/redmine-support.yaml}"

if [ -z "${REDMINE_URL:-}" ]; then
  "$here/redmine.sh" up run
  set -a
  # shellcheck disable=SC1091
  . "$root/var/sandbox-redmine.env"
  set +a
  # The sandbox has no webhook plugin: polling brings its events in, so poll often.
  export TICKETWARDEN_POLL_INTERVAL="${TICKETWARDEN_POLL_INTERVAL:-10}"
  # A first start looks back two minutes only: the sandbox may hold many older issues.
  export TICKETWARDEN_POLL_LOOKBACK="${TICKETWARDEN_POLL_LOOKBACK:-120}"
fi
mkdir -p var
if [ -z "${TICKETWARDEN_WEBHOOK_TOKEN:-}" ]; then
  [ -s var/webhook-token ] || (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > var/webhook-token)
  TICKETWARDEN_WEBHOOK_TOKEN="$(cat var/webhook-token)"
  export TICKETWARDEN_WEBHOOK_TOKEN
fi
export TICKETWARDEN_RULES="$rules"
"$venv/bin/ticketwarden" migrate
bind="${TICKETWARDEN_BIND:-127.0.0.1:8080}"
cat <<INFO

  ticketwarden   http://$bind  (health: /healthz, readiness: /readyz)
  rules          $rules
  Redmine        $REDMINE_URL
INFO
if [ -n "${SANDBOX_PERSON_LOGIN:-}" ]; then
  cat <<INFO
  log in         $SANDBOX_PERSON_LOGIN / $SANDBOX_PERSON_PASSWORD
  try it         open $REDMINE_URL/projects/support/issues/new, create an Incident,
                 and within a minute ticketwarden's private note appears on it.
INFO
fi
cat <<INFO
  webhook URL    http://$bind/webhooks/redmine?token=(the token in var/webhook-token
                 or TICKETWARDEN_WEBHOOK_TOKEN) for the redmine_webhook plugin

INFO
exec "$venv/bin/ticketwarden" serve
