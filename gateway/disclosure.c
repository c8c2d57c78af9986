/*
 * disclosure.c - the minimum-cell-size rule (see disclosure.h and
 * docs/privacy-model.md).
 *
 * Decisions:
 *  - The rule looks only at the numbers; it never trusts a "looks safe" flag
 *    from the engine.  A kind it does not know is suppressed (fail closed).
 *  - The reason text is fixed per kind and names only k, never which side
 *    failed nor a count: "numerator fails" vs "complement fails" would tell
 *    whether a share is near 0% or near 100%, and a separate zero-cell text
 *    would tell the count is 0.
 *  - Suppression clears every count-like field of the cell (value,
 *    numerator, denominator, persons, den/rest persons, baseline, baseline
 *    persons, expected), so no later writer can leak them by mistake.
 */
#include "disclosure.h"

#include "lin_audit.h"

#include <stdio.h>
#include <string.h>

void disclosure_params_init(struct disclosure_params *dp)
{
	if (!dp)
		return;
	memset(dp, 0, sizeof(*dp));
	dp->k = DISCLOSURE_MIN_K;
	dp->test_override = false;
	dp->provider_rule = true;
	dp->provider_min = DISCLOSURE_PROVIDER_MIN;
	dp->provider_dominance = DISCLOSURE_PROVIDER_DOMINANCE;
	dp->provider_nk = DISCLOSURE_PROVIDER_NK;
	dp->provider_p = DISCLOSURE_PROVIDER_P;
	dp->consent = NULL;
}

int disclosure_check_params(const struct disclosure_params *dp,
			    struct iza_error *err)
{
	if (!dp)
		return iza_error_set(err, -IZA_EUSAGE, NULL, 0, "disclosure",
				     "no disclosure parameters given");
	if (dp->k < 1)
		return iza_error_set(
		    err, -IZA_ECONFIG, NULL, 0, "disclosure.k",
		    "minimum cell size k=%d must be at least 1", dp->k);
	if (dp->k < DISCLOSURE_MIN_K && !dp->test_override)
		return iza_error_set(
		    err, -IZA_ECONFIG, NULL, 0, "disclosure.k",
		    "minimum cell size k=%d is below the floor of %d "
		    "persons; smaller k is allowed only with the test-only "
		    "override, never for a release",
		    dp->k, DISCLOSURE_MIN_K);
	if (dp->test_override)
		return 0;
	if (!dp->provider_rule)
		return iza_error_set(err, -IZA_ECONFIG, NULL, 0,
				     "provider_rule",
				     "the provider rule can be switched off "
				     "only with the test-only override");
	if (dp->provider_min < DISCLOSURE_PROVIDER_MIN ||
	    dp->provider_dominance > DISCLOSURE_PROVIDER_DOMINANCE ||
	    dp->provider_nk > DISCLOSURE_PROVIDER_NK ||
	    dp->provider_p < DISCLOSURE_PROVIDER_P)
		return iza_error_set(
		    err, -IZA_ECONFIG, NULL, 0, "provider_*",
		    "the provider rule is weaker than its floor (at least %d "
		    "providers, dominance at most %.2f, (2, %.2f), p at least "
		    "%.0f %%); weaker only with the test-only override",
		    DISCLOSURE_PROVIDER_MIN, DISCLOSURE_PROVIDER_DOMINANCE,
		    DISCLOSURE_PROVIDER_NK, DISCLOSURE_PROVIDER_P);
	return 0;
}

static bool consented(const struct disclosure_params *dp, const char *id)
{
	size_t i;

	if (!id[0] || !dp->consent)
		return false;
	for (i = 0; dp->consent[i]; i++)
		if (strcmp(dp->consent[i], id) == 0)
			return true;
	return false;
}

/* The provider rule (disclosure.h).  Fails closed: parameters weaker than
 * the floor count as the floor unless test_override is set, and a cell with
 * too many providers to track fails. */
static bool provider_passes(const struct disclosure_params *dp,
			    enum kpi_kind kind, const struct kpi_cell *c)
{
	struct disclosure_params e;
	bool need[2] = {false, false};
	int64_t total = c->prov_total, x1 = c->prov_top[0], x2 = c->prov_top[1];

	disclosure_params_init(&e);
	if (dp) {
		e = *dp;
		if (!dp->test_override) {
			e.provider_rule = true;
			if (e.provider_min < DISCLOSURE_PROVIDER_MIN)
				e.provider_min = DISCLOSURE_PROVIDER_MIN;
			if (!(e.provider_dominance <=
			      DISCLOSURE_PROVIDER_DOMINANCE))
				e.provider_dominance =
				    DISCLOSURE_PROVIDER_DOMINANCE;
			if (!(e.provider_nk <= DISCLOSURE_PROVIDER_NK))
				e.provider_nk = DISCLOSURE_PROVIDER_NK;
			if (!(e.provider_p >= DISCLOSURE_PROVIDER_P))
				e.provider_p = DISCLOSURE_PROVIDER_P;
		}
	}
	if (!e.provider_rule)
		return true;
	if (c->nproviders < 0)
		return false;
	if (c->nproviders == 0 || total <= 0)
		return true; /* no contribution: the k rule decides */
	if (c->nproviders < e.provider_min) {
		if (c->nproviders > 2)
			return false; /* more contributors than named ones */
		need[0] = true;
		need[1] = c->nproviders == 2;
	}
	if ((double)x1 > e.provider_dominance * (double)total)
		need[0] = true;
	if (kind == KPI_BED_DAYS) {
		if ((double)(x1 + x2) > e.provider_nk * (double)total) {
			need[0] = true;
			need[1] = need[1] || x2 > 0;
		}
		if ((double)(total - x1 - x2) <
		    e.provider_p / 100.0 * (double)x1)
			need[0] = true;
	}
	return (!need[0] || consented(&e, c->prov_top_id[0])) &&
	       (!need[1] || consented(&e, c->prov_top_id[1]));
}

/* The k actually used: invalid parameters fail closed to the floor. */
static int effective_k(const struct disclosure_params *dp)
{
	if (!dp)
		return DISCLOSURE_MIN_K;
	if (dp->test_override)
		return dp->k < 1 ? 1 : dp->k;
	return dp->k < DISCLOSURE_MIN_K ? DISCLOSURE_MIN_K : dp->k;
}

/* Remove every released number from c; keeps baseline_year and pop_*. */
static void clear_numbers(struct kpi_cell *c)
{
	c->has_value = false;
	c->value = 0.0;
	c->has_numerator = false;
	c->has_denominator = false;
	c->numerator = 0;
	c->denominator = 0;
	c->persons = 0;
	c->den_persons = 0;
	c->rest_persons = 0;
	c->baseline = 0;
	c->baseline_persons = 0;
	c->expected = 0.0;
	c->nproviders = 0;
	c->prov_total = 0;
	c->prov_top[0] = c->prov_top[1] = 0;
	memset(c->prov_top_id, 0, sizeof(c->prov_top_id));
}

static void suppress(struct kpi_cell *c, const char *what, int k)
{
	clear_numbers(c);
	c->suppressed = true;
	snprintf(c->rule, sizeof(c->rule), "%s", RULE_MIN_K);
	snprintf(c->reason, sizeof(c->reason), "%sfewer than k=%d persons",
		 what, k);
}

static void suppress_unknown(struct kpi_cell *c)
{
	clear_numbers(c);
	c->suppressed = true;
	snprintf(c->rule, sizeof(c->rule), "%s", RULE_UNKNOWN_KIND);
	snprintf(c->reason, sizeof(c->reason), "unknown KPI kind");
}

/* true when the cell passes the rule for its kind */
static bool cell_passes(enum kpi_kind kind, const struct kpi_cell *c, int k,
			const char **what)
{
	switch (kind) {
	case KPI_COUNT:
	case KPI_DISTINCT:
	case KPI_BED_DAYS:
		*what = "";
		return c->persons >= k;
	case KPI_SHARE:
		*what = "numerator or complement: ";
		if (!c->has_numerator || !c->has_denominator)
			return false;
		if (c->persons < k || c->rest_persons < k)
			return false;
		if (c->numerator < k || c->denominator < c->numerator ||
		    c->denominator - c->numerator < k)
			return false;
		return true;
	case KPI_AVOIDED:
		*what = "observed or baseline cell: ";
		return c->persons >= k && c->baseline_persons >= k;
	}
	*what = "";
	return false;
}

void disclosure_apply_cell(const struct disclosure_params *dp,
			   enum kpi_kind kind, struct kpi_cell *c)
{
	int k = effective_k(dp);
	const char *what = "";

	if (!c)
		return;
	if (c->suppressed) {
		/* already suppressed (e.g. applied twice): keep it so, and make
		 * sure nothing is left */
		clear_numbers(c);
		if (!c->reason[0])
			snprintf(c->reason, sizeof(c->reason),
				 "suppressed by disclosure control");
		return;
	}
	if (!c->has_value) {
		/* nothing to release; the engine's reason says why */
		clear_numbers(c);
		if (!c->reason[0])
			snprintf(c->reason, sizeof(c->reason),
				 "not computable");
		return;
	}
	/* persons == 0 (a zero cell) always fails: k >= 1 */
	if (!cell_passes(kind, c, k, &what)) {
		suppress(c, what, k);
		return;
	}
	if (!provider_passes(dp, kind, c)) {
		disclosure_suppress(c, RULE_PROVIDER,
				    "provider rule: would reveal one "
				    "organisation's figures (no consent)");
		return;
	}
	c->reason[0] = '\0';
	c->rule[0] = '\0';
}

void disclosure_suppress(struct kpi_cell *c, const char *rule, const char *why)
{
	if (!c)
		return;
	clear_numbers(c);
	c->held_release = 0;
	c->suppressed = true;
	snprintf(c->rule, sizeof(c->rule), "%s", rule ? rule : "");
	snprintf(c->reason, sizeof(c->reason), "%s",
		 why && why[0] ? why : "suppressed by disclosure control");
}

/*
 * Secondary suppression of one KPI value and its strata.  The strata of one
 * stratifier add up to the total (every event falls in exactly one stratum,
 * "unknown" included; for a share both the numerator and the denominator
 * do), so an attacker who sees the released cells can solve for suppressed
 * ones.  Three steps:
 *   1. a total that is not released takes its strata with it (for counts and
 *      shares consistent data cannot release a stratum then anyway; this
 *      keeps it so for any data);
 *   2. the union rule (union_rule above);
 *   3. the exact linear audit (lin_audit.h) over total = sum(strata) for
 *      every stratifier, with complementary suppression of the cheapest
 *      released cells (fewest persons) until no suppressed cell is
 *      determined.  Assuming additivity where it may not hold exactly
 *      (distinct persons) only makes the audit stricter.
 * If the audit cannot run (out of memory, arithmetic beyond 64 bits, no
 * cell left to suppress), every cell of the value is suppressed.
 */
struct persons {
	int64_t persons, rest; /* a stratum's persons and, for a share, the
				  persons of its complement */
};

/*
 * The union rule: the suppressed strata of one stratifier add up to the
 * total minus the released ones, which an attacker can compute, so together
 * they must rest on at least k persons (and, for a share, k on the
 * complement side too); while they do not, the released stratum with the
 * fewest persons joins them.
 */
/* A released structural zero: known to be 0 whatever is released, so
 * suppressing it would hide nothing. */
static bool structural(const struct kpi_value *v, size_t j)
{
	const struct kpi_stratum *s = &v->strata[j];

	return !s->cell.suppressed && s->cell.has_value &&
	       s->cell.numerator == 0 &&
	       kpi_structural_zero(v->def, s->stratifier, s->value);
}

static void union_rule(struct kpi_value *v, const struct persons *pp,
		       enum kpi_kind kind, int k)
{
	size_t j, i;

	for (j = 0; j < v->nstrata; j++) {
		const char *name = v->strata[j].stratifier;

		for (i = 0; i < j; i++)
			if (strcmp(v->strata[i].stratifier, name) == 0)
				break;
		if (i < j)
			continue; /* each stratifier once */
		for (;;) {
			int64_t sp = 0, sr = 0;
			size_t nsup = 0;
			struct kpi_cell *smallest = NULL;
			int64_t smallest_p = 0;

			for (i = j; i < v->nstrata; i++) {
				struct kpi_cell *c = &v->strata[i].cell;

				if (strcmp(v->strata[i].stratifier, name) != 0)
					continue;
				if (c->suppressed || !c->has_value) {
					nsup++;
					sp += pp[i].persons;
					sr += pp[i].rest;
				} else if (structural(v, i)) {
					continue; /* known to be 0 anyway */
				} else if (!smallest ||
					   c->persons < smallest_p) {
					smallest = c;
					smallest_p = c->persons;
				}
			}
			if (nsup == 0 || !smallest ||
			    (sp >= k && (kind != KPI_SHARE || sr >= k)))
				break;
			disclosure_suppress(smallest, RULE_UNION,
					    "secondary: would reveal a "
					    "suppressed stratum");
		}
	}
}

int disclosure_strata_sums(struct lin_audit *a, const struct kpi_value *v,
			   const int *idx)
{
	int parts[KPI_MAX_STRATA];
	size_t j, i;
	int rc = 0;

	if (v->nstrata > KPI_MAX_STRATA)
		return -IZA_ETOOBIG;
	/* one sum per stratifier, at its first stratum */
	for (j = 0; j < v->nstrata && rc == 0; j++) {
		const char *name = v->strata[j].stratifier;
		size_t n = 0;

		for (i = 0; i < j; i++)
			if (strcmp(v->strata[i].stratifier, name) == 0)
				break;
		if (i < j)
			continue;
		for (i = j; i < v->nstrata; i++)
			if (strcmp(v->strata[i].stratifier, name) == 0)
				parts[n++] = idx[i + 1];
		rc = lin_audit_sum(a, idx[0], parts, n);
	}
	return rc;
}

static void secondary_suppress(struct kpi_value *v, const struct persons *pp,
			       enum kpi_kind kind, int min_k)
{
	struct lin_audit *a = NULL;
	int idx[KPI_MAX_STRATA + 1];
	bool added[KPI_MAX_STRATA + 1];
	size_t j;
	int rc;

	if (v->nstrata == 0)
		return;
	if (v->cell.suppressed || !v->cell.has_value) {
		for (j = 0; j < v->nstrata; j++)
			if (!v->strata[j].cell.suppressed)
				disclosure_suppress(
				    &v->strata[j].cell, RULE_TOTAL,
				    "secondary: the total is suppressed");
		return;
	}
	if (v->nstrata <= KPI_MAX_STRATA)
		union_rule(v, pp, kind, min_k);
	rc = v->nstrata > KPI_MAX_STRATA ? -IZA_ETOOBIG : lin_audit_new(&a);
	if (rc == 0) {
		for (j = 0; j <= v->nstrata && rc >= 0; j++) {
			const struct kpi_cell *c =
			    j == 0 ? &v->cell : &v->strata[j - 1].cell;

			rc = lin_audit_cell(
			    a,
			    c->suppressed || !c->has_value ? LIN_SUPPRESSED
							   : LIN_RELEASED,
			    c->persons, j > 0 && structural(v, j - 1));
			idx[j] = rc;
		}
	}
	if (rc >= 0)
		rc = disclosure_strata_sums(a, v, idx);
	if (rc >= 0)
		rc = lin_audit_protect(a, added);
	lin_audit_free(a);
	if (rc < 0) {
		disclosure_suppress(&v->cell, RULE_AUDIT_FAILED,
				    "secondary: audit failed");
		for (j = 0; j < v->nstrata; j++)
			if (!v->strata[j].cell.suppressed)
				disclosure_suppress(&v->strata[j].cell,
						    RULE_AUDIT_FAILED,
						    "secondary: audit failed");
		return;
	}
	if (added[0])
		disclosure_suppress(
		    &v->cell, RULE_AUDIT,
		    "secondary: would reveal a suppressed stratum");
	for (j = 0; j < v->nstrata; j++)
		if (added[j + 1])
			disclosure_suppress(
			    &v->strata[j].cell, RULE_AUDIT,
			    "secondary: would reveal a suppressed stratum");
}

void disclosure_apply(const struct disclosure_params *dp, struct kpi_results *r)
{
	size_t i, j;

	if (!r)
		return;
	for (i = 0; i < r->n; i++) {
		struct kpi_value *v = &r->values[i];

		if (!v->def) {
			/* no definition, so no rule: fail closed */
			suppress_unknown(&v->cell);
			for (j = 0; j < v->nstrata; j++)
				suppress_unknown(&v->strata[j].cell);
			continue;
		}
		{
			/* persons of each stratum before the primary rule
			 * clears them: the union rule needs them */
			struct persons pp[KPI_MAX_STRATA];

			for (j = 0; j < v->nstrata && j < KPI_MAX_STRATA; j++) {
				pp[j].persons = v->strata[j].cell.persons;
				pp[j].rest = v->strata[j].cell.rest_persons;
			}
			disclosure_apply_cell(dp, v->def->kind, &v->cell);
			for (j = 0; j < v->nstrata; j++) {
				struct kpi_stratum *s = &v->strata[j];

				/* a zero by definition is no person's
				 * figure: released as 0 */
				if (s->cell.has_value && !s->cell.suppressed &&
				    s->cell.numerator == 0 &&
				    s->cell.persons == 0 &&
				    kpi_structural_zero(v->def, s->stratifier,
							s->value)) {
					s->cell.reason[0] = '\0';
					s->cell.rule[0] = '\0';
					continue;
				}
				disclosure_apply_cell(dp, v->def->kind,
						      &s->cell);
			}
			secondary_suppress(v, pp, v->def->kind,
					   effective_k(dp));
		}
	}
}
