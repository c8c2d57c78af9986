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

int disclosure_check_params(const struct disclosure_params *dp,
			    struct iza_error *err);

/* Apply to every cell and stratum in r (in place). */
void disclosure_apply(const struct disclosure_params *dp,
		      struct kpi_results *r);

#endif
