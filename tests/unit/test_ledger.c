/* test_ledger.c - the release ledger (gateway/ledger.c) and the release
 * rules on top of it (gateway/release.c): append-only and hash-chained,
 * tampering found, the re-release rule against differencing, and linked
 * periods (a month derivable from its quarter and published months). */
#include <sqlite3.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "disclosure.h"
#include "ledger.h"
#include "release.h"
#include "testutil.h"

static char *dir;
static char path[4096];

static void setup(void)
{
	dir = testutil_tmpdir();
	snprintf(path, sizeof(path), "%s/ledger.db", dir);
}

static void teardown(void)
{
	testutil_rmrf(dir);
	free(dir);
}

static struct ledger *open_new(void)
{
	struct iza_error err = {0};
	struct ledger *l = NULL;

	ck_assert_int_eq(ledger_open(path, true, &l, &err), 0);
	return l;
}

static struct ledger_cell lcell(const char *kpi, const char *period,
				const char *sf, const char *sv, bool released,
				int64_t num, int64_t persons)
{
	struct ledger_cell c;

	memset(&c, 0, sizeof(c));
	snprintf(c.kpi, sizeof(c.kpi), "%s", kpi);
	snprintf(c.period, sizeof(c.period), "%s", period);
	snprintf(c.stratifier, sizeof(c.stratifier), "%s", sf);
	snprintf(c.stratum, sizeof(c.stratum), "%s", sv);
	c.released = released;
	if (released) {
		c.has_value = c.has_numerator = true;
		c.value = (double)num;
		c.numerator = num;
		c.persons = persons;
	}
	return c;
}

static void append(struct ledger *l, const char *period,
		   const struct ledger_cell *cells, size_t n, int64_t want)
{
	struct iza_error err = {0};
	int64_t seq = 0;

	ck_assert_msg(ledger_append(l, period, "test", 1700000000 + want, cells,
				    n, NULL, 0, &seq, &err) == 0,
		      "%s", err.text);
	ck_assert_int_eq(seq, want);
}

START_TEST(append_find_verify)
{
	struct iza_error err = {0};
	struct ledger *l = open_new();
	struct ledger_cell c[3], got;
	struct stat sb;
	int64_t n = -1;

	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	c[0] = lcell("er-visits", "2025-Q1", "", "", true, 120, 110);
	c[1] = lcell("er-visits", "2025-Q1", "age_band", "0-17", false, 0, 0);
	c[2] = lcell("er-visits", "2025-Q1", "age_band", "18-64", true, 80, 75);
	append(l, "2025-Q1", c, 3, 1);
	c[0] = lcell("er-visits", "2025-Q1", "", "", true, 125, 114);
	append(l, "2025-Q1", c, 1, 2);
	ck_assert_int_eq(
	    ledger_find(l, "er-visits", "2025-Q1", "", "", &got, &err), 1);
	ck_assert_int_eq(got.release, 2);
	ck_assert_int_eq(got.numerator, 125);
	ck_assert_int_eq(got.persons, 114);
	ck_assert_int_eq(ledger_find(l, "er-visits", "2025-Q1", "age_band",
				     "0-17", &got, &err),
			 1);
	ck_assert(!got.released);
	ck_assert_int_eq(got.release, 1);
	ck_assert_int_eq(
	    ledger_find(l, "er-visits", "2025-Q2", "", "", &got, &err), 0);
	ck_assert_int_eq(ledger_verify(l, &n, &err), 0);
	ck_assert_int_eq(n, 2);
	/* a cell of another period, or twice, is refused */
	c[1] = lcell("er-visits", "2025-Q2", "", "", true, 1, 1);
	ck_assert_int_eq(
	    ledger_append(l, "2025-Q1", "t", 1, c, 2, NULL, 0, NULL, &err),
	    -IZA_EUSAGE);
	c[1] = c[0];
	ck_assert_int_eq(
	    ledger_append(l, "2025-Q1", "t", 1, c, 2, NULL, 0, NULL, &err),
	    -IZA_EUSAGE);
	ledger_close(l);

	/* reopen: same content */
	ck_assert_int_eq(ledger_open(path, false, &l, &err), 0);
	ck_assert_int_eq(ledger_verify(l, &n, &err), 0);
	ck_assert_int_eq(n, 2);
	ledger_close(l);
}
END_TEST

START_TEST(append_only_and_tamper_evident)
{
	struct iza_error err = {0};
	struct ledger *l = open_new();
	struct ledger_cell c[2];
	sqlite3 *db;
	int64_t n;

	c[0] = lcell("bed-days", "2025-01", "", "", true, 300, 40);
	append(l, "2025-01", c, 1, 1);
	c[0] = lcell("bed-days", "2025-02", "", "", true, 310, 41);
	append(l, "2025-02", c, 1, 2);
	c[0] = lcell("bed-days", "2025-03", "", "", true, 290, 39);
	append(l, "2025-03", c, 1, 3);
	ledger_close(l);

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	/* the triggers refuse changes */
	ck_assert_int_ne(sqlite3_exec(db, "UPDATE cells SET numerator = 1",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	ck_assert_int_ne(sqlite3_exec(db, "DELETE FROM releases WHERE seq = 3",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	/* someone who drops them: the chain shows where */
	ck_assert_int_eq(sqlite3_exec(db,
				      "DROP TRIGGER cells_no_update; UPDATE "
				      "cells SET numerator = 311 WHERE period "
				      "= '2025-02'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_eq(ledger_open(path, false, &l, &err), 0);
	ck_assert_int_eq(ledger_verify(l, &n, &err), -IZA_ESTORE);
	ck_assert_int_eq(err.line, 2);
	ck_assert_ptr_nonnull(strstr(err.text, "release 2"));
	ledger_close(l);

	/* a dropped release breaks the chain too */
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db,
				      "UPDATE cells SET numerator = 310 WHERE "
				      "period = '2025-02'; DROP TRIGGER "
				      "releases_no_delete; DROP TRIGGER "
				      "cells_no_delete; DELETE FROM cells "
				      "WHERE seq = 2; DELETE FROM releases "
				      "WHERE seq = 2",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_eq(ledger_open(path, false, &l, &err), 0);
	ck_assert_int_eq(ledger_verify(l, &n, &err), -IZA_ESTORE);
	ck_assert_int_eq(err.line, 3);
	ledger_close(l);
}
END_TEST

START_TEST(missing_and_foreign_files)
{
	struct iza_error err = {0};
	struct ledger *l = NULL;
	FILE *f;

	ck_assert_int_eq(ledger_open(path, false, &l, &err), -IZA_ENOTFOUND);
	f = fopen(path, "w");
	fputs("not a database, but long enough to be read as a header by "
	      "SQLite when it opens the file and looks at its first page....",
	      f);
	fclose(f);
	ck_assert_int_eq(ledger_open(path, true, &l, &err), -IZA_ESTORE);
	ck_assert_ptr_null(l);
	ledger_close(NULL);
}
END_TEST

/* ---- the release rules ---- */

struct one {
	struct kpi_def def;
	struct kpi_value val;
	struct kpi_results res;
};

static void one_count(struct one *o, const char *period, int64_t num,
		      int64_t persons, enum kpi_kind kind)
{
	struct iza_error err = {0};

	memset(o, 0, sizeof(*o));
	o->def.id = "er-visits";
	o->def.kind = kind;
	o->val.def = &o->def;
	o->val.cell.has_value = o->val.cell.has_numerator = true;
	o->val.cell.value = (double)num;
	o->val.cell.numerator = num;
	o->val.cell.persons = persons;
	o->res.values = &o->val;
	o->res.n = 1;
	ck_assert_int_eq(period_parse(period, &o->res.period, &err), 0);
}

static void record(struct ledger *l, const struct kpi_results *r, int64_t want)
{
	struct ledger_cell *cells = NULL;
	size_t n = 0;

	ck_assert_int_eq(release_cells(r, &cells, &n), 0);
	append(l, r->period.label, cells, n, want);
	free(cells);
}

/* Differencing by re-release: one late ER visit after Q1 was published
 * must not show up as 120 -> 121. */
START_TEST(rerelease_holds_a_small_change)
{
	struct iza_error err = {0};
	struct ledger *l = open_new();
	struct one o;

	one_count(&o, "2025-Q1", 120, 110, KPI_COUNT);
	ck_assert_int_eq(release_apply(l, NULL, &o.res, 10, &err), 0);
	ck_assert_int_eq(o.val.cell.held_release, 0);
	record(l, &o.res, 1);

	one_count(&o, "2025-Q1", 121, 111, KPI_COUNT);
	ck_assert_int_eq(release_apply(l, NULL, &o.res, 10, &err), 0);
	ck_assert_int_eq(o.val.cell.numerator, 120);
	ck_assert(o.val.cell.value == 120.0);
	ck_assert_int_eq(o.val.cell.held_release, 1);
	ck_assert_ptr_nonnull(strstr(o.val.cell.reason, "release 1 stands"));
	record(l, &o.res, 2); /* the held value is what release 2 says */

	/* +15 visits by 1 person: the count moved enough, the persons not */
	one_count(&o, "2025-Q1", 135, 111, KPI_COUNT);
	ck_assert_int_eq(release_apply(l, NULL, &o.res, 10, &err), 0);
	ck_assert_int_eq(o.val.cell.numerator, 120);
	ck_assert_int_eq(o.val.cell.held_release, 2);

	/* +30 visits by 20 more persons: published */
	one_count(&o, "2025-Q1", 150, 130, KPI_COUNT);
	ck_assert_int_eq(release_apply(l, NULL, &o.res, 10, &err), 0);
	ck_assert_int_eq(o.val.cell.numerator, 150);
	ck_assert_int_eq(o.val.cell.held_release, 0);

	/* another period is not affected */
	one_count(&o, "2025-Q2", 121, 111, KPI_COUNT);
	ck_assert_int_eq(release_apply(l, NULL, &o.res, 10, &err), 0);
	ck_assert_int_eq(o.val.cell.numerator, 121);
	ledger_close(l);
}
END_TEST

/* Month x quarter: with January and March published and February
 * suppressed, publishing Q1 would give February as Q1 - Jan - Mar. */
START_TEST(linked_periods_protect_a_suppressed_month)
{
	struct iza_error err = {0};
	struct ledger *l = open_new();
	struct one o;

	one_count(&o, "2025-01", 50, 45, KPI_COUNT);
	record(l, &o.res, 1);
	one_count(&o, "2025-02", 0, 0, KPI_COUNT);
	disclosure_suppress(&o.val.cell, RULE_MIN_K, "fewer than k=10 persons");
	record(l, &o.res, 2);
	one_count(&o, "2025-03", 60, 52, KPI_COUNT);
	record(l, &o.res, 3);

	one_count(&o, "2025-Q1", 116, 103, KPI_COUNT);
	ck_assert_int_eq(release_apply(l, NULL, &o.res, 10, &err), 0);
	ck_assert(o.val.cell.suppressed);
	ck_assert_ptr_nonnull(strstr(o.val.cell.reason, "linked period"));
	ck_assert_int_eq(o.val.cell.numerator, 0);

	/* the year is linked the same way: Q1 now suppressed, Q2-Q4 not
	 * released yet, so the year may be published */
	record(l, &o.res, 4);
	one_count(&o, "2025", 500, 400, KPI_COUNT);
	ck_assert_int_eq(release_apply(l, NULL, &o.res, 10, &err), 0);
	ck_assert(!o.val.cell.suppressed);
	ledger_close(l);
}
END_TEST

/* A month not released yet is no reason to hold back its quarter, and a
 * distinct-person KPI (not additive over months) is not linked at all. */
START_TEST(linked_periods_unknown_and_distinct)
{
	struct iza_error err = {0};
	struct ledger *l = open_new();
	struct one o;

	one_count(&o, "2025-01", 50, 45, KPI_COUNT);
	record(l, &o.res, 1);
	one_count(&o, "2025-Q1", 116, 103, KPI_COUNT);
	ck_assert_int_eq(release_apply(l, NULL, &o.res, 10, &err), 0);
	ck_assert(!o.val.cell.suppressed);

	one_count(&o, "2025-04", 30, 30, KPI_DISTINCT);
	record(l, &o.res, 2);
	one_count(&o, "2025-05", 0, 0, KPI_DISTINCT);
	disclosure_suppress(&o.val.cell, RULE_MIN_K, "fewer than k=10 persons");
	record(l, &o.res, 3);
	one_count(&o, "2025-06", 30, 30, KPI_DISTINCT);
	record(l, &o.res, 4);
	one_count(&o, "2025-Q2", 70, 70, KPI_DISTINCT);
	ck_assert_int_eq(release_apply(l, NULL, &o.res, 10, &err), 0);
	ck_assert(!o.val.cell.suppressed);
	ledger_close(l);
}
END_TEST

/* Noise: integer, deterministic for the same cell and data (asking again
 * gives the same value, so averaging repeated answers learns nothing), new
 * for new data; the budget is charged only when published values change. */
START_TEST(noise_is_deterministic_and_charged)
{
	struct iza_error err = {0};
	struct ledger *l = open_new();
	struct pseudo *ps = NULL;
	uint8_t key[IZA_KEY_LEN] = {1, 2, 3};
	const char *scopes[] = {"2025-Q1", "2025", NULL};
	struct ledger_cell *cells = NULL;
	struct one o;
	int64_t v1, v2, milli, spent, seq;
	size_t n;
	int i, differ = 0;

	ck_assert_int_eq(pseudo_new(key, &ps), 0);
	one_count(&o, "2025-Q1", 500, 450, KPI_COUNT);
	o.def.dp_epsilon_milli = 500;
	o.def.dp_bound = 2;
	ck_assert_int_eq(release_apply(l, ps, &o.res, 10, &err), 0);
	ck_assert(o.val.cell.noised);
	v1 = o.val.cell.numerator;
	ck_assert(o.val.cell.value == (double)v1);
	/* scale bound / epsilon = 4: far from 500 only with tiny chance */
	ck_assert_int_lt(v1 > 500 ? v1 - 500 : 500 - v1, 80);
	one_count(&o, "2025-Q1", 500, 450, KPI_COUNT);
	o.def.dp_epsilon_milli = 500;
	o.def.dp_bound = 2;
	ck_assert_int_eq(release_apply(l, ps, &o.res, 10, &err), 0);
	ck_assert_int_eq(o.val.cell.numerator, v1);

	/* the first release is charged */
	ck_assert_int_eq(release_epsilon(l, &o.res, &milli, &err), 0);
	ck_assert_int_eq(milli, 500);
	ck_assert_int_eq(release_cells(&o.res, &cells, &n), 0);
	ck_assert_int_eq(ledger_append(l, "2025-Q1", "t", 1, cells, n, scopes,
				       milli, &seq, &err),
			 0);
	free(cells);
	ck_assert_int_eq(ledger_spent(l, "2025-Q1", &spent, &err), 0);
	ck_assert_int_eq(spent, 500);
	ck_assert_int_eq(ledger_spent(l, "2025", &spent, &err), 0);
	ck_assert_int_eq(spent, 500);
	ck_assert_int_eq(ledger_spent(l, "2025-Q2", &spent, &err), 0);
	ck_assert_int_eq(spent, 0);
	ck_assert_int_eq(ledger_verify(l, &seq, &err), 0);
	/* asking again with the same data costs nothing */
	ck_assert_int_eq(release_epsilon(l, &o.res, &milli, &err), 0);
	ck_assert_int_eq(milli, 0);

	/* new data: new noise, and a charge */
	one_count(&o, "2025-Q1", 501, 451, KPI_COUNT);
	o.def.dp_epsilon_milli = 500;
	o.def.dp_bound = 2;
	ck_assert_int_eq(release_apply(l, ps, &o.res, 10, &err), 0);
	v2 = o.val.cell.numerator;
	ck_assert_int_eq(release_epsilon(l, &o.res, &milli, &err), 0);
	ck_assert_int_eq(milli, v2 == v1 ? 0 : 500);

	/* other cells get other noise; no key, no noise: suppressed */
	for (i = 0; i < 20; i++) {
		char period[12];

		snprintf(period, sizeof(period), "2024-%02d", i % 12 + 1);
		one_count(&o, period, 500 + i / 12, 450, KPI_COUNT);
		o.def.dp_epsilon_milli = 500;
		o.def.dp_bound = 2;
		ck_assert_int_eq(release_apply(NULL, ps, &o.res, 10, &err), 0);
		differ += o.val.cell.numerator != 500 + i / 12;
	}
	ck_assert_int_gt(differ, 10);
	one_count(&o, "2025-Q3", 500, 450, KPI_COUNT);
	o.def.dp_epsilon_milli = 500;
	o.def.dp_bound = 2;
	ck_assert_int_eq(release_apply(NULL, NULL, &o.res, 10, &err), 0);
	ck_assert(o.val.cell.suppressed);
	pseudo_free(ps);
	ledger_close(l);
}
END_TEST

/* Rounding to base 5, last: counts to the nearest multiple (halves up), a
 * share recomputed from its rounded counts, suppressed cells untouched. */
START_TEST(rounding_base_5)
{
	struct one o;

	one_count(&o, "2025-Q1", 123, 110, KPI_COUNT);
	release_round(&o.res, 5);
	ck_assert_int_eq(o.val.cell.numerator, 125);
	ck_assert(o.val.cell.value == 125.0);
	ck_assert_int_eq(o.res.rounding, 5);
	one_count(&o, "2025-Q1", 122, 110, KPI_COUNT);
	release_round(&o.res, 5);
	ck_assert_int_eq(o.val.cell.numerator, 120);
	one_count(&o, "2025-Q1", 0, 0, KPI_COUNT);
	o.val.cell.numerator = 12;
	disclosure_suppress(&o.val.cell, RULE_MIN_K, "fewer than k=10 persons");
	release_round(&o.res, 5);
	ck_assert_int_eq(o.val.cell.numerator, 0);
	ck_assert(o.val.cell.suppressed);

	one_count(&o, "2025-Q1", 37, 30, KPI_SHARE);
	o.val.cell.has_denominator = true;
	o.val.cell.denominator = 83;
	o.val.cell.value = 37.0 / 83.0;
	release_round(&o.res, 5);
	ck_assert_int_eq(o.val.cell.numerator, 35);
	ck_assert_int_eq(o.val.cell.denominator, 85);
	ck_assert(o.val.cell.value == 35.0 / 85.0);

	one_count(&o, "2025-Q1", 123, 110, KPI_COUNT);
	release_round(&o.res, 0);
	ck_assert_int_eq(o.val.cell.numerator, 123);
	ck_assert_int_eq(o.res.rounding, 0);
}
END_TEST

/* Without a ledger nothing changes. */
START_TEST(no_ledger_no_change)
{
	struct iza_error err = {0};
	struct one o;

	one_count(&o, "2025-Q1", 121, 111, KPI_COUNT);
	ck_assert_int_eq(release_apply(NULL, NULL, &o.res, 10, &err), 0);
	ck_assert_int_eq(o.val.cell.numerator, 121);
	ck_assert_int_eq(release_apply(NULL, NULL, NULL, 10, &err),
			 -IZA_EUSAGE);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ledger");
	TCase *tc = tcase_create("ledger");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, append_find_verify);
	tcase_add_test(tc, append_only_and_tamper_evident);
	tcase_add_test(tc, missing_and_foreign_files);
	tcase_add_test(tc, rerelease_holds_a_small_change);
	tcase_add_test(tc, linked_periods_protect_a_suppressed_month);
	tcase_add_test(tc, linked_periods_unknown_and_distinct);
	tcase_add_test(tc, no_ledger_no_change);
	tcase_add_test(tc, rounding_base_5);
	tcase_add_test(tc, noise_is_deterministic_and_charged);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(suite());
}
