#!/usr/bin/env bash
# First start of the postgres service only (docker-entrypoint-initdb.d): create the
# warehouse database and its owner next to Airflow's metadata database, so that analysts
# and the pipeline get credentials that cannot touch Airflow's own tables.
set -euo pipefail

: "${WAREHOUSE_DB:?set WAREHOUSE_DB in .env}"
: "${WAREHOUSE_USER:?set WAREHOUSE_USER in .env}"
: "${WAREHOUSE_PASSWORD:?set WAREHOUSE_PASSWORD in .env}"

# psql variables (:'name' / :"name") quote the values, so no password ends up in SQL text.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v wh_db="$WAREHOUSE_DB" -v wh_user="$WAREHOUSE_USER" -v wh_password="$WAREHOUSE_PASSWORD" <<'SQL'
CREATE ROLE :"wh_user" LOGIN PASSWORD :'wh_password';
CREATE DATABASE :"wh_db" OWNER :"wh_user";
SQL
