# shellcheck shell=bash
# bin/lib/postgres.sh: PostgreSQL for the scripts (sources common.sh).
#   ensure_postgres        a server answers at $TEST_DATABASE_URL (default: the local trust-auth server
#                          at 127.0.0.1:5432), starting an installed-but-stopped cluster or installing
#                          Debian's package if there is none
#   create_temp_database   a fresh, empty database on that server; drop_temp_database drops it
#   pg_answers, find_pg_bin, find_psql
# shellcheck source=common.sh
source "${BASH_SOURCE[0]%/*}/common.sh"

: "${PGHOST_CHECK:=127.0.0.1}"
: "${PGPORT_CHECK:=5432}"

# pg_answers HOST PORT: a PostgreSQL server (or at least something) listens there.
pg_answers() {
  local host=$1 port=$2
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$host" -p "$port" -t 3
  else
    port_answers "$host" "$port"
  fi
}

ensure_postgres() {
  if [[ -n "${TEST_DATABASE_URL:-}" ]]; then return 0; fi
  if pg_answers "$PGHOST_CHECK" "$PGPORT_CHECK"; then return 0; fi
  if [[ -d /etc/postgresql ]] && command -v pg_ctlcluster >/dev/null 2>&1; then
    say "starting the installed PostgreSQL cluster"
    for v in /etc/postgresql/*; do
      pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start || true
    done
  elif [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    apt_install postgresql
    for v in /etc/postgresql/*; do
      # Local development and tests use trust auth on loopback, as the CI machines do.
      sed -i -E 's/^(host\s+all\s+all\s+127\.0\.0\.1\/32\s+)\S+/\1trust/; s/^(local\s+all\s+postgres\s+)\S+/\1trust/' "$v/main/pg_hba.conf"
      pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start || true
    done
  fi
  for _ in $(seq 1 30); do pg_answers "$PGHOST_CHECK" "$PGPORT_CHECK" && return 0; sleep 1; done
  echo "error: no PostgreSQL at $PGHOST_CHECK:$PGPORT_CHECK; install it (apt-get install postgresql) or set TEST_DATABASE_URL" >&2
  return 1
}

# create_temp_database PREFIX: creates the empty database PREFIX_<seconds>_<pid> on the server of
# $TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres). Sets TEMP_DB_NAME,
# TEMP_DB_URL (that URL with the new database, query string kept) and TEMP_DB_SERVER_URL.
create_temp_database() {
  command -v psql >/dev/null 2>&1 || die "psql not found (apt-get install postgresql-client)"
  TEMP_DB_SERVER_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
  local base=${TEMP_DB_SERVER_URL%%\?*}
  local query=${TEMP_DB_SERVER_URL#"$base"}
  TEMP_DB_NAME="$1_$(date +%s)_$$"
  TEMP_DB_URL="${base%/*}/$TEMP_DB_NAME$query"
  psql "$TEMP_DB_SERVER_URL" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$TEMP_DB_NAME\""
}

# drop_temp_database: drops create_temp_database's database, if any (WITH (FORCE): a service may
# still hold connections). Only warns on failure: it runs at exit.
drop_temp_database() {
  [[ -n ${TEMP_DB_NAME:-} ]] || return 0
  psql "$TEMP_DB_SERVER_URL" -X -q -c "DROP DATABASE IF EXISTS \"$TEMP_DB_NAME\" WITH (FORCE)" >/dev/null 2>&1 ||
    echo "warning: could not drop database $TEMP_DB_NAME" >&2
  TEMP_DB_NAME=''
}

# find_pg_bin: the folder holding initdb and pg_ctl: PATH's, else the newest of the usual places
# (Debian/Ubuntu, RHEL/PGDG, Homebrew, Postgres.app). Prints nothing if there is none.
find_pg_bin() {
  local d candidates=()
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    d=$(dirname "$(command -v initdb)")
    [[ -x $d/pg_ctl ]] && { echo "$d"; return 0; }
  fi
  for d in /usr/lib/postgresql/*/bin /usr/pgsql-*/bin /opt/homebrew/opt/postgresql*/bin \
    /usr/local/opt/postgresql*/bin /Applications/Postgres.app/Contents/Versions/latest/bin; do
    [[ -x $d/initdb && -x $d/pg_ctl ]] && candidates+=("$d")
  done
  ((${#candidates[@]})) && printf '%s\n' "${candidates[@]}" | sort -V | tail -n 1
  return 0
}

# find_psql [DIR]: DIR/psql if there is one, else PATH's psql; fails if neither.
find_psql() {
  if [[ -n ${1:-} && -x $1/psql ]]; then echo "$1/psql"; return 0; fi
  command -v psql 2>/dev/null
}
