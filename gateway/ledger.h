/*
 * ledger.h - the release ledger: every cell the gateway has released, in an
 * append-only, hash-chained SQLite file inside the region
 * (izagw-data/ledger.db, mode 0600).
 *
 * A release is one `izagw report` of one period: a header (sequence number,
 * time, period, KPI definitions version) and all its cells (KPI, period,
 * stratifier, stratum; released or suppressed; for released cells the
 * published value and counts, and the persons behind them, which never
 * leave the region and serve the re-release rule).  Each release's hash is
 * SHA-256 over "iza-ledger/1", the previous release's hash and a canonical
 * text of the header and the cells in key order, so changing, dropping or
 * reordering anything breaks the chain from there on (ledger_verify).
 * Triggers refuse UPDATE and DELETE.  Used by release.c (what was published
 * before) and the CLI (record a release, verify).
 *
 * One struct ledger belongs to one thread.
 */
#ifndef IZA_LEDGER_H
#define IZA_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iza_error.h"

#define LEDGER_HASH_LEN 32

struct ledger;

struct ledger_cell {
	char kpi[64];
	char period[12];     /* "2025-Q1" */
	char stratifier[24]; /* "" for the KPI's total */
	char stratum[24];    /* "" for the KPI's total */
	bool released;	     /* false: suppressed (no numbers kept) */
	bool has_value;
	double value;
	bool has_numerator, has_denominator;
	int64_t numerator, denominator;
	int64_t persons, rest_persons; /* internal, for the re-release rule */
	int64_t release; /* sequence number of the release (ledger_find) */
};

/* Open (create: make the file and schema if absent).  A missing file without
 * create is -IZA_ENOTFOUND. */
int ledger_open(const char *path, bool create, struct ledger **out,
		struct iza_error *err);
void ledger_close(struct ledger *l); /* accepts NULL */

/*
 * The latest release of one cell: 1 and *out filled, 0 if the cell was
 * never released (or suppressed) in any release, or a negative code.
 * stratifier and stratum "" name the total.
 */
int ledger_find(struct ledger *l, const char *kpi, const char *period,
		const char *stratifier, const char *stratum,
		struct ledger_cell *out, struct iza_error *err);

/*
 * Append one release of `period` with cells[0..n) (their period must be
 * `period`; a key may appear once), and, when epsilon_milli > 0, its
 * privacy-loss charge against each budget scope in scopes (NULL-terminated,
 * e.g. "2025-Q1", "2025"; may be NULL).  One transaction, covered by the
 * release's hash; *seq (may be NULL) gets the release's sequence number.
 */
int ledger_append(struct ledger *l, const char *period, const char *kpi_version,
		  int64_t now, const struct ledger_cell *cells, size_t n,
		  const char *const *scopes, int64_t epsilon_milli,
		  int64_t *seq, struct iza_error *err);

/* The sequence number the next ledger_append will most likely get (another
 * process may append first: compare with what it returns). */
int ledger_next_seq(struct ledger *l, int64_t *seq, struct iza_error *err);

/* Privacy loss (epsilon x 1000) charged so far against one budget scope. */
int ledger_spent(struct ledger *l, const char *scope, int64_t *milli,
		 struct iza_error *err);

/*
 * Recompute the hash chain over every release.  0 when intact (*nreleases
 * set); -IZA_ESTORE naming the first release whose hash does not match.
 */
int ledger_verify(struct ledger *l, int64_t *nreleases, struct iza_error *err);

#endif
