#!/usr/bin/env bash
# Makes sure a PostgreSQL server runs on 127.0.0.1:5432 for the test suite: installs Debian's
# package if absent, starts a stopped cluster, and (re)creates a test role that may create
# databases. Writes var/test-postgres.env with TICKETWARDEN_TEST_POSTGRES_URL. Idempotent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
env_file="$root/var/test-postgres.env"
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v pg_lsclusters >/dev/null 2>&1; then
  echo "postgres: installing Debian's postgresql package..."
  if ! apt-cache show postgresql >/dev/null 2>&1; then as_root apt-get update -qq -o DPkg::Lock::Timeout=600; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 postgresql >/dev/null
fi
if [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then
  version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
  as_root pg_createcluster "$version" main >/dev/null
fi
pg_lsclusters -h | while read -r version cluster port status _; do
  if [ "$status" != "online" ]; then
    echo "postgres: starting cluster $version/$cluster"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start
  fi
done
for _ in $(seq 1 30); do
  if as_root runuser -u postgres -- psql -h 127.0.0.1 -p 5432 -Atqc "select 1" >/dev/null 2>&1 \
     || as_root runuser -u postgres -- psql -p 5432 -Atqc "select 1" >/dev/null 2>&1; then
    break
  fi
  sleep 1
done

password=""
if [ -f "$env_file" ]; then
  password="$(sed -n 's/^TICKETWARDEN_TEST_POSTGRES_PASSWORD=//p' "$env_file")"
fi
[ -n "$password" ] || password="$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
as_root runuser -u postgres -- psql -p 5432 -v ON_ERROR_STOP=1 -qAt >/dev/null <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ticketwarden_test') THEN
    CREATE ROLE ticketwarden_test LOGIN CREATEDB;
  END IF;
END
\$\$;
ALTER ROLE ticketwarden_test WITH LOGIN CREATEDB PASSWORD '$password';
SQL
mkdir -p "$root/var"
umask 077
{
  echo "# written by sandbox/postgres.sh for the test suite"
  echo "TICKETWARDEN_TEST_POSTGRES_PASSWORD=$password"
  echo "TICKETWARDEN_TEST_POSTGRES_URL=postgresql+psycopg://ticketwarden_test:$password@127.0.0.1:5432/postgres"
} > "$env_file"
echo "postgres: ready on 127.0.0.1:5432 (test role ticketwarden_test)"
