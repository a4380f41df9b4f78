#!/bin/sh
# Runs once, when the postgres container starts on an empty volume (the official image runs every
# *.sh and *.sql in /docker-entrypoint-initdb.d as the superuser).
#
# Least privilege: one login role per service, each owning exactly one schema and nothing else.
# auth_svc cannot see `tasks`, task_svc cannot see `auth`, neither can create roles or databases,
# nor write to `public`. Each service's migrations run as its own role, inside the schema
# it owns.
set -eu

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v db="$POSTGRES_DB" \
  -v auth_password="${AUTH_DB_PASSWORD:?AUTH_DB_PASSWORD must be set}" \
  -v task_password="${TASK_DB_PASSWORD:?TASK_DB_PASSWORD must be set}" <<'SQL'
CREATE ROLE auth_svc LOGIN PASSWORD :'auth_password'
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT CONNECTION LIMIT 50;
CREATE ROLE task_svc LOGIN PASSWORD :'task_password'
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT CONNECTION LIMIT 50;

-- Only the two service roles (and the superuser) may connect to this database.
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO auth_svc, task_svc;
-- The task-service's migrations install pg_trgm and btree_gin (trusted extensions) for indexed
-- search, which needs CREATE on the database. The auth-service needs nothing beyond its own schema.
GRANT CREATE ON DATABASE :"db" TO task_svc;

-- PostgreSQL 15+ already denies CREATE on `public` to PUBLIC; say so for older servers too.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- Each service owns its schema: it can create and change its own tables (migrations), and no
-- grant on it is given to anyone else.
CREATE SCHEMA auth AUTHORIZATION auth_svc;
CREATE SCHEMA tasks AUTHORIZATION task_svc;
SQL
