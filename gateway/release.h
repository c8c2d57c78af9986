/*
 * release.h - release control across releases and linked periods: what the
 * release ledger (ledger.h) says was published before decides what may be
 * published now.  Runs on every result after disclosure_apply(), before any
 * output (docs/privacy-model.md, "Re-releases" and "Linked periods").
 *
 *   Re-release rule   a cell released before whose numbers changed (late or
 *                     corrected records) publishes the new numbers only if
 *                     the change itself passes the minimum rule: the count
 *                     (and a share's denominator) moved by 0 or at least k,
 *                     and the persons behind it by at least k.  Otherwise
 *                     the earlier release's numbers stand, and the cell says
 *                     so (kpi_cell.held_release).
 *   Linked periods    the year of the period is one grid: year = sum of its
 *                     quarters, quarter = sum of its months, for the total
 *                     and for every stratum, and total = sum of strata in
 *                     every period.  Published cells of the other periods
 *                     (the ledger's latest release of each) are known and
 *                     locked; cells they suppressed are sensitive unknowns;
 *                     periods never released are unknowns whose exposure does
 *                     not matter yet.  The exact audit (lin_audit.h) then
 *                     suppresses released cells of this release, cheapest
 *                     first, until no sensitive cell can be solved for.
 *                     Distinct-person KPIs are not additive over time and
 *                     are left out of the period grid.
 *   Noise             a KPI with "dp" gets discrete Laplace noise
 *                     (dp_noise.h) on every released cell: scale
 *                     bound x (1 + stratifiers) / epsilon, since one person
 *                     is in the total and in one stratum per stratifier;
 *                     counts below 0 become 0.  The stream's seed is the
 *                     cell and its true count, so asking again gives the same
 *                     value; only new data gives new noise, and each release
 *                     that publishes new noisy values spends epsilon from the
 *                     privacy budget (release_epsilon).  The re-release rule
 *                     does not apply to noisy cells.
 */
#ifndef IZA_RELEASE_H
#define IZA_RELEASE_H

#include <stddef.h>

#include "iza_error.h"
#include "kpi.h"
#include "ledger.h"
#include "pseudo.h"

/*
 * Apply both rules to r in place (k: the minimum cell size in force).
 * l may be NULL: nothing was released before.  ps (the region key) is
 * needed when a KPI has "dp"; without it such cells are suppressed.  0 or
 * a negative code (ledger errors); on an error the caller must not release
 * r.
 */
int release_apply(struct ledger *l, struct pseudo *ps, struct kpi_results *r,
		  int k, struct iza_error *err);

/* The privacy loss (epsilon x 1000) releasing r spends: the sum over its
 * noisy KPIs whose published numbers differ from the ledger's latest
 * release of the period (l may be NULL: all of them).  0 or a negative
 * code. */
int release_epsilon(struct ledger *l, const struct kpi_results *r,
		    int64_t *milli, struct iza_error *err);

/*
 * Rounding, applied last, after every rule and the ledger (which keeps the
 * exact numbers): every published count of a released cell to the nearest
 * multiple of base (halves up); a share's value and an avoided value are
 * recomputed from the rounded counts, so no exact count can be read back
 * from them.  base 0 or 1: nothing.  Sets r->rounding.
 */
void release_round(struct kpi_results *r, int base);

/* The cells of r (every KPI total and stratum) as ledger cells, for
 * ledger_append(): a heap array (caller frees) of *n cells. */
int release_cells(const struct kpi_results *r, struct ledger_cell **out,
		  size_t *n);

#endif
