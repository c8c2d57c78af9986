/* test_lin_audit.c - the exact linear audit and complementary suppression
 * (gateway/lin_audit.c), as attacks that must fail: margins, linked tables
 * (month x quarter, age band x total, sub-region x region, two-way tables),
 * chains through other suppressed cells, earlier releases; and a
 * differential test against an independent floating-point rank test. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lin_audit.h"
#include "testutil.h"

static struct lin_audit *new_audit(void)
{
	struct lin_audit *a = NULL;

	ck_assert_int_eq(lin_audit_new(&a), 0);
	return a;
}

static int cell(struct lin_audit *a, enum lin_cell state, int64_t cost)
{
	int i = lin_audit_cell(a, state, cost, false);

	ck_assert_int_ge(i, 0);
	return i;
}

static void sum(struct lin_audit *a, int total, const int *parts, size_t n)
{
	ck_assert_int_eq(lin_audit_sum(a, total, parts, n), 0);
}

/* The ACRO #198 pattern: one small cell beside its released total and the
 * other released strata is total minus the others. */
START_TEST(margin_recovery_found_and_closed)
{
	struct lin_audit *a = new_audit();
	int t = cell(a, false, 120), small = cell(a, true, 4);
	int b = cell(a, false, 60), c = cell(a, false, 56);
	int parts[] = {small, b, c};
	bool exposed[4], added[4];

	sum(a, t, parts, 3);
	ck_assert_int_eq(lin_audit_check(a, exposed), 1);
	ck_assert(exposed[small]);
	/* cheapest complementary suppression in the same sum: c (56) */
	ck_assert_int_eq(lin_audit_protect(a, added), 1);
	ck_assert(added[c] && !added[b] && !added[t]);
	ck_assert_int_eq(lin_audit_check(a, exposed), 0);
	lin_audit_free(a);
}
END_TEST

/* Two suppressed strata of one total are not determined: only their sum. */
START_TEST(two_suppressed_parts_hide_each_other)
{
	struct lin_audit *a = new_audit();
	int t = cell(a, false, 100), x = cell(a, true, 3), y = cell(a, true, 5);
	int z = cell(a, false, 92);
	int parts[] = {x, y, z};

	sum(a, t, parts, 3);
	ck_assert_int_eq(lin_audit_check(a, NULL), 0);
	ck_assert_int_eq(lin_audit_protect(a, NULL), 0);
	lin_audit_free(a);
}
END_TEST

/* A suppressed total whose strata are all released is their sum. */
START_TEST(suppressed_total_of_released_strata)
{
	struct lin_audit *a = new_audit();
	int t = cell(a, true, 30), p = cell(a, false, 12),
	    q = cell(a, false, 18);
	int parts[] = {p, q};
	bool added[3];

	sum(a, t, parts, 2);
	ck_assert_int_eq(lin_audit_check(a, NULL), 1);
	ck_assert_int_eq(lin_audit_protect(a, added), 1);
	ck_assert(added[p]); /* 12 < 18 */
	ck_assert(lin_audit_suppressed(a, t) && !lin_audit_suppressed(a, q));
	lin_audit_free(a);
}
END_TEST

/*
 * Linked tables, month x quarter x age band: 3 months, 2 age bands, totals
 * per month and per band and the quarter total (a 2 x 3 table with both
 * margins).  Suppressing one month's small band and its partner in the same
 * month is not enough: the band total over the quarter gives it back; the
 * audit must find that and protect with a rectangle.
 */
START_TEST(two_way_table_needs_a_rectangle)
{
	struct lin_audit *a;
	int x[2][3], month[3], band[2], q, i, j, added_n, nsup;
	bool exposed[16], added[16];

	a = new_audit();
	for (i = 0; i < 2; i++)
		for (j = 0; j < 3; j++)
			x[i][j] = cell(a, i == 0 && j == 0, 20 + 10 * i + j);
	for (j = 0; j < 3; j++)
		month[j] = cell(a, false, 100 + j);
	for (i = 0; i < 2; i++)
		band[i] = cell(a, false, 200 + i);
	q = cell(a, false, 500);
	for (j = 0; j < 3; j++) {
		int parts[] = {x[0][j], x[1][j]};

		sum(a, month[j], parts, 2);
	}
	for (i = 0; i < 2; i++) {
		int parts[] = {x[i][0], x[i][1], x[i][2]};

		sum(a, band[i], parts, 3);
	}
	{
		int parts[] = {month[0], month[1], month[2]};
		int parts2[] = {band[0], band[1]};

		sum(a, q, parts, 3);
		sum(a, q, parts2, 2);
	}
	ck_assert_int_eq(lin_audit_check(a, exposed), 1);
	ck_assert(exposed[x[0][0]]);
	added_n = lin_audit_protect(a, added);
	ck_assert_int_ge(added_n, 3); /* at least the rest of a rectangle */
	ck_assert_int_eq(lin_audit_check(a, exposed), 0);
	/* every row and column of the table that holds a suppressed interior
	 * cell holds at least two */
	for (i = 0; i < 2; i++) {
		for (j = 0, nsup = 0; j < 3; j++)
			nsup += lin_audit_suppressed(a, x[i][j]);
		ck_assert(nsup == 0 || nsup >= 2);
	}
	for (j = 0; j < 3; j++) {
		nsup = lin_audit_suppressed(a, x[0][j]) +
		       lin_audit_suppressed(a, x[1][j]);
		ck_assert(nsup == 0 || nsup == 2);
	}
	lin_audit_free(a);

	/* a partial protection (same row only) is caught by the audit */
	a = new_audit();
	for (i = 0; i < 2; i++)
		for (j = 0; j < 3; j++)
			x[i][j] = cell(a, i == 0 && j < 2, 1);
	for (j = 0; j < 3; j++) {
		int parts[] = {x[0][j], x[1][j]};

		month[j] = cell(a, false, 100);
		sum(a, month[j], parts, 2);
	}
	for (i = 0; i < 2; i++) {
		int parts[] = {x[i][0], x[i][1], x[i][2]};

		band[i] = cell(a, false, 200);
		sum(a, band[i], parts, 3);
	}
	ck_assert_int_eq(lin_audit_check(a, exposed), 2);
	ck_assert(exposed[x[0][0]] && exposed[x[0][1]]);
	lin_audit_free(a);
}
END_TEST

/* Sub-regions and region, and the same cells released before: a quarter
 * already published (locked) is part of the audit of its months. */
START_TEST(earlier_release_is_in_the_audit)
{
	struct lin_audit *a = new_audit();
	int quarter = lin_audit_cell(a, false, 900, true);
	int m1 = cell(a, true, 6), m2 = cell(a, false, 400),
	    m3 = cell(a, false, 494);
	int parts[] = {m1, m2, m3};
	bool added[4];

	sum(a, quarter, parts, 3);
	ck_assert_int_eq(lin_audit_check(a, NULL), 1);
	ck_assert_int_eq(lin_audit_protect(a, added), 1);
	ck_assert(added[m2]);
	ck_assert(!lin_audit_suppressed(a, quarter));
	lin_audit_free(a);
}
END_TEST

/* A month not released yet is unknown but not sensitive: with the quarter
 * and January published, February unknown and March suppressed, March is
 * not determined; once February is published it is. */
START_TEST(unknown_cells_are_not_sensitive)
{
	struct lin_audit *a = new_audit();
	int q = lin_audit_cell(a, LIN_RELEASED, 0, true);
	int jan = lin_audit_cell(a, LIN_RELEASED, 0, true);
	int feb = lin_audit_cell(a, LIN_UNKNOWN, 0, true);
	int mar = cell(a, LIN_SUPPRESSED, 4);
	int parts[] = {jan, feb, mar};
	bool exposed[4];

	sum(a, q, parts, 3);
	ck_assert_int_eq(lin_audit_check(a, exposed), 0);
	ck_assert(!lin_audit_suppressed(a, feb));
	lin_audit_free(a);

	a = new_audit();
	q = lin_audit_cell(a, LIN_RELEASED, 0, true);
	jan = lin_audit_cell(a, LIN_RELEASED, 0, true);
	feb = lin_audit_cell(a, LIN_RELEASED, 0, true);
	mar = cell(a, LIN_SUPPRESSED, 4);
	parts[0] = jan;
	parts[1] = feb;
	parts[2] = mar;
	sum(a, q, parts, 3);
	ck_assert_int_eq(lin_audit_check(a, exposed), 1);
	ck_assert(exposed[mar]);
	/* only published (locked) cells could close it */
	ck_assert_int_eq(lin_audit_protect(a, NULL), -IZA_EINVALID);
	lin_audit_free(a);
}
END_TEST

/* Sub-region x region: a region's figure is the sum of its municipalities'
 * (sub-regions); one small municipality beside the region total and the
 * others released is recovered, and the cheapest other one protects it.
 * The same municipalities' age bands link in as a two-level hierarchy. */
START_TEST(sub_region_and_region)
{
	struct lin_audit *a = new_audit();
	int region = cell(a, LIN_RELEASED, 900);
	int gm[4], band[4][2], i;
	bool added[16];

	for (i = 0; i < 4; i++)
		gm[i] = cell(a, i == 2 ? LIN_SUPPRESSED : LIN_RELEASED,
			     100 + 100 * i);
	sum(a, region, gm, 4);
	for (i = 0; i < 4; i++) {
		band[i][0] = cell(a, LIN_RELEASED, 50 + i);
		band[i][1] = cell(a, LIN_RELEASED, 60 + i);
		sum(a, gm[i], band[i], 2);
	}
	/* the suppressed municipality is both region - others and the sum
	 * of its own two bands */
	ck_assert_int_eq(lin_audit_check(a, NULL), 1);
	ck_assert_int_gt(lin_audit_protect(a, added), 1);
	ck_assert_int_eq(lin_audit_check(a, NULL), 0);
	/* its bands cannot both stay released */
	ck_assert(lin_audit_suppressed(a, band[2][0]) ||
		  lin_audit_suppressed(a, band[2][1]));
	lin_audit_free(a);
}
END_TEST

/* Only locked cells left: protection is impossible and says so. */
START_TEST(locked_cells_cannot_protect)
{
	struct lin_audit *a = new_audit();
	int t = lin_audit_cell(a, false, 50, true);
	int x = cell(a, true, 4);
	int y = lin_audit_cell(a, false, 46, true);
	int parts[] = {x, y};

	sum(a, t, parts, 2);
	ck_assert_int_eq(lin_audit_protect(a, NULL), -IZA_EINVALID);
	lin_audit_free(a);
}
END_TEST

/* Determined through a chain: T = a + b (a released), b = c + d (d
 * released): b = T - a, then c = b - d. */
START_TEST(chain_through_suppressed_cells)
{
	struct lin_audit *a = new_audit();
	int t = cell(a, false, 100), ca = cell(a, false, 60),
	    b = cell(a, true, 40);
	int c = cell(a, true, 7), d = cell(a, false, 33);
	int p1[] = {ca, b}, p2[] = {c, d};
	bool exposed[5];

	sum(a, t, p1, 2);
	sum(a, b, p2, 2);
	ck_assert_int_eq(lin_audit_check(a, exposed), 2);
	ck_assert(exposed[b] && exposed[c]);
	ck_assert_int_gt(lin_audit_protect(a, NULL), 0);
	ck_assert_int_eq(lin_audit_check(a, NULL), 0);
	lin_audit_free(a);
}
END_TEST

START_TEST(bad_sums_refused)
{
	struct lin_audit *a = new_audit();
	int t = cell(a, false, 1), x = cell(a, false, 1);
	int dup[] = {x, x}, self[] = {t}, out[] = {7};

	ck_assert_int_eq(lin_audit_sum(a, t, dup, 2), -IZA_EUSAGE);
	ck_assert_int_eq(lin_audit_sum(a, t, self, 1), -IZA_EUSAGE);
	ck_assert_int_eq(lin_audit_sum(a, t, out, 1), -IZA_EUSAGE);
	ck_assert_int_eq(lin_audit_sum(a, t, dup, 0), -IZA_EUSAGE);
	ck_assert_int_eq(lin_audit_check(a, NULL), 0);
	lin_audit_free(a);
	lin_audit_free(NULL);
}
END_TEST

/* ---- differential test against an independent rank computation ---- */

/* Rank of an r x m matrix of doubles (entries small integers, so partial
 * pivoting with a tolerance is exact enough for m <= 8). */
static int rank_of(double *mat, int r, int m)
{
	int rank = 0, col, i, j, k;

	for (col = 0; col < m && rank < r; col++) {
		int piv = -1;
		double best = 1e-9;

		for (i = rank; i < r; i++)
			if (fabs(mat[i * m + col]) > best) {
				best = fabs(mat[i * m + col]);
				piv = i;
			}
		if (piv < 0)
			continue;
		for (k = 0; k < m; k++) {
			double t = mat[rank * m + k];

			mat[rank * m + k] = mat[piv * m + k];
			mat[piv * m + k] = t;
		}
		for (i = 0; i < r; i++) {
			double f;

			if (i == rank)
				continue;
			f = mat[i * m + col] / mat[rank * m + col];
			for (j = 0; j < m; j++)
				mat[i * m + j] -= f * mat[rank * m + j];
		}
		rank++;
	}
	return rank;
}

/* e_j is in the row space of A iff dropping column j lowers the rank. */
START_TEST(differential_random_systems)
{
	unsigned seed = 12345;
	int trial, agree = 0, exposed_total = 0;

	for (trial = 0; trial < 400; trial++) {
		struct lin_audit *a = new_audit();
		int n = 4 + (int)(rand_r(&seed) % 6),
		    ns = 1 + (int)(rand_r(&seed) % 4);
		int i, s, unk[16], nu = 0;
		bool sup[16], exposed[16];
		double A[8 * 16], B[8 * 16];
		int rowsn = 0;
		int sums[8][17], sn[8], st[8];

		for (i = 0; i < n; i++) {
			sup[i] = rand_r(&seed) % 2;
			cell(a, sup[i], i);
			if (sup[i])
				unk[nu++] = i;
		}
		for (s = 0; s < ns; s++) {
			int k, np = 0;

			st[s] = (int)(rand_r(&seed) % (unsigned)n);
			for (k = 0; k < n; k++)
				if (k != st[s] && rand_r(&seed) % 2)
					sums[s][np++] = k;
			if (np == 0)
				sums[s][np++] = (st[s] + 1) % n;
			sn[s] = np;
			sum(a, st[s], sums[s], (size_t)np);
		}
		ck_assert_int_ge(lin_audit_check(a, exposed), 0);
		/* the matrix restricted to the unknowns */
		for (s = 0; s < ns; s++) {
			int k;

			for (k = 0; k < nu; k++)
				A[rowsn * nu + k] = 0;
			for (k = 0; k < nu; k++) {
				int p;

				if (unk[k] == st[s])
					A[rowsn * nu + k] += 1;
				for (p = 0; p < sn[s]; p++)
					if (sums[s][p] == unk[k])
						A[rowsn * nu + k] -= 1;
			}
			rowsn++;
		}
		for (i = 0; i < nu; i++) {
			int r_all, r_drop, k, c, row;
			bool det;

			memcpy(B, A, sizeof(double) * (size_t)(rowsn * nu));
			r_all = rank_of(B, rowsn, nu);
			for (row = 0; row < rowsn; row++)
				for (k = 0, c = 0; k < nu; k++)
					if (k != i)
						B[row * (nu - 1) + c++] =
						    A[row * nu + k];
			r_drop = nu > 1 ? rank_of(B, rowsn, nu - 1) : 0;
			det = r_drop == r_all - 1;
			exposed_total += det;
			if (det == exposed[unk[i]])
				agree++;
			else
				ck_abort_msg("trial %d: cell %d exposed %d, "
					     "rank test %d",
					     trial, unk[i], exposed[unk[i]],
					     det);
		}
		/* protection always ends with a passing audit (or says it
		 * cannot) */
		i = lin_audit_protect(a, NULL);
		if (i >= 0)
			ck_assert_int_eq(lin_audit_check(a, NULL), 0);
		else
			ck_assert_int_eq(i, -IZA_EINVALID);
		lin_audit_free(a);
	}
	ck_assert_int_gt(agree, 500);
	ck_assert_int_gt(exposed_total, 50); /* not vacuous */
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("lin_audit");
	TCase *tc = tcase_create("audit");

	tcase_add_test(tc, margin_recovery_found_and_closed);
	tcase_add_test(tc, two_suppressed_parts_hide_each_other);
	tcase_add_test(tc, suppressed_total_of_released_strata);
	tcase_add_test(tc, two_way_table_needs_a_rectangle);
	tcase_add_test(tc, earlier_release_is_in_the_audit);
	tcase_add_test(tc, locked_cells_cannot_protect);
	tcase_add_test(tc, unknown_cells_are_not_sensitive);
	tcase_add_test(tc, sub_region_and_region);
	tcase_add_test(tc, chain_through_suppressed_cells);
	tcase_add_test(tc, bad_sums_refused);
	tcase_add_test(tc, differential_random_systems);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(suite());
}
