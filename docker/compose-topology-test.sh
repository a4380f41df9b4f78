#!/usr/bin/env bash
# Exercises the docker-compose.yml topology without Docker (CI machines have no engine):
#   - a throwaway PostgreSQL cluster initialised by docker/postgres-init/*.sh, as the postgres
#     image would (password auth, the two service roles, their schemas);
#   - the real auth-service and task-service binaries started with exactly the environment that
#     docker-compose.yml gives their containers (read from the file, ${...} interpolated), with the
#     compose host names mapped to loopback ports;
#   - the checks: both /readyz and both `healthcheck` subcommands, a sign-up and a task round trip
#     through the JWKS_URL/AUTH_ISSUER split, CORS for the web origin, tokens' iss, and that neither
#     role can read the other's schema.
# Binaries: $BIN_DIR (default target/release, built if missing; bin/test passes its debug build).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=../bin/lib/postgres.sh
source bin/lib/postgres.sh
BIN_DIR=${BIN_DIR:-target/release}

passed=0 failed=0
ok() { echo "ok   - $*"; passed=$((passed + 1)); }
bad() { echo "FAIL - $*"; failed=$((failed + 1)); }
check() { # description command...
  local what=$1; shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}

# ---- tools ------------------------------------------------------------------------------------
PG_BIN=$(find_pg_bin)
[[ -n $PG_BIN ]] || die "initdb/pg_ctl not found (apt-get install postgresql)"
PSQL=$(find_psql "$PG_BIN") || die "psql not found (apt-get install postgresql-client)"
command -v curl >/dev/null || die "curl not found"
python3 -c 'import yaml' 2>/dev/null || die "python3 with PyYAML needed (apt-get install python3-yaml)"

if [[ ! -x $BIN_DIR/auth-service || ! -x $BIN_DIR/task-service ]]; then
  [[ $BIN_DIR == target/release ]] || die "$BIN_DIR/auth-service or $BIN_DIR/task-service missing"
  say "building the services (cargo build --release)"
  cargo build --release -p auth-service -p task-service
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/compose-topology.XXXXXX")
PG_AS=()
if [[ $(id -u) == 0 ]]; then
  chmod 755 "$WORK"
  PG_AS=(su -s /bin/sh postgres -c)
fi
pg_cmd() { # runs a command line as the cluster's owner
  if ((${#PG_AS[@]})); then "${PG_AS[@]}" "$1"; else sh -c "$1"; fi
}
cleanup() { # exit status (the services are already stopped: common.sh's on_exit)
  local rc=$1
  pg_cmd "$PG_BIN/pg_ctl -D $WORK/pg -m immediate -w stop" >/dev/null 2>&1 || true
  if ((rc != 0 || failed > 0)); then
    for f in "$WORK"/*.log; do echo "---- $(basename "$f") (last 25 lines)"; tail -n 25 "$f"; done
  fi
  rm -rf "$WORK"
}
on_exit cleanup

PG_PORT=$(free_port) AUTH_PORT=$(free_port $((PG_PORT + 1))) TASK_PORT=$(free_port $((AUTH_PORT + 1)))

# ---- the compose file's environment, interpolated and mapped to loopback ------------------------
compose_env() { # service -> NAME=VALUE lines
  python3 - "$1" "$PG_PORT" "$AUTH_PORT" "$TASK_PORT" <<'PY'
import os, re, sys, yaml
service, pg, auth, task = sys.argv[1:]
doc = yaml.safe_load(open("docker-compose.yml"))
env = doc["services"][service].get("environment") or {}
if isinstance(env, list):
    env = dict((e.split("=", 1) + [None])[:2] for e in env)

def interpolate(s):
    # ${VAR}, ${VAR:-default} (default may itself contain ${...}), ${VAR-default}, ${VAR:?err}
    out, i = "", 0
    while i < len(s):
        if s.startswith("$$", i):
            out += "$"; i += 2; continue
        if s.startswith("${", i):
            depth, j = 1, i + 2
            while depth:
                if s.startswith("${", j): depth += 1; j += 2; continue
                if s[j] == "}": depth -= 1
                j += 1
            body = s[i + 2:j - 1]
            m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])(.*))?$", body, re.S)
            name, op, arg = m.group(1), m.group(2), m.group(3)
            val = os.environ.get(name)
            if op == ":-" and not val: val = interpolate(arg)
            elif op == "-" and val is None: val = interpolate(arg)
            elif op in (":?", "?") and not val: sys.exit(f"compose requires {name}: {arg}")
            out += val or ""; i = j; continue
        out += s[i]; i += 1
    return out

hosts = {"postgres:5432": f"127.0.0.1:{pg}", "auth-service:8081": f"127.0.0.1:{auth}",
         "task-service:8082": f"127.0.0.1:{task}", "0.0.0.0:8081": f"127.0.0.1:{auth}",
         "0.0.0.0:8082": f"127.0.0.1:{task}"}
for name, value in env.items():
    if value is None:  # value-less entry: passed through from the shell / .env when set
        if name in os.environ: value = os.environ[name]
        else: continue
    value = interpolate(str(value))
    for a, b in hosts.items(): value = value.replace(a, b)
    print(f"{name}={value}")
PY
}

# Compose passes KEY_ENCRYPTION_KEYS through from .env: exercise the encrypted-keys path.
export KEY_ENCRYPTION_KEYS=${KEY_ENCRYPTION_KEYS:-$(head -c 32 /dev/urandom | base64)}

mapfile -t PG_ENV < <(compose_env postgres)
mapfile -t AUTH_ENV < <(compose_env auth-service)
mapfile -t TASK_ENV < <(compose_env task-service)
getv() { # NAME array-entries... -> value
  local name=$1 kv; shift
  for kv in "$@"; do [[ $kv == "$name="* ]] && { echo "${kv#*=}"; return 0; }; done
  return 1
}
POSTGRES_USER=$(getv POSTGRES_USER "${PG_ENV[@]}")
POSTGRES_DB=$(getv POSTGRES_DB "${PG_ENV[@]}")
POSTGRES_PASSWORD=$(getv POSTGRES_PASSWORD "${PG_ENV[@]}")

# ---- postgres, initialised like the official image --------------------------------------------
say "PostgreSQL on 127.0.0.1:$PG_PORT, initialised by docker/postgres-init"
mkdir -p "$WORK/pg"
printf '%s\n' "$POSTGRES_PASSWORD" >"$WORK/pwfile"
if ((${#PG_AS[@]})); then chown postgres "$WORK/pg" "$WORK/pwfile"; fi
pg_cmd "$PG_BIN/initdb -D $WORK/pg -U $POSTGRES_USER --pwfile=$WORK/pwfile --auth-host=scram-sha-256 --auth-local=trust -E UTF8 --no-locale" >"$WORK/initdb.log" 2>&1
# It failed to start once in CI on a busy machine (the port, free when picked, taken meanwhile, or
# the machine slow): try again a little later before giving up, and show the server's own words.
for attempt in 1 2 3; do
  pg_cmd "$PG_BIN/pg_ctl -D $WORK/pg -l $WORK/pg/server.log -w -t 60 -o \"-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=''\" start" >/dev/null && break
  echo "---- server.log (last 10 lines) ----" >&2
  tail -n 10 "$WORK/pg/server.log" >&2 || true
  ((attempt < 3)) || die "PostgreSQL did not start on 127.0.0.1:$PG_PORT"
  sleep 2
done
export PGHOST=127.0.0.1 PGPORT=$PG_PORT
PGPASSWORD=$POSTGRES_PASSWORD "$PSQL" -U "$POSTGRES_USER" -d postgres -qc "CREATE DATABASE \"$POSTGRES_DB\""
for f in docker/postgres-init/*; do
  case $f in
    *.sh) env "${PG_ENV[@]}" PGPASSWORD="$POSTGRES_PASSWORD" sh "$f" >"$WORK/init.log" 2>&1 ;;
    *.sql) PGPASSWORD=$POSTGRES_PASSWORD "$PSQL" -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -f "$f" >"$WORK/init.log" 2>&1 ;;
  esac
done
ok "init scripts ran"

# ---- the services, with the compose environment only -------------------------------------------
start() { # name env-entries...
  local name=$1; shift
  spawn "$name" "$WORK/$name.log" env -i PATH="$PATH" HOME="$WORK" "$@" "$BIN_DIR/$name"
}
say "auth-service on :$AUTH_PORT, task-service on :$TASK_PORT (compose environment)"
start auth-service "${AUTH_ENV[@]}"
check "auth-service /readyz 200" wait_ready auth-service "http://127.0.0.1:$AUTH_PORT/readyz" "$SPAWNED_PID"
start task-service "${TASK_ENV[@]}"
check "task-service /readyz 200" wait_ready task-service "http://127.0.0.1:$TASK_PORT/readyz" "$SPAWNED_PID"
check "auth-service healthcheck exits 0" env -i PATH="$PATH" "${AUTH_ENV[@]}" "$BIN_DIR/auth-service" healthcheck
check "task-service healthcheck exits 0" env -i PATH="$PATH" "${TASK_ENV[@]}" "$BIN_DIR/task-service" healthcheck
check "auth-service logs no unencrypted-keys warning" bash -c "! grep -q UNENCRYPTED '$WORK/auth-service.log'"
keys_cli() { env -i PATH="$PATH" "${AUTH_ENV[@]}" "$BIN_DIR/auth-service" keys "$@"; }
one_sealed_signing_key() { keys_cli list | awk 'NR > 1 && $2 == "signing" && $6 != "-"' | grep -q .; }
check "auth-service keys list (compose role) shows one sealed signing key" one_sealed_signing_key

# ---- a user's round trip ------------------------------------------------------------------------
WEB_ORIGIN=$(getv CORS_ORIGINS "${AUTH_ENV[@]}")
ISSUER=$(getv ISSUER "${AUTH_ENV[@]}")
email="compose-$RANDOM$RANDOM@example.com"
password="correct horse $RANDOM battery staple"
curl -s -D "$WORK/signup.h" -o "$WORK/signup.json" -H "Origin: $WEB_ORIGIN" -H 'Content-Type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"$password\"}" "http://127.0.0.1:$AUTH_PORT/api/auth/signup" || true
check "sign-up answers 201" grep -q '^HTTP/[0-9.]* 201' "$WORK/signup.h"
check "CORS allows the web origin" grep -qi "^access-control-allow-origin: $WEB_ORIGIN" "$WORK/signup.h"
token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("access_token",""))' "$WORK/signup.json" 2>/dev/null || true)
iss=$(python3 -c 'import base64,json,sys; p=sys.argv[1].split(".")[1]; print(json.loads(base64.urlsafe_b64decode(p+"="*(-len(p)%4)))["iss"])' "$token" 2>/dev/null || true)
check "token iss is the public issuer ($ISSUER)" test "$iss" == "$ISSUER"
code=$(curl -s -o "$WORK/task.json" -w '%{http_code}' -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"title":"compose topology"}' "http://127.0.0.1:$TASK_PORT/api/tasks" || true)
check "task-service accepts the token (POST /api/tasks 201)" test "$code" == 201
code=$(curl -s -o "$WORK/list.json" -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$TASK_PORT/api/tasks" || true)
check "the task is listed" bash -c "[[ $code == 200 ]] && grep -q 'compose topology' '$WORK/list.json'"

# ---- least privilege ----------------------------------------------------------------------------
AUTH_URL_DB=$(getv DATABASE_URL "${AUTH_ENV[@]}")
TASK_URL_DB=$(getv DATABASE_URL "${TASK_ENV[@]}")
denied() { # url sql
  local out
  out=$("$PSQL" "$1" -tAc "$2" 2>&1) && return 1
  grep -q "permission denied" <<<"$out"
}
check "task_svc cannot read auth.users" denied "$TASK_URL_DB" "SELECT count(*) FROM auth.users"
check "auth_svc cannot read tasks.tasks" denied "$AUTH_URL_DB" "SELECT count(*) FROM tasks.tasks"
check "auth_svc cannot create schemas (no CREATE on the database)" denied "$AUTH_URL_DB" "CREATE SCHEMA intruder"
check "task_svc cannot write to public" denied "$TASK_URL_DB" "CREATE TABLE public.x (i int)"
check "task_svc is not a superuser" bash -c "[[ \$('$PSQL' '$TASK_URL_DB' -tAc 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user') == f ]]"

echo "compose topology: $passed passed, $failed failed"
((failed == 0))
