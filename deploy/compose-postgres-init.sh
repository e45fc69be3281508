#!/usr/bin/env bash
# Creates the application role of the compose stack. The postgres image runs this file once, when
# it initializes an empty data folder, as the owner role named by POSTGRES_USER. The application
# role may log in but owns nothing and cannot bypass row-level security; `mep24web migrate`
# grants it access to the tables.
set -euo pipefail

app_password="$(cat /run/secrets/postgres-app-password)"

# psql quotes the password as a literal (:'app_password'), so any characters are safe.
psql --variable=ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    --set=app_password="$app_password" <<'SQL'
CREATE ROLE mep24web_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS
    PASSWORD :'app_password';
SQL
