# mon_db.bash - sourced by the izamon e2e tests after lib.bash: the database
# izamon keeps, so that one test runs over either backend.
#
#   mondb_setup DATA_DIR  SQLite in DATA_DIR/izamon.db (izamon's default), or,
#                         with IZA_E2E_PG=1, a fresh PostgreSQL database on
#                         the server IZA_TEST_PG_URL names (postgresql://
#                         USER@HOST:PORT; test.sh starts one); the test is
#                         skipped (exit 77) when that is not set. Sets
#                         mon_dbjson ("database": ..., for izamon's config,
#                         or empty) and mon_dbkind (sqlite, postgresql)
#   q SQL                 rows of a query, as sqlite3 prints them (| between
#                         columns); fails, with the database's message on
#                         standard error, when the database refuses it
#   mondb_drop            remove the PostgreSQL database (on exit)
mon_dbkind=sqlite
mon_dbjson=
mon_pgdb=
mondb_setup() {
	mon_dbfile="$1/izamon.db"
	if [ "${IZA_E2E_PG:-}" != 1 ]; then
		command -v sqlite3 >/dev/null || { echo "sqlite3 missing (scripts/setup.sh installs it)"; exit 1; }
		return
	fi
	if [ -z "${IZA_TEST_PG_URL:-}" ]; then
		echo "skipped: IZA_TEST_PG_URL names no PostgreSQL server (test.sh starts one)"
		exit 77
	fi
	command -v psql >/dev/null || { echo "psql missing (scripts/setup.sh installs postgresql)"; exit 1; }
	mon_dbkind=postgresql
	mon_pgdb="izae2e_$$_$(basename "$0" .sh | tr -c 'a-z0-9\n' _)"
	psql "$IZA_TEST_PG_URL/postgres" -XAtq -v ON_ERROR_STOP=1 -c "CREATE DATABASE $mon_pgdb" >/dev/null
	mon_pgurl="$IZA_TEST_PG_URL/$mon_pgdb"
	mon_dbjson="\"database\": \"$mon_pgurl\","
	# SQLite's group_concat(X, SEP), which the tests' queries use
	psql "$mon_pgurl" -XAtq -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE FUNCTION group_concat_step(acc text, v text, sep text) RETURNS text
	LANGUAGE sql IMMUTABLE AS
	$$ SELECT CASE WHEN v IS NULL THEN acc WHEN acc IS NULL THEN v ELSE acc || sep || v END $$;
CREATE AGGREGATE group_concat(text, text) (SFUNC = group_concat_step, STYPE = text);
SQL
}
q() {
	if [ "$mon_dbkind" = postgresql ]; then
		psql "$mon_pgurl" -XAtq -v ON_ERROR_STOP=1 -c "$1"
	else
		sqlite3 "$mon_dbfile" "$1"
	fi
}
mondb_drop() {
	[ -n "$mon_pgdb" ] || return 0
	timeout 30 psql "$IZA_TEST_PG_URL/postgres" -XAtq -c "DROP DATABASE IF EXISTS $mon_pgdb WITH (FORCE)" >/dev/null 2>&1 || true
	mon_pgdb=
}
