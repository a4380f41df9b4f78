# shellcheck shell=bash
# ensure_postgres: make sure a PostgreSQL server answers at $TEST_DATABASE_URL (default: the local
# trust-auth server at 127.0.0.1:5432), starting an installed-but-stopped cluster or installing
# Debian's package if there is none.

: "${PGHOST_CHECK:=127.0.0.1}"
: "${PGPORT_CHECK:=5432}"

pg_answers() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$PGHOST_CHECK" -p "$PGPORT_CHECK"
  else
    (exec 3<>"/dev/tcp/$PGHOST_CHECK/$PGPORT_CHECK") 2>/dev/null
  fi
}

ensure_postgres() {
  if [[ -n "${TEST_DATABASE_URL:-}" ]]; then return 0; fi
  if pg_answers; then return 0; fi
  if [[ -d /etc/postgresql ]] && command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "==> starting the installed PostgreSQL cluster"
    for v in /etc/postgresql/*; do
      pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start || true
    done
  elif [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing PostgreSQL from Debian's packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    for v in /etc/postgresql/*; do
      # Local development and tests use trust auth on loopback, as the CI machines do.
      sed -i -E 's/^(host\s+all\s+all\s+127\.0\.0\.1\/32\s+)\S+/\1trust/; s/^(local\s+all\s+postgres\s+)\S+/\1trust/' "$v/main/pg_hba.conf"
      pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start || true
    done
  fi
  for _ in $(seq 1 30); do pg_answers && return 0; sleep 1; done
  echo "error: no PostgreSQL at $PGHOST_CHECK:$PGPORT_CHECK; install it (apt-get install postgresql) or set TEST_DATABASE_URL" >&2
  return 1
}
