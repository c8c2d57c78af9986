/*
 * release.c - the re-release rule and the linked-period audit (contract in
 * release.h).
 *
 * Decisions:
 *  - The ledger's latest release of a cell is what the world knows of it; a
 *    held value is recorded again by the next release, so a change is always
 *    measured against what is actually published, and small changes add up
 *    until they pass the rule together.
 *  - The change rule is on the counts the cell publishes and the persons
 *    behind them, the same quantities the minimum rule looks at: a late ER
 *    visit (+1 visit, +1 person) must not show up as a difference of 1.
 *  - The period grid is the calendar year of the release: the grid is
 *    fixed (months, quarters, years never overlap otherwise), so a cell is
 *    linked to at most 16 others per key.
 */
#include "release.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disclosure.h"
#include "dp_noise.h"
#include "lin_audit.h"

#define GRID_PERIODS 17 /* a year, its 4 quarters, its 12 months */

static bool is_released(const struct kpi_cell *c)
{
	return !c->suppressed && c->has_value;
}

static struct kpi_cell *cell_at(struct kpi_value *v, size_t j,
				const char **stratifier, const char **stratum)
{
	if (j == 0) {
		*stratifier = *stratum = "";
		return &v->cell;
	}
	*stratifier = v->strata[j - 1].stratifier;
	*stratum = v->strata[j - 1].value;
	return &v->strata[j - 1].cell;
}

static int64_t dist(int64_t a, int64_t b)
{
	return a > b ? a - b : b - a;
}

static bool same_numbers(const struct kpi_cell *c, const struct ledger_cell *p)
{
	return c->has_value == p->has_value && c->value == p->value &&
	       c->has_numerator == p->has_numerator &&
	       (!c->has_numerator || c->numerator == p->numerator) &&
	       c->has_denominator == p->has_denominator &&
	       (!c->has_denominator || c->denominator == p->denominator);
}

/*
 * Does the change from p to c itself pass the minimum rule?  Each side that
 * changed (the count; for a share also its complement, denominator minus
 * numerator) must have moved by at least k and the persons behind it by at
 * least k.  A side that did not change reveals nothing.
 */
static bool change_passes(enum kpi_kind kind, const struct kpi_cell *c,
			  const struct ledger_cell *p, int k)
{
	int64_t dn = dist(c->numerator, p->numerator);
	int64_t dr =
	    dist(c->denominator - c->numerator, p->denominator - p->numerator);

	if (dn != 0 && (dn < k || dist(c->persons, p->persons) < k))
		return false;
	if (kind == KPI_SHARE && dr != 0 &&
	    (dr < k || dist(c->rest_persons, p->rest_persons) < k))
		return false;
	return true;
}

static void hold(struct kpi_cell *c, enum kpi_kind kind,
		 const struct ledger_cell *p, int k)
{
	c->has_value = p->has_value;
	c->value = p->value;
	c->has_numerator = p->has_numerator;
	c->numerator = p->numerator;
	c->has_denominator = p->has_denominator;
	c->denominator = p->denominator;
	c->persons = p->persons;
	c->rest_persons = p->rest_persons;
	c->den_persons = p->persons + p->rest_persons;
	if (kind == KPI_AVOIDED)
		c->expected = p->value + (double)p->numerator;
	c->held_release = p->release;
	snprintf(c->rule, sizeof(c->rule), "%s", RULE_HELD);
	snprintf(c->reason, sizeof(c->reason),
		 "release %" PRId64 " stands: the change rests on fewer than "
		 "k=%d persons",
		 p->release, k);
}

static int rerelease(struct ledger *l, const char *period, struct kpi_value *v,
		     int k, struct iza_error *err)
{
	size_t j;

	for (j = 0; j <= v->nstrata; j++) {
		const char *sf, *sv;
		struct kpi_cell *c = cell_at(v, j, &sf, &sv);
		struct ledger_cell p;
		int rc;

		if (!is_released(c))
			continue;
		rc = ledger_find(l, v->def->id, period, sf, sv, &p, err);
		if (rc < 0)
			return rc;
		if (rc == 0 || !p.released || same_numbers(c, &p) ||
		    change_passes(v->def->kind, c, &p, k))
			continue;
		hold(c, v->def->kind, &p, k);
	}
	return 0;
}

/* The calendar year around p: grid[0] the year, [1..4] its quarters,
 * [5..16] its months. */
static void year_grid(const struct period *p, struct period grid[17])
{
	int i;

	period_make(PERIOD_YEAR, p->year, 0, &grid[0]);
	for (i = 1; i <= 4; i++)
		period_make(PERIOD_QUARTER, p->year, i, &grid[i]);
	for (i = 1; i <= 12; i++)
		period_make(PERIOD_MONTH, p->year, i, &grid[4 + i]);
}

static int grid_audit(struct ledger *l, const struct period *cur,
		      struct kpi_value *v, struct iza_error *err)
{
	int idx[GRID_PERIODS][KPI_MAX_STRATA + 1];
	struct period grid[GRID_PERIODS];
	bool added[GRID_PERIODS * (KPI_MAX_STRATA + 1)];
	struct lin_audit *a = NULL;
	int here = -1, g, q, m, rc;
	size_t j, nkeys = v->nstrata + 1;

	if (v->nstrata > KPI_MAX_STRATA)
		return -IZA_ETOOBIG;
	year_grid(cur, grid);
	for (g = 0; g < GRID_PERIODS; g++)
		if (strcmp(grid[g].label, cur->label) == 0)
			here = g;
	if (here < 0)
		return 0;
	rc = lin_audit_new(&a);
	for (g = 0; g < GRID_PERIODS && rc >= 0; g++) {
		for (j = 0; j < nkeys && rc >= 0; j++) {
			const char *sf, *sv;
			struct kpi_cell *c = cell_at(v, j, &sf, &sv);
			struct ledger_cell p;

			if (g == here) {
				rc = lin_audit_cell(a,
						    is_released(c)
							? LIN_RELEASED
							: LIN_SUPPRESSED,
						    c->persons, false);
			} else {
				rc = ledger_find(l, v->def->id, grid[g].label,
						 sf, sv, &p, err);
				if (rc >= 0)
					rc = lin_audit_cell(
					    a,
					    rc == 0	 ? LIN_UNKNOWN
					    : p.released ? LIN_RELEASED
							 : LIN_SUPPRESSED,
					    0, true);
			}
			idx[g][j] = rc;
		}
	}
	for (g = 0; g < GRID_PERIODS && rc >= 0; g++)
		rc = disclosure_strata_sums(a, v, idx[g]);
	for (j = 0; j < nkeys && rc >= 0; j++) {
		int qs[4], ms[3];

		for (q = 0; q < 4; q++)
			qs[q] = idx[1 + q][j];
		rc = lin_audit_sum(a, idx[0][j], qs, 4);
		for (q = 0; q < 4 && rc >= 0; q++) {
			for (m = 0; m < 3; m++)
				ms[m] = idx[5 + 3 * q + m][j];
			rc = lin_audit_sum(a, idx[1 + q][j], ms, 3);
		}
	}
	if (rc >= 0)
		rc = lin_audit_protect(a, added);
	lin_audit_free(a);
	if (rc == -IZA_ENOMEM || rc == -IZA_ESTORE)
		return rc;
	for (j = 0; j < nkeys; j++) {
		const char *sf, *sv;
		struct kpi_cell *c = cell_at(v, j, &sf, &sv);

		if (rc < 0 && is_released(c))
			disclosure_suppress(c, RULE_AUDIT_FAILED,
					    "secondary: linked periods, "
					    "audit failed");
		else if (rc >= 0 && added[here * (int)nkeys + (int)j])
			disclosure_suppress(c, RULE_LINKED,
					    "secondary: would reveal a "
					    "suppressed cell of a linked "
					    "period");
	}
	return 0;
}

/* Distinct stratifiers of v: a person is in the total and in one stratum
 * of each. */
static int64_t cells_per_person(const struct kpi_value *v)
{
	int64_t n = 1;
	size_t j, i;

	for (j = 0; j < v->nstrata; j++) {
		for (i = 0; i < j; i++)
			if (strcmp(v->strata[i].stratifier,
				   v->strata[j].stratifier) == 0)
				break;
		if (i == j)
			n++;
	}
	return n;
}

static void add_noise(struct pseudo *ps, const char *period,
		      struct kpi_value *v)
{
	const struct kpi_def *d = v->def;
	int64_t parts = cells_per_person(v);
	uint64_t t = (uint64_t)d->dp_bound * 1000u * (uint64_t)parts;
	size_t j;

	for (j = 0; j <= v->nstrata; j++) {
		const char *sf, *sv;
		struct kpi_cell *c = cell_at(v, j, &sf, &sv);
		struct dp_rng rng;
		char seed[200];
		int64_t noise = 0;
		int rc;

		if (!is_released(c) || c->noised)
			continue;
		snprintf(seed, sizeof(seed), "%s|%s|%s|%s|%" PRId64, d->id,
			 period, sf, sv, c->numerator);
		dp_rng_init(&rng, ps, seed);
		rc = ps ? dp_discrete_laplace(
			      &rng, t, (uint64_t)d->dp_epsilon_milli, &noise)
			: -IZA_EUSAGE;
		if (rc) {
			disclosure_suppress(c, RULE_AUDIT_FAILED,
					    "noise could not be drawn");
			continue;
		}
		c->numerator =
		    c->numerator + noise < 0 ? 0 : c->numerator + noise;
		c->value = (double)c->numerator;
		c->noised = true;
	}
}

int release_apply(struct ledger *l, struct pseudo *ps, struct kpi_results *r,
		  int k, struct iza_error *err)
{
	size_t i;
	int rc;

	if (!r)
		return -IZA_EUSAGE;
	for (i = 0; i < r->n; i++) {
		struct kpi_value *v = &r->values[i];
		bool dp;

		if (!v->def)
			continue;
		dp = v->def->dp_epsilon_milli > 0;
		rc = 0;
		if (l && !dp)
			rc = rerelease(l, r->period.label, v, k, err);
		if (rc == 0 && l && v->def->kind != KPI_DISTINCT)
			rc = grid_audit(l, &r->period, v, err);
		if (rc)
			return rc;
		if (dp)
			add_noise(ps, r->period.label, v);
	}
	return 0;
}

int release_epsilon(struct ledger *l, const struct kpi_results *r,
		    int64_t *milli, struct iza_error *err)
{
	int64_t total = 0;
	size_t i, j;

	if (!r || !milli)
		return -IZA_EUSAGE;
	for (i = 0; i < r->n; i++) {
		struct kpi_value *v = &r->values[i];
		bool changed = false;

		if (!v->def || v->def->dp_epsilon_milli <= 0)
			continue;
		for (j = 0; j <= v->nstrata && !changed; j++) {
			const char *sf, *sv;
			const struct kpi_cell *c = cell_at(v, j, &sf, &sv);
			struct ledger_cell p;
			int rc = l ? ledger_find(l, v->def->id, r->period.label,
						 sf, sv, &p, err)
				   : 0;

			if (rc < 0)
				return rc;
			if (!is_released(c))
				changed = changed || (rc == 1 && p.released);
			else
				changed = rc == 0 || !p.released ||
					  !same_numbers(c, &p);
		}
		if (changed)
			total += v->def->dp_epsilon_milli;
	}
	*milli = total;
	return 0;
}

static int64_t round_to(int64_t x, int64_t base)
{
	int64_t q = (x + base / 2) / base;

	return x < 0 ? -round_to(-x, base) : q * base;
}

void release_round(struct kpi_results *r, int base)
{
	size_t i, j;

	if (!r || base <= 1)
		return;
	r->rounding = base;
	for (i = 0; i < r->n; i++) {
		struct kpi_value *v = &r->values[i];

		if (!v->def)
			continue;
		for (j = 0; j <= v->nstrata; j++) {
			const char *sf, *sv;
			struct kpi_cell *c = cell_at(v, j, &sf, &sv);

			if (!is_released(c))
				continue;
			if (c->has_numerator)
				c->numerator = round_to(c->numerator, base);
			if (c->has_denominator)
				c->denominator = round_to(c->denominator, base);
			switch (v->def->kind) {
			case KPI_SHARE:
				c->value = c->denominator > 0
					       ? (double)c->numerator /
						     (double)c->denominator
					       : 0.0;
				break;
			case KPI_AVOIDED:
				c->expected = (double)c->denominator;
				c->value = c->expected - (double)c->numerator;
				break;
			default:
				c->value = (double)c->numerator;
			}
		}
	}
}

int release_cells(const struct kpi_results *r, struct ledger_cell **out,
		  size_t *n)
{
	struct ledger_cell *cells;
	size_t i, j, total = 0, k = 0;

	if (!r || !out || !n)
		return -IZA_EUSAGE;
	for (i = 0; i < r->n; i++)
		if (r->values[i].def)
			total += 1 + r->values[i].nstrata;
	cells = calloc(total + 1, sizeof(*cells));
	if (!cells)
		return -IZA_ENOMEM;
	for (i = 0; i < r->n; i++) {
		struct kpi_value *v = &r->values[i];

		if (!v->def)
			continue;
		for (j = 0; j <= v->nstrata; j++) {
			const char *sf, *sv;
			const struct kpi_cell *c = cell_at(v, j, &sf, &sv);
			struct ledger_cell *lc = &cells[k++];

			snprintf(lc->kpi, sizeof(lc->kpi), "%s", v->def->id);
			snprintf(lc->period, sizeof(lc->period), "%s",
				 r->period.label);
			snprintf(lc->stratifier, sizeof(lc->stratifier), "%s",
				 sf);
			snprintf(lc->stratum, sizeof(lc->stratum), "%s", sv);
			lc->released = is_released(c);
			if (!lc->released)
				continue;
			lc->has_value = c->has_value;
			lc->value = c->value;
			lc->has_numerator = c->has_numerator;
			lc->numerator = c->numerator;
			lc->has_denominator = c->has_denominator;
			lc->denominator = c->denominator;
			lc->persons = c->persons;
			lc->rest_persons = c->rest_persons;
		}
	}
	*out = cells;
	*n = k;
	return 0;
}
