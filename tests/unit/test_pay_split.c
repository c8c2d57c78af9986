/* test_pay_split.c - the largest-remainder split (monitor/pay_split.c):
 * cases computed by hand, the extremes of the 64-bit range, refusals, and a
 * property test over random keys (sums exact, no negative part, every part
 * the floor or ceiling of its exact quota, deterministic). */
#include <stdint.h>
#include <stdlib.h>

#include "pay_split.h"
#include "testutil.h"

static void split_ok(int64_t amount, const uint64_t *w, size_t n,
		     int64_t *parts)
{
	struct iza_error err;

	ck_assert_int_eq(pay_split(amount, w, n, parts, &err), 0);
}

START_TEST(hand_computed)
{
	int64_t p[3];

	/* 100 over three equal shares: 33 1/3 each, the cent left goes to
	 * the first of the equal remainders */
	split_ok(100, (uint64_t[]){1, 1, 1}, 3, p);
	ck_assert_int_eq(p[0], 34);
	ck_assert_int_eq(p[1], 33);
	ck_assert_int_eq(p[2], 33);
	/* exact quotas: nothing to distribute */
	split_ok(1000, (uint64_t[]){5000, 3000, 2000}, 3, p);
	ck_assert_int_eq(p[0], 500);
	ck_assert_int_eq(p[1], 300);
	ck_assert_int_eq(p[2], 200);
	/* 1000 * 3/7 = 428 r 4/7 (twice), 1000 * 1/7 = 142 r 6/7: floors sum
	 * to 998; the largest remainder (6/7) gets one, then the first of the
	 * two equal remainders 4/7 */
	split_ok(1000, (uint64_t[]){3, 3, 1}, 3, p);
	ck_assert_int_eq(p[0], 429);
	ck_assert_int_eq(p[1], 428);
	ck_assert_int_eq(p[2], 143);
	/* a weight of zero gets nothing, even of the leftover cents */
	split_ok(11, (uint64_t[]){0, 1, 1}, 3, p);
	ck_assert_int_eq(p[0], 0);
	ck_assert_int_eq(p[1], 6);
	ck_assert_int_eq(p[2], 5);
	/* nothing to pay */
	split_ok(0, (uint64_t[]){2, 7, 1}, 3, p);
	ck_assert_int_eq(p[0] + p[1] + p[2], 0);
	/* one party pays everything */
	split_ok(123456789, (uint64_t[]){42}, 1, p);
	ck_assert_int_eq(p[0], 123456789);
}
END_TEST

START_TEST(extremes_of_the_range)
{
	int64_t p[2];

	/* INT64_MAX = (2^31 - 1) * 2^32 + (2^32 - 1) over weights 2^32 - 1
	 * and 1: floors (2^31 - 1)(2^32 - 1) + 2^32 - 2 and 2^31 - 1, sum
	 * 2^63 - 2; the one cent left goes to the second (remainder
	 * (2^32 - 1)/2^32 against 1/2^32) */
	split_ok(INT64_MAX, (uint64_t[]){((uint64_t)1 << 32) - 1, 1}, 2, p);
	ck_assert_int_eq(p[1], (int64_t)1 << 31);
	ck_assert_int_eq(p[0], INT64_MAX - ((int64_t)1 << 31));
}
END_TEST

START_TEST(refusals)
{
	struct iza_error err;
	int64_t p[2] = {-7, -7};

	ck_assert_int_eq(pay_split(-1, (uint64_t[]){1, 1}, 2, p, &err),
			 -IZA_EINVALID);
	ck_assert_str_eq(err.field, "amount");
	ck_assert_int_eq(pay_split(10, (uint64_t[]){1}, 0, p, &err),
			 -IZA_EINVALID);
	ck_assert_int_eq(pay_split(10, (uint64_t[]){0, 0}, 2, p, &err),
			 -IZA_EINVALID);
	ck_assert_str_eq(err.text, "every weight is zero");
	ck_assert_int_eq(
	    pay_split(10, (uint64_t[]){PAY_SPLIT_MAX_TOTAL, 1}, 2, p, &err),
	    -IZA_EINVALID);
	/* exactly at the limit is fine */
	ck_assert_int_eq(
	    pay_split(10, (uint64_t[]){PAY_SPLIT_MAX_TOTAL - 1, 1}, 2, p, &err),
	    0);
	ck_assert_int_eq(p[0] + p[1], 10);
	/* refused calls leave parts alone */
	p[0] = p[1] = -7;
	pay_split(-5, (uint64_t[]){1, 1}, 2, p, NULL);
	ck_assert_int_eq(p[0], -7);
	ck_assert_int_eq(p[1], -7);
}
END_TEST

/* an independent check of the quotas in 128 bits (GCC and Clang) */
__extension__ typedef unsigned __int128 u128;

/* xorshift64*: a fixed-seed generator so failures reproduce */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

START_TEST(property_random_keys)
{
	uint64_t seed = 0x1a2b3c4d5e6f7081ULL;
	int round;

	for (round = 0; round < 20000; round++) {
		uint64_t w[40];
		int64_t p[40], again[40], amount, sum = 0;
		uint64_t total = 0;
		size_t n = 1 + rnd(&seed) % 40, i;

		for (i = 0; i < n; i++) {
			/* a quarter of the parties have weight 0 */
			w[i] = rnd(&seed) % 4 == 0 ? 0 : rnd(&seed) % 100000000;
			total += w[i];
		}
		if (total == 0)
			w[0] = total = 1;
		switch (round % 3) {
		case 0:
			amount = (int64_t)(rnd(&seed) % 100); /* a few cents */
			break;
		case 1:
			amount = (int64_t)(rnd(&seed) % 1000000000000ULL);
			break;
		default:
			amount =
			    (int64_t)(rnd(&seed) >> 1); /* up to 2^63 - 1 */
		}
		split_ok(amount, w, n, p);
		split_ok(amount, w, n, again);
		for (i = 0; i < n; i++) {
			/* exact quota in 128 bits: part is its floor or
			 * ceiling, zero weight gets zero */
			u128 exact = (u128)(uint64_t)amount * w[i];
			u128 lo = exact / total;
			u128 hi = lo + (exact % total != 0);

			ck_assert(p[i] >= 0);
			ck_assert((u128)p[i] >= lo);
			ck_assert((u128)p[i] <= hi);
			if (w[i] == 0)
				ck_assert_int_eq(p[i], 0);
			ck_assert_int_eq(p[i], again[i]);
			sum += p[i];
		}
		ck_assert_int_eq(sum, amount);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("pay_split");
	TCase *tc = tcase_create("pay_split");

	tcase_add_test(tc, hand_computed);
	tcase_add_test(tc, extremes_of_the_range);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, property_random_keys);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(suite());
}
