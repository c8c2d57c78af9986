/* test_mon_store.c - izamon's storage interface over its SQLite backend
 * (monitor/mon_sqlite.c) and the audit chain above it (monitor/
 * mon_store.c): reports stored once, the same bytes again a duplicate,
 * other bytes under a used id a conflict; enrolment replaced; the audit
 * chain verified and every kind of tampering found. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mon_store.h"
#include "testutil.h"

static char *dir;
static char url[700], path[700];

static void setup(void)
{
	dir = testutil_tmpdir();
	snprintf(path, sizeof(path), "%s/izamon.db", dir);
	snprintf(url, sizeof(url), "sqlite:%s", path);
}

static void teardown(void)
{
	testutil_rmrf(dir);
	free(dir);
}

START_TEST(reports_once)
{
	struct iza_error err = {0};
	struct mon_store st;
	struct mon_report r, got;
	enum mon_put res;
	char body[] = "{\"resourceType\":\"Bundle\"}", other[] = "{}";

	ck_assert_int_eq(mon_store_open(url, false, &st, &err), -IZA_ENOTFOUND);
	ck_assert_int_eq(mon_store_open("mysql:x", true, &st, &err),
			 -IZA_ECONFIG);
	ck_assert_int_eq(mon_store_open(url, true, &st, &err), 0);
	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "r-1");
	snprintf(r.region, sizeof(r.region), "ZK02");
	snprintf(r.plan, sizeof(r.plan), "p");
	snprintf(r.period, sizeof(r.period), "2025-Q1");
	r.body = body;
	r.body_len = strlen(body);
	r.jws = "h..s";
	ck_assert_int_eq(st.ops->report_put(st.impl, &r, &res, &err), 0);
	ck_assert_int_eq(res, MON_INSERTED);
	ck_assert_int_eq(st.ops->report_put(st.impl, &r, &res, &err), 0);
	ck_assert_int_eq(res, MON_DUPLICATE);
	r.body = other;
	r.body_len = strlen(other);
	ck_assert_int_eq(st.ops->report_put(st.impl, &r, &res, &err), 0);
	ck_assert_int_eq(res, MON_CONFLICT);
	ck_assert_int_eq(st.ops->report_get(st.impl, "r-1", &got, &err), 1);
	ck_assert_str_eq(got.body, body); /* the first bytes stand */
	ck_assert_str_eq(got.jws, "h..s");
	mon_report_release(&got);
	ck_assert_int_eq(st.ops->report_get(st.impl, "r-2", &got, &err), 0);
	mon_store_close(&st);
	mon_store_close(NULL);
	mon_report_release(NULL);
}
END_TEST

START_TEST(audit_chain)
{
	struct iza_error err = {0};
	struct mon_store st;
	sqlite3 *db;
	int64_t n = 0;
	int i;

	ck_assert_int_eq(mon_store_open(url, true, &st, &err), 0);
	ck_assert_int_eq(mon_audit_verify(&st, &n, &err), 0);
	ck_assert_int_eq(n, 0);
	for (i = 0; i < 5; i++) {
		char what[32];

		snprintf(what, sizeof(what), "report r-%d", i);
		ck_assert_int_eq(mon_audit_append(&st, 1000 + i,
						  "report.received", "CN=ZK02",
						  "ZK02", what, &err),
				 0);
	}
	ck_assert_int_eq(mon_audit_verify(&st, &n, &err), 0);
	ck_assert_int_eq(n, 5);
	mon_store_close(&st);

	/* reordering two entries (swap their contents) */
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(
	    sqlite3_exec(db,
			 "DROP TRIGGER audit_no_update; DROP TRIGGER "
			 "audit_no_delete; UPDATE audit SET seq = -1 WHERE seq "
			 "= 2; UPDATE audit SET seq = 2 WHERE seq = 3; UPDATE "
			 "audit SET seq = 3 WHERE seq = -1",
			 NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_eq(mon_store_open(url, false, &st, &err), 0);
	ck_assert_int_eq(mon_audit_verify(&st, &n, &err), -IZA_ESTORE);
	ck_assert_int_eq(err.line, 2);
	mon_store_close(&st);
	/* restore the order, then remove entry 4 */
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(
	    sqlite3_exec(db,
			 "DROP TRIGGER audit_no_update; DROP TRIGGER "
			 "audit_no_delete; "
			 "UPDATE audit SET seq = -1 WHERE seq = 2; "
			 "UPDATE audit SET seq = 2 WHERE seq = 3; "
			 "UPDATE audit SET seq = 3 WHERE seq = -1; "
			 "DELETE FROM audit WHERE seq = 4",
			 NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_eq(mon_store_open(url, false, &st, &err), 0);
	ck_assert_int_eq(mon_audit_verify(&st, &n, &err), -IZA_ESTORE);
	ck_assert_int_eq(err.line, 5);
	ck_assert_ptr_nonnull(strstr(err.text, "broken"));
	mon_store_close(&st);
}
END_TEST

/* Text moved from one field to the next (actor "a<TAB>b" and an empty
 * on_behalf, against actor "a" and on_behalf "b"): the same characters in
 * a row, but another entry, so the chain breaks. */
START_TEST(audit_fields_cannot_shift)
{
	struct iza_error err = {0};
	struct mon_store st;
	sqlite3 *db;
	int64_t n = 0;

	ck_assert_int_eq(mon_store_open(url, true, &st, &err), 0);
	ck_assert_int_eq(
	    mon_audit_append(&st, 1000, "e", "a\tb", "", "w", &err), 0);
	mon_store_close(&st);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db,
				      "DROP TRIGGER audit_no_update; UPDATE "
				      "audit SET actor = 'a', on_behalf = "
				      "'b' || char(9) WHERE seq = 1",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_eq(mon_store_open(url, false, &st, &err), 0);
	ck_assert_int_eq(mon_audit_verify(&st, &n, &err), -IZA_ESTORE);
	ck_assert_int_eq(err.line, 1);
	mon_store_close(&st);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mon_store");
	TCase *tc = tcase_create("sqlite");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, reports_once);
	tcase_add_test(tc, audit_fields_cannot_shift);
	tcase_add_test(tc, audit_chain);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(suite());
}
