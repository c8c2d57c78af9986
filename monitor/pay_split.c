/*
 * pay_split.c - the largest-remainder split of an amount over weights.
 *
 * With W the total weight, amount = q * W + r (0 <= r < W), a party's exact
 * quota amount * w / W is q * w + (r * w) / W.  q * w <= amount fits, and
 * r * w < W * W <= 2^64 fits in uint64_t because W <= 2^32, so floor and
 * remainder are exact without wider integers.
 */
#include "pay_split.h"

#include <stdlib.h>

struct rem {
	uint64_t rem; /* (r * w) mod W */
	size_t idx;
};

/* Largest remainder first; equal remainders in party order. */
static int rem_cmp(const void *a, const void *b)
{
	const struct rem *x = a, *y = b;

	if (x->rem != y->rem)
		return x->rem > y->rem ? -1 : 1;
	return (x->idx > y->idx) - (x->idx < y->idx);
}

int pay_split(int64_t amount, const uint64_t *weights, size_t n, int64_t *parts,
	      struct iza_error *err)
{
	uint64_t total = 0, q, r, given = 0, left;
	struct rem *rems;
	size_t i;

	if (amount < 0)
		return iza_error_set(err, -IZA_EINVALID, NULL, 0, "amount",
				     "a negative amount cannot be split");
	if (n == 0)
		return iza_error_set(err, -IZA_EINVALID, NULL, 0, "weights",
				     "no parties to split over");
	for (i = 0; i < n; i++) {
		if (weights[i] > PAY_SPLIT_MAX_TOTAL - total)
			return iza_error_set(
			    err, -IZA_EINVALID, NULL, 0, "weights",
			    "the weights sum to more than 2^32");
		total += weights[i];
	}
	if (total == 0)
		return iza_error_set(err, -IZA_EINVALID, NULL, 0, "weights",
				     "every weight is zero");

	rems = malloc(n * sizeof(*rems));
	if (rems == NULL)
		return -IZA_ENOMEM;
	q = (uint64_t)amount / total;
	r = (uint64_t)amount % total;
	for (i = 0; i < n; i++) {
		uint64_t rw = r * weights[i];

		parts[i] = (int64_t)(q * weights[i] + rw / total);
		given += (uint64_t)parts[i];
		rems[i].rem = rw % total;
		rems[i].idx = i;
	}
	/* Each floor loses less than one cent, so fewer than n are left, and
	 * only parties with a non-zero remainder (hence weight) receive one. */
	left = (uint64_t)amount - given;
	qsort(rems, n, sizeof(*rems), rem_cmp);
	for (i = 0; i < left; i++)
		parts[rems[i].idx]++;
	free(rems);
	return 0;
}
