#!/usr/bin/env bash
# The local sandbox Redmines, from Debian's packages. Debian's redmine package serves several
# instances from one install, each with its own database, files and secret; ticketwarden uses two,
# so that the test suite never shares live state with a running `make run`:
#
#   run    instance "default" on 127.0.0.1:3000  for `make run`   -> var/sandbox-redmine.env
#   test   instance "test"    on 127.0.0.1:3001  for `make test`  -> var/test-redmine.env
#
#   sandbox/redmine.sh [up] [run|test]     install if needed, start if stopped, configure, print access
#   sandbox/redmine.sh stop [run|test|all] stop the server(s)
#   sandbox/redmine.sh status [run|test|all]
#
# The env file holds REDMINE_URL, REDMINE_API_KEY for the ticketwarden user and the person login's
# credentials. Ports: SANDBOX_REDMINE_PORT (run), SANDBOX_TEST_REDMINE_PORT (test). Idempotent.
# Needs root on Debian 12 (or sudo) for the install and to start the server as www-data.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
state_root="/var/lib/ticketwarden-sandbox"   # config.ru and logs, one folder per instance
pid_root="/run/ticketwarden-sandbox"         # root-owned, never chowned: start-stop-daemon trusts it
lock_file="/var/lock/ticketwarden-sandbox.lock"
instances_wanted="default test"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

select_sandbox() {  # sets instance, port, env_file, url, pid_file, state_dir, log_file
  case "$1" in
    run)  instance=default; port="${SANDBOX_REDMINE_PORT:-3000}"; env_file="$root/var/sandbox-redmine.env" ;;
    test) instance=test; port="${SANDBOX_TEST_REDMINE_PORT:-3001}"; env_file="$root/var/test-redmine.env" ;;
    *) echo "sandbox: unknown sandbox '$1' (run or test)" >&2; exit 2 ;;
  esac
  name="$1"
  url="http://127.0.0.1:$port"
  state_dir="$state_root/$instance"
  log_file="$state_dir/redmine.log"
  pid_file="$pid_root/$instance.pid"
}

answering() { curl -fsS -o /dev/null --max-time 5 "$url/login" 2>/dev/null; }

instance_ready() {
  [ -f "/etc/redmine/$1/database.yml" ] && [ -f "/etc/redmine/$1/secret_key.txt" ]
}

preseed() {
  local selections="redmine redmine/current-instances string $instances_wanted"$'\n'
  for inst in $instances_wanted; do
    selections+="redmine redmine/instances/$inst/dbconfig-install boolean true"$'\n'
    selections+="redmine redmine/instances/$inst/database-type select sqlite3"$'\n'
    selections+="redmine redmine/instances/$inst/default-language select en"$'\n'
  done
  printf '%s' "$selections" | as_root debconf-set-selections
}

apt_install() {
  local log="$root/var/sandbox-redmine-install.log"
  mkdir -p "$root/var"
  if ! apt-cache show redmine-sqlite >/dev/null 2>&1; then
    as_root apt-get update -qq -o DPkg::Lock::Timeout=600 >>"$log" 2>&1
  fi
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      -o DPkg::Lock::Timeout=600 "$@" >>"$log" 2>&1; then
    echo "sandbox: installing $* failed; last lines of ${log#"$root"/}:" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
}

install_packages() {
  local missing=""
  for inst in $instances_wanted; do instance_ready "$inst" || missing="$missing $inst"; done
  if dpkg-query -W -f='${Status}' redmine-sqlite 2>/dev/null | grep -q "install ok installed"; then
    if [ -n "$missing" ]; then
      echo "sandbox: adding Redmine instance(s)$missing to Debian's redmine package (about a minute)..."
      preseed
      as_root env DEBIAN_FRONTEND=noninteractive dpkg-reconfigure -fnoninteractive redmine >>"$root/var/sandbox-redmine-install.log" 2>&1 \
      || { echo "sandbox: dpkg-reconfigure redmine failed; see var/sandbox-redmine-install.log" >&2; exit 1; }
    fi
  else
    echo "sandbox: installing Debian's redmine and redmine-sqlite packages (about two minutes)..."
    preseed
    apt_install redmine redmine-sqlite curl ca-certificates procps
  fi
  for inst in $instances_wanted; do
    if ! instance_ready "$inst"; then
      echo "sandbox: Debian's redmine package did not set up the instance '$inst'" >&2
      exit 1
    fi
    # Rails sets SQLite's busy timeout only when it is in database.yml (dbconfig rewrites the file).
    if ! grep -q "timeout:" "/etc/redmine/$inst/database.yml"; then
      as_root sed -i 's/^\(\s*adapter:.*\)$/\1\n  timeout: 10000/' "/etc/redmine/$inst/database.yml"
    fi
  done
}

with_install_lock() {  # `make run` and `make test` started together must not both run apt/dpkg
  if command -v flock >/dev/null 2>&1 && { exec 9>>"$lock_file"; } 2>/dev/null; then
    flock -w 900 9
  fi
  "$@"
}

server_pids() {  # the rackup serving this port, found by its command line (pidfile or not)
  pgrep -u www-data -f "rackup -E production -o 127.0.0.1 -p $port " 2>/dev/null || true
}

start_server() {
  if answering; then return; fi
  as_root mkdir -p "$state_dir" "$pid_root"
  # Rack::Lock serialises requests: SQLite answers "database is locked" to parallel writers.
  as_root tee "$state_dir/config.ru" >/dev/null <<'RU'
require ::File.expand_path('config/environment', '/usr/share/redmine')
use Rack::Lock
run Rails.application
RU
  as_root chown -R www-data:www-data "$state_dir"
  echo "sandbox: starting Redmine ($name, instance $instance) on $url ..."
  as_root start-stop-daemon --start --background --make-pidfile --pidfile "$pid_file" \
    --chuid www-data --chdir /usr/share/redmine --output "$log_file" \
    --exec /usr/bin/env -- RAILS_ENV=production REDMINE_INSTANCE="$instance" RUBYOPT=-rwebrick \
    rackup -E production -o 127.0.0.1 -p "$port" "$state_dir/config.ru"
  for _ in $(seq 1 180); do
    if answering; then return; fi
    sleep 1
  done
  echo "sandbox: Redmine did not answer on $url; last lines of $log_file:" >&2
  as_root tail -n 30 "$log_file" >&2 || true
  exit 1
}

stop_server() {
  if [ -f "$pid_file" ]; then
    # --user as well as the pidfile: start-stop-daemon refuses to match on a pidfile alone unless
    # root owns it, and it must never kill another user's process that took over the pid.
    as_root start-stop-daemon --stop --quiet --oknodo --pidfile "$pid_file" --user www-data \
      --retry TERM/15/KILL/5 || true
  fi
  local pids
  pids="$(server_pids)"
  if [ -n "$pids" ]; then  # started by an older layout, or its pidfile was lost
    # shellcheck disable=SC2086
    as_root kill $pids 2>/dev/null || true
    for _ in $(seq 1 15); do [ -z "$(server_pids)" ] && break; sleep 1; done
    pids="$(server_pids)"
    # shellcheck disable=SC2086
    [ -z "$pids" ] || as_root kill -KILL $pids 2>/dev/null || true
    sleep 1
  fi
  if [ -n "$(server_pids)" ]; then
    echo "sandbox: could not stop Redmine ($name) on $url" >&2
    return 1
  fi
  as_root rm -f "$pid_file"
  echo "sandbox: Redmine ($name) on $url is stopped"
}

configure() {
  mkdir -p "$root/var"
  local out password=""
  if [ -f "$env_file" ]; then
    password="$(sed -n 's/^SANDBOX_PERSON_PASSWORD=//p' "$env_file")"
  fi
  [ -n "$password" ] || password="agent-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  # www-data runs the script: the clone may sit in a folder only its owner can read (mktemp -d),
  # and `rails runner` takes a path it cannot read for Ruby code. So it runs from the state folder.
  local log="$root/var/sandbox-redmine-$name-setup.log" script="$state_dir/redmine_setup.rb"
  as_root mkdir -p "$state_dir"
  as_root install -m 644 "$here/redmine_setup.rb" "$script"
  if ! out="$(cd /usr/share/redmine && as_root env RAILS_ENV=production REDMINE_INSTANCE="$instance" \
      SANDBOX_PERSON_PASSWORD="$password" \
      runuser -u www-data -- rails runner -e production "$script" 2>>"$log")"; then
    echo "sandbox: configuring Redmine ($name) failed; last lines of ${log#"$root"/}:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  {
    echo "# written by sandbox/redmine.sh for the $name sandbox (Redmine instance $instance);"
    echo "# keys are generated by the sandbox and stay local"
    echo "REDMINE_URL=$url"
    echo "REDMINE_INSTANCE=$instance"
    echo "$out" | grep -E '^(REDMINE_API_KEY|SANDBOX_PERSON_API_KEY|SANDBOX_PERSON_LOGIN|SANDBOX_PERSON_PASSWORD|SANDBOX_ADMIN_API_KEY)='
  } > "$env_file.tmp"
  mv "$env_file.tmp" "$env_file"
  chmod 600 "$env_file"
}

up() {
  select_sandbox "$1"
  with_install_lock install_packages
  start_server
  configure
  # shellcheck disable=SC1090
  . "$env_file"
  echo "sandbox: Redmine ($name) is up at $url"
  echo "sandbox: log in as $SANDBOX_PERSON_LOGIN / $SANDBOX_PERSON_PASSWORD (support agent)"
  echo "sandbox: credentials for ticketwarden are in ${env_file#"$root"/}"
}

each() {  # each ACTION run|test|all
  local action="$1" which="$2" status=0
  if [ "$which" = all ]; then set -- run test; else set -- "$which"; fi
  for sandbox in "$@"; do
    select_sandbox "$sandbox"
    "$action" || status=1
  done
  return "$status"
}

status_line() {
  if answering; then echo "sandbox: $name: up at $url (instance $instance)"
  else echo "sandbox: $name: down (instance $instance, $url)"; return 1; fi
}

case "${1:-up}" in
  up) up "${2:-run}" ;;
  stop) each stop_server "${2:-all}" ;;
  status) each status_line "${2:-all}" ;;
  run|test) up "$1" ;;
  *) echo "usage: $0 [up [run|test] | stop [run|test|all] | status [run|test|all]]" >&2; exit 2 ;;
esac
