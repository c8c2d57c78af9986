/* testdb.h - a fresh, empty izamon database for a store test case: a
 * SQLite file in a temporary directory, or a new PostgreSQL database on the
 * server named by IZA_TEST_PG_URL (postgresql://USER@HOST:PORT, no
 * database: test.sh starts one with scripts/pg-test-server.sh), so that
 * one suite runs over both backends. */
#ifndef IZA_TESTDB_H
#define IZA_TESTDB_H

#include <check.h>
#include <stdbool.h>

enum testdb_kind { TESTDB_SQLITE, TESTDB_PG };

struct testdb {
	enum testdb_kind kind;
	char *dir;	/* a temporary directory (both kinds) */
	char url[800];	/* what mon_store_open takes */
	char path[700]; /* SQLite: the file */
	char name[64];	/* PostgreSQL: the database */
};

/* Whether IZA_TEST_PG_URL names a server (else the PostgreSQL cases are
 * left out, and a note says so once). */
bool testdb_pg_available(void);

/* Make t fresh and empty (aborts the test on failure); testdb_drop removes
 * it. */
void testdb_make(struct testdb *t, enum testdb_kind kind);
void testdb_drop(struct testdb *t);

/* SQL sent straight to the database, as someone with direct access would
 * (one text for SQLite, one for PostgreSQL; NULL: the same); 0 when it
 * succeeded, else nonzero and, when why is not NULL, the server's message
 * in why (size bytes). */
int testdb_exec(const struct testdb *t, const char *sqlite_sql,
		const char *pg_sql, char *why, size_t size);

/* A test case of name NAME-sqlite and, when a server is available,
 * NAME-postgresql, each test on a fresh database made by setup_sqlite /
 * setup_pg (which call testdb_make) and removed by teardown. */
void testdb_add_cases(Suite *s, const char *name, void (*setup_sqlite)(void),
		      void (*setup_pg)(void), void (*teardown)(void),
		      void (*add_tests)(TCase *tc));

#endif
