#!/bin/sh
# Runs once, when the postgres image initialises an empty data directory (/docker-entrypoint-initdb.d):
# a role that may only stream WAL, and the pg_hba.conf line that lets it (replication connections are
# not covered by "host all all all"). The `replica` profile's standby copies the primary with it.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -c "CREATE ROLE replicator WITH LOGIN REPLICATION PASSWORD '${REPLICATION_PASSWORD:-replicator}'"
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
