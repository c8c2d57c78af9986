/*
 * disclosure.h - disclosure control applied to computed KPI cells before any
 * release (kpis output, reports).
 *
 * Minimum rule (docs/privacy-model.md): every released count rests on at
 * least k distinct persons (default 10; k < 10 is refused unless the
 * test-only override is set); for a share both the numerator and
 * denominator - numerator rest on at least k persons; an avoided-visits value
 * is suppressed when either the observed or the baseline cell fails.  A
 * suppressed cell keeps no value and no counts in any output.
 *
 * Secondary suppression (disclosure_apply): a suppressed total takes its
 * strata with it; the suppressed strata of a stratifier together rest on at
 * least k persons; and the exact linear audit of lin_audit.h over
 * total = sum(strata) with complementary suppression, cheapest first.
 */
#ifndef IZA_DISCLOSURE_H
#define IZA_DISCLOSURE_H

#include <stdbool.h>

#include "iza_error.h"
#include "kpi.h"

#define DISCLOSURE_MIN_K 10

struct disclosure_params {
	int k;
	bool test_override; /* allow k < 10 (tests only; never in production) */
};

/* Defaults: k = DISCLOSURE_MIN_K, no override. */
void disclosure_params_init(struct disclosure_params *dp);

/*
 * 0, or -IZA_ECONFIG (k < 10 without test_override, or k < 1 at all) with
 * err saying why.  -IZA_EUSAGE when dp is NULL.
 */
int disclosure_check_params(const struct disclosure_params *dp,
			    struct iza_error *err);

/*
 * Apply to every cell and stratum in r (in place).  Fails closed: invalid
 * params are treated as k = DISCLOSURE_MIN_K (or 1 with the override).
 *
 * After this call a cell is in exactly one of three states:
 *   released    has_value, suppressed == false, reason "";
 *   suppressed  suppressed == true, has_* false, every count/value field 0,
 *               reason a fixed text per kind ("fewer than k=10 persons"),
 *               never a count (zero cells get the same text);
 *   no value    has_value == false, suppressed == false, reason says why
 *               (set by the engine; "not computable" if it left it empty);
 *               its counts are cleared too, so nothing is released for it.
 * Kept in every state: baseline_year, pop_* (public population figures).
 */
void disclosure_apply(const struct disclosure_params *dp,
		      struct kpi_results *r);

/* Suppress one cell: clear every number, set suppressed and the reason
 * (a rule id or fixed text, never a count).  For release.c. */
void disclosure_suppress(struct kpi_cell *c, const char *why);

/* Apply the rule for `kind` to one cell (what disclosure_apply does for each
 * cell and stratum); fails closed like disclosure_apply. */
void disclosure_apply_cell(const struct disclosure_params *dp,
			   enum kpi_kind kind, struct kpi_cell *c);

#endif
