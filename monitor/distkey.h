/*
 * distkey.h - the national distribution key: which share of a met
 * milestone's amount each health insurer pays (format
 * "iza-distribution-key/1", one JSON file per year; docs/plans.md).
 *
 *   {"format": "iza-distribution-key/1", "year": 2026,
 *    "description": "...", "source": "...",
 *    "shares": [{"insurer": "3311", "name": "...", "share": 0.25}, ...]}
 *
 * Shares are fractions with at most six decimals (kept in millionths) and
 * must add up to exactly 1; insurers are UZOVI codes, each listed once.
 * The shares are kept in UZOVI order, whatever the file's order, so the
 * largest-remainder split (pay_split.h) breaks ties the same way for the
 * same key.  izamon stores every loaded key byte for byte, versioned per
 * year; a notice names the key as "YEAR.VERSION".
 */
#ifndef IZA_DISTKEY_H
#define IZA_DISTKEY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "iza_error.h"

#define DISTKEY_WHOLE 1000000 /* the sum of the shares, in millionths */

struct distkey_share {
	char insurer[5]; /* UZOVI */
	char name[96];
	uint64_t share; /* millionths */
};

struct distkey {
	int year;
	size_t n;
	struct distkey_share *shares; /* UZOVI order */
};

/* Read and validate (file names the source in errors): 0 and *out, or
 * -IZA_ECONFIG naming file, JSON path and reason, or -IZA_ENOMEM. */
int distkey_parse(const char *file, const json_t *doc, struct distkey **out,
		  struct iza_error *err);
int distkey_load(const char *path, struct distkey **out, struct iza_error *err);
void distkey_free(struct distkey *k); /* accepts NULL */

/*
 * Split amount (cents) over the key: parts[i] for k->shares[i], summing to
 * amount exactly (largest remainder).  0 or a pay_split error.
 */
int distkey_split(const struct distkey *k, int64_t amount, int64_t *parts,
		  struct iza_error *err);

#endif
