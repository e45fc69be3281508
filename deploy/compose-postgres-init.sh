#!/usr/bin/env bash
# Creates the two roles of the compose stack, as in production. The owner of the database runs
# migrations and operator commands. The application role may log in but owns nothing and cannot
# bypass row-level security; `mep24web migrate` grants it access to the tables. Neither is a
# superuser, so the forced row-level security applies to both. The postgres image runs this file
# once, as the superuser, when it initializes an empty data folder.
set -euo pipefail

owner_password="$(cat /run/secrets/postgres-owner-password)"
app_password="$(cat /run/secrets/postgres-app-password)"

# psql quotes the passwords as literals (:'owner_password'), so any characters are safe.
psql --variable=ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    --set=owner_password="$owner_password" --set=app_password="$app_password" <<'SQL'
CREATE ROLE mep24web_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_password';
CREATE ROLE mep24web_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS
    PASSWORD :'app_password';
ALTER DATABASE mep24web OWNER TO mep24web_owner;
SQL
