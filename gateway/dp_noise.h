/*
 * dp_noise.h - differentially private noise for released counts: the
 * discrete Laplace (two-sided geometric) distribution, sampled exactly with
 * integer arithmetic only (Canonne, Kamath, Steinke 2020, "The Discrete
 * Gaussian for Differential Privacy", algorithms 1 and 2), never through
 * floating point (whose Laplace samplers leak, Mironov 2012).
 *
 * Randomness is a deterministic stream: block i is HMAC-SHA256(region key,
 * "dp:v1:" seed "|" i) (OpenSSL, through pseudo.h), where the seed names the
 * cell and what it is computed from.  The same cell asked again gets the same
 * noise, so repeating a question and averaging the answers learns nothing;
 * without the region key the stream is unpredictable.  Uniform integers are
 * drawn by rejection (unbiased).
 *
 * Sampling time is bounded: every loop is geometric with a constant success
 * probability (a sample needs a handful of draws on average), and a sample
 * that would take more than DP_MAX_DRAWS 64-bit draws fails with
 * -IZA_ETOOBIG (the caller then suppresses the cell: fail closed).
 */
#ifndef IZA_DP_NOISE_H
#define IZA_DP_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include "iza_error.h"
#include "pseudo.h"

#define DP_MAX_DRAWS 1000000u

struct dp_rng {
	struct pseudo *ps; /* borrowed */
	char seed[256];
	uint64_t counter;
	uint8_t block[IZA_HASH_LEN];
	size_t used;	    /* bytes of block consumed */
	uint64_t draws;	    /* uniform words drawn for the current sample */
	uint64_t max_draws; /* per sample; DP_MAX_DRAWS by default */
};

/* The stream for seed (a cell identity; at most 255 bytes are used). */
void dp_rng_init(struct dp_rng *r, struct pseudo *ps, const char *seed);

/* Uniform in [0, n), n >= 1.  0 or a negative code. */
int dp_uniform(struct dp_rng *r, uint64_t n, uint64_t *out);

/* Bernoulli(exp(-num/den)), den >= 1: *out 0 or 1. */
int dp_bernoulli_exp(struct dp_rng *r, uint64_t num, uint64_t den, int *out);

/*
 * Discrete Laplace with scale t/s (t, s >= 1, t * s < 2^62):
 * P(X = x) proportional to exp(-|x| * s / t).  For a count of sensitivity D
 * released with privacy loss epsilon = a/b: t = D * b, s = a.
 */
int dp_discrete_laplace(struct dp_rng *r, uint64_t t, uint64_t s, int64_t *out);

#endif
