/* testdb.c - fresh izamon databases for store tests (contract in
 * testdb.h). */
#include "testdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "testutil.h"

static const char *pg_base(void)
{
	const char *u = getenv("IZA_TEST_PG_URL");

	return u && *u ? u : NULL;
}

bool testdb_pg_available(void)
{
	static bool told;

	if (!pg_base() && !told) {
		fprintf(stderr, "note: IZA_TEST_PG_URL is not set: the "
				"PostgreSQL cases are left out\n");
		told = true;
	}
	return pg_base() != NULL;
}

/* Run sql on database db of the test server; 0 ok. */
static int pg_run(const char *db, const char *sql, char *why, size_t size)
{
	char url[800];
	PGconn *c;
	PGresult *r;
	int rc;

	snprintf(url, sizeof(url), "%s/%s", pg_base(), db);
	c = PQconnectdb(url);
	if (PQstatus(c) != CONNECTION_OK) {
		if (why)
			snprintf(why, size, "%s", PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	r = PQexec(c, sql);
	rc = PQresultStatus(r) == PGRES_COMMAND_OK ||
		     PQresultStatus(r) == PGRES_TUPLES_OK
		 ? 0
		 : -1;
	if (rc && why)
		snprintf(why, size, "%s", PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
	return rc;
}

void testdb_make(struct testdb *t, enum testdb_kind kind)
{
	static unsigned seq;
	char sql[128], why[512] = "";

	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->dir = testutil_tmpdir();
	if (kind == TESTDB_SQLITE) {
		snprintf(t->path, sizeof(t->path), "%s/izamon.db", t->dir);
		snprintf(t->url, sizeof(t->url), "sqlite:%s", t->path);
		return;
	}
	ck_assert_ptr_nonnull(pg_base());
	/* each test runs in a process of its own (Check forks) */
	snprintf(t->name, sizeof(t->name), "izt_%ld_%u", (long)getpid(), seq++);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", t->name);
	ck_assert_msg(pg_run("postgres", sql, why, sizeof(why)) == 0,
		      "cannot create a test database: %s", why);
	snprintf(t->url, sizeof(t->url), "%s/%s", pg_base(), t->name);
}

void testdb_drop(struct testdb *t)
{
	if (t->kind == TESTDB_PG && t->name[0]) {
		char sql[128];

		snprintf(sql, sizeof(sql),
			 "DROP DATABASE IF EXISTS %s WITH (FORCE)", t->name);
		if (pg_run("postgres", sql, NULL, 0) != 0)
			fprintf(stderr, "warning: could not drop %s\n",
				t->name);
	}
	testutil_rmrf(t->dir);
	free(t->dir);
	memset(t, 0, sizeof(*t));
}

int testdb_exec(const struct testdb *t, const char *sqlite_sql,
		const char *pg_sql, char *why, size_t size)
{
	sqlite3 *db = NULL;
	char *msg = NULL;
	int rc;

	if (t->kind == TESTDB_PG)
		return pg_run(t->name, pg_sql ? pg_sql : sqlite_sql, why, size);
	if (sqlite3_open(t->path, &db) != SQLITE_OK) {
		sqlite3_close(db);
		return -1;
	}
	rc = sqlite3_exec(db, sqlite_sql, NULL, NULL, &msg) == SQLITE_OK ? 0
									 : -1;
	if (rc && why)
		snprintf(why, size, "%s", msg ? msg : "");
	sqlite3_free(msg);
	sqlite3_close(db);
	return rc;
}

void testdb_add_cases(Suite *s, const char *name, void (*setup_sqlite)(void),
		      void (*setup_pg)(void), void (*teardown)(void),
		      void (*add_tests)(TCase *tc))
{
	/* Check keeps the name pointer, not a copy */
	static char names[8][96];
	static unsigned used;
	TCase *tc;

	if (used + 2 > 8)
		abort(); /* not in a test: no ck_assert */
	snprintf(names[used], sizeof(names[0]), "%s-sqlite", name);
	tc = tcase_create(names[used++]);
	tcase_add_checked_fixture(tc, setup_sqlite, teardown);
	add_tests(tc);
	suite_add_tcase(s, tc);
	if (!testdb_pg_available())
		return;
	snprintf(names[used], sizeof(names[0]), "%s-postgresql", name);
	tc = tcase_create(names[used++]);
	tcase_add_checked_fixture(tc, setup_pg, teardown);
	add_tests(tc);
	suite_add_tcase(s, tc);
}
