/* test_dp_noise.c - the exact discrete Laplace sampler (gateway/dp_noise.c):
 * integer and deterministic per seed, unbiased and with the variance of the
 * distribution (statistical tests with fixed seeds and stated tolerances),
 * exp(-x) Bernoulli frequencies, and bounded time. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_noise.h"
#include "testutil.h"

static struct pseudo *ps;

static void setup(void)
{
	uint8_t key[IZA_KEY_LEN];
	size_t i;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 1);
	ck_assert_int_eq(pseudo_new(key, &ps), 0);
}

static void teardown(void)
{
	pseudo_free(ps);
}

START_TEST(same_seed_same_noise)
{
	struct dp_rng a, b, c;
	int i, differ = 0;

	dp_rng_init(&a, ps, "er-visits|2025-Q1||");
	dp_rng_init(&b, ps, "er-visits|2025-Q1||");
	dp_rng_init(&c, ps, "er-visits|2025-Q2||");
	for (i = 0; i < 200; i++) {
		int64_t x, y, z;

		ck_assert_int_eq(dp_discrete_laplace(&a, 3, 1, &x), 0);
		ck_assert_int_eq(dp_discrete_laplace(&b, 3, 1, &y), 0);
		ck_assert_int_eq(dp_discrete_laplace(&c, 3, 1, &z), 0);
		ck_assert_int_eq(x, y);
		differ += x != z;
	}
	ck_assert_int_gt(differ, 100);
}
END_TEST

START_TEST(uniform_is_uniform)
{
	struct dp_rng r;
	long hist[7] = {0};
	int i;

	dp_rng_init(&r, ps, "uniform");
	for (i = 0; i < 70000; i++) {
		uint64_t u;

		ck_assert_int_eq(dp_uniform(&r, 7, &u), 0);
		ck_assert(u < 7);
		hist[u]++;
	}
	/* each bucket 10000 +- 4 sigma (sigma ~ 93) */
	for (i = 0; i < 7; i++)
		ck_assert_msg(labs(hist[i] - 10000) < 400, "bucket %d: %ld", i,
			      hist[i]);
	ck_assert_int_eq(dp_uniform(&r, 0, NULL), -IZA_EUSAGE);
}
END_TEST

/* Bernoulli(exp(-a/b)) against exp() for a few rationals (1/3, 1, 5/2). */
START_TEST(bernoulli_exp_frequencies)
{
	static const uint64_t cases[][2] = {{1, 3}, {1, 1}, {5, 2}, {0, 4}};
	size_t c;

	for (c = 0; c < 4; c++) {
		struct dp_rng r;
		long ones = 0, n = 40000, i;
		double p = exp(-(double)cases[c][0] / (double)cases[c][1]);
		double sd = sqrt(p * (1 - p) / (double)n);
		char seed[32];

		snprintf(seed, sizeof(seed), "bexp-%zu", c);
		dp_rng_init(&r, ps, seed);
		for (i = 0; i < n; i++) {
			int x;

			ck_assert_int_eq(
			    dp_bernoulli_exp(&r, cases[c][0], cases[c][1], &x),
			    0);
			ones += x;
		}
		ck_assert_msg(fabs((double)ones / (double)n - p) <=
				  5 * sd + 1e-9,
			      "exp(-%llu/%llu): %f, want %f",
			      (unsigned long long)cases[c][0],
			      (unsigned long long)cases[c][1],
			      (double)ones / (double)n, p);
	}
}
END_TEST

/* Scale t/s = 2 (sensitivity 1, epsilon 1/2): mean 0, variance
 * 2q/(1-q)^2 with q = exp(-1/2) = 7.83; P(0) = (1-q)/(1+q) = 0.2449. */
START_TEST(unbiased_with_the_right_spread)
{
	struct dp_rng r;
	const long n = 100000;
	double sum = 0, sq = 0, q = exp(-0.5);
	double var = 2 * q / ((1 - q) * (1 - q)), p0 = (1 - q) / (1 + q);
	long zeros = 0, i;

	dp_rng_init(&r, ps, "spread");
	for (i = 0; i < n; i++) {
		int64_t x;

		ck_assert_int_eq(dp_discrete_laplace(&r, 2, 1, &x), 0);
		sum += (double)x;
		sq += (double)x * (double)x;
		zeros += x == 0;
	}
	/* mean within 5 standard errors */
	ck_assert_msg(fabs(sum / n) < 5 * sqrt(var / n), "mean %f", sum / n);
	/* variance within 3 % (its standard error is ~1 % here) */
	ck_assert_msg(fabs(sq / n - var) < 0.03 * var, "variance %f, want %f",
		      sq / n, var);
	ck_assert_msg(fabs((double)zeros / n - p0) < 0.005, "P(0) %f, want %f",
		      (double)zeros / n, p0);
}
END_TEST

/* A fractional scale (t/s = 5/2) and symmetry. */
START_TEST(fractional_scale_symmetric)
{
	struct dp_rng r;
	long pos = 0, neg = 0, i;

	dp_rng_init(&r, ps, "frac");
	for (i = 0; i < 50000; i++) {
		int64_t x;

		ck_assert_int_eq(dp_discrete_laplace(&r, 5, 2, &x), 0);
		pos += x > 0;
		neg += x < 0;
	}
	ck_assert_msg(labs(pos - neg) < 5 * (long)sqrt((double)(pos + neg)),
		      "positive %ld, negative %ld", pos, neg);
	ck_assert_int_eq(dp_discrete_laplace(&r, 0, 1, NULL), -IZA_EUSAGE);
	ck_assert_int_eq(dp_discrete_laplace(&r, 1ull << 40, 1ull << 30, NULL),
			 -IZA_EUSAGE);
}
END_TEST

/* Time is bounded: a stream that has used its draws fails, it does not
 * loop. */
START_TEST(bounded_time)
{
	struct dp_rng r;
	int64_t x;
	int rc = 0, i;

	dp_rng_init(&r, ps, "bounded");
	ck_assert_int_eq(r.max_draws, DP_MAX_DRAWS);
	r.max_draws = 2; /* a sample needs at least 3 draws */
	for (i = 0; i < 10 && rc == 0; i++)
		rc = dp_discrete_laplace(&r, 1000, 1, &x);
	ck_assert_int_eq(rc, -IZA_ETOOBIG);
	/* the default budget is per sample: a million samples of one stream
	 * are fine (checked on 100,000 in unbiased_with_the_right_spread) */
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dp_noise");
	TCase *tc = tcase_create("dp_noise");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, same_seed_same_noise);
	tcase_add_test(tc, uniform_is_uniform);
	tcase_add_test(tc, bernoulli_exp_frequencies);
	tcase_add_test(tc, unbiased_with_the_right_spread);
	tcase_add_test(tc, fractional_scale_symmetric);
	tcase_add_test(tc, bounded_time);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(suite());
}
