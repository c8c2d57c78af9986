/*
 * dp_noise.c - exact discrete Laplace sampling (contract in dp_noise.h).
 *
 * Decisions:
 *  - Uniform integers come from 64-bit words of the HMAC stream by
 *    rejection: a word w is kept when w < 2^64 - (2^64 mod n), then w mod n
 *    is exactly uniform.
 *  - Bernoulli(p) for a rational p = a/b is "uniform(b) < a"; every other
 *    sampler is built from it, as in the paper: Bernoulli(exp(-g)) for
 *    g <= 1 by the alternating series (draw Bernoulli(g/k) for k = 1, 2, ...
 *    until one fails; the result is 1 when the number of successes is
 *    even), and for g > 1 as floor(g) Bernoulli(exp(-1)) and one more.
 */
#include "dp_noise.h"

#include <stdio.h>
#include <string.h>

void dp_rng_init(struct dp_rng *r, struct pseudo *ps, const char *seed)
{
	memset(r, 0, sizeof(*r));
	r->ps = ps;
	snprintf(r->seed, sizeof(r->seed), "%s", seed ? seed : "");
	r->used = IZA_HASH_LEN; /* no block yet */
	r->max_draws = DP_MAX_DRAWS;
}

static int next_word(struct dp_rng *r, uint64_t *w)
{
	size_t i;

	if (++r->draws > r->max_draws)
		return -IZA_ETOOBIG;
	if (r->used + 8 > IZA_HASH_LEN) {
		char data[300];
		int n = snprintf(data, sizeof(data), "%s|%llu", r->seed,
				 (unsigned long long)r->counter++);
		int rc;

		if (n < 0 || (size_t)n >= sizeof(data))
			return -IZA_ETOOBIG;
		rc = pseudo_hmac(r->ps, "dp:v1:", data, (size_t)n, r->block);
		if (rc)
			return rc;
		r->used = 0;
	}
	*w = 0;
	for (i = 0; i < 8; i++)
		*w = (*w << 8) | r->block[r->used + i];
	r->used += 8;
	return 0;
}

int dp_uniform(struct dp_rng *r, uint64_t n, uint64_t *out)
{
	uint64_t rem, w;
	int rc;

	if (n == 0)
		return -IZA_EUSAGE;
	/* rem = 2^64 mod n; words below 2^64 - rem cover every residue
	 * equally often */
	rem = (UINT64_MAX % n + 1) % n;
	do {
		rc = next_word(r, &w);
		if (rc)
			return rc;
	} while (rem && w > UINT64_MAX - rem);
	*out = w % n;
	return 0;
}

/* Bernoulli(a / b), 0 <= a <= b, b >= 1. */
static int bernoulli(struct dp_rng *r, uint64_t a, uint64_t b, int *out)
{
	uint64_t u;
	int rc = dp_uniform(r, b, &u);

	if (rc)
		return rc;
	*out = u < a;
	return 0;
}

/* Bernoulli(exp(-a/b)) for 0 <= a <= b. */
static int bernoulli_exp_small(struct dp_rng *r, uint64_t a, uint64_t b,
			       int *out)
{
	uint64_t k;
	int rc, x;

	for (k = 1;; k++) {
		uint64_t bk;

		if (__builtin_mul_overflow(b, k, &bk))
			return -IZA_ETOOBIG;
		rc = bernoulli(r, a, bk, &x);
		if (rc)
			return rc;
		if (!x) {
			*out = (int)(k & 1); /* k - 1 successes: even -> 1 */
			return 0;
		}
	}
}

static int bernoulli_exp(struct dp_rng *r, uint64_t num, uint64_t den, int *out)
{
	uint64_t i, whole;
	int rc, x;

	if (den == 0)
		return -IZA_EUSAGE;
	whole = num / den;
	for (i = 0; i < whole; i++) {
		rc = bernoulli_exp_small(r, 1, 1, &x);
		if (rc)
			return rc;
		if (!x) {
			*out = 0;
			return 0;
		}
	}
	return bernoulli_exp_small(r, num % den, den, out);
}

int dp_bernoulli_exp(struct dp_rng *r, uint64_t num, uint64_t den, int *out)
{
	r->draws = 0;
	return bernoulli_exp(r, num, den, out);
}

int dp_discrete_laplace(struct dp_rng *r, uint64_t t, uint64_t s, int64_t *out)
{
	uint64_t prod;
	int rc;

	if (t == 0 || s == 0 || __builtin_mul_overflow(t, s, &prod) ||
	    prod >= (1ull << 62))
		return -IZA_EUSAGE;
	r->draws = 0;
	for (;;) {
		uint64_t u, v = 0, x, y;
		int d, a, b;

		rc = dp_uniform(r, t, &u);
		if (rc == 0)
			rc = bernoulli_exp(r, u, t, &d);
		if (rc)
			return rc;
		if (!d)
			continue;
		for (;;) {
			rc = bernoulli_exp(r, 1, 1, &a);
			if (rc)
				return rc;
			if (!a)
				break;
			v++;
		}
		if (__builtin_mul_overflow(t, v, &x) ||
		    __builtin_add_overflow(x, u, &x))
			return -IZA_ETOOBIG;
		y = x / s;
		rc = bernoulli(r, 1, 2, &b);
		if (rc)
			return rc;
		if (b && y == 0)
			continue;
		if (y > (uint64_t)INT64_MAX)
			return -IZA_ETOOBIG;
		*out = b ? -(int64_t)y : (int64_t)y;
		return 0;
	}
}
