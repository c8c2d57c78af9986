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
/* The rule set a release went through, named in every MeasureReport
 * (docs/privacy-model.md lists what each version means). */
#define DISCLOSURE_RULES "iza-disclosure/1"
/* Provider rule defaults, also the weakest allowed outside test_override. */
#define DISCLOSURE_PROVIDER_MIN	      3
#define DISCLOSURE_PROVIDER_DOMINANCE 0.80
#define DISCLOSURE_PROVIDER_NK	      0.85
#define DISCLOSURE_PROVIDER_P	      10.0

/*
 * Provider rule (the monitoring holds no business-sensitive data): a cell
 * to which fewer than provider_min providers contribute, or in which one
 * provider supplies more than provider_dominance of the cell, reveals that
 * organisation's own figures; magnitude KPIs (bed days) also fail when the
 * two largest supply more than provider_nk ((n, k) = (2, 85 %)) or when
 * the total minus the two largest is below provider_p percent of the
 * largest (the second could estimate the first within p %).  Such a cell
 * is released only if every provider it would reveal is in `consent` (an
 * organisation party to the plan that agreed); an unknown provider ("")
 * can never consent.  Contributions are the cell's own unit: events, bed
 * days (kpi_cell.prov_*).
 */
struct disclosure_params {
	int k;
	bool test_override; /* allow k < 10 and a weaker or no provider rule
			       (tests only; never in production) */
	bool provider_rule;
	int provider_min;
	double provider_dominance, provider_nk, provider_p;
	const char *const *consent; /* NULL-terminated AGB codes, or NULL */
};

/* Defaults: k = DISCLOSURE_MIN_K, the provider rule at its defaults with no
 * consent, no override. */
void disclosure_params_init(struct disclosure_params *dp);

/*
 * 0, or -IZA_ECONFIG (k < 10 or a provider rule weaker than the defaults
 * without test_override, or k < 1 at all) with err saying why.
 * -IZA_EUSAGE when dp is NULL.
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

/* Rule ids (kpi_cell.rule; `rule` in the kpis JSON): what suppressed a
 * cell, or held its earlier value.  Never a count. */
#define RULE_MIN_K	  "min-k"	    /* fewer than k persons */
#define RULE_PROVIDER	  "provider"	    /* would reveal an organisation */
#define RULE_UNKNOWN_KIND "unknown-kind"    /* no rule for the KPI kind */
#define RULE_TOTAL	  "secondary-total" /* its total is suppressed */
#define RULE_UNION	  "secondary-union" /* suppressed strata < k */
#define RULE_AUDIT	  "secondary-audit" /* linear audit of strata */
#define RULE_LINKED	  "linked-periods"  /* audit of the year grid */
#define RULE_AUDIT_FAILED "audit-failed"    /* audit could not run */
#define RULE_HELD	  "re-release"	    /* earlier value stands */

/* Suppress one cell: clear every number, set suppressed, the rule id and
 * the reason (fixed text, never a count).  For release.c. */
void disclosure_suppress(struct kpi_cell *c, const char *rule, const char *why);

struct lin_audit;
/* Declare total = sum(strata) for each stratifier of v in a: idx[0] is the
 * audit cell of v's total, idx[1 + j] that of stratum j.  For release.c's
 * period grid and secondary_suppress alike.  0 or a negative code. */
int disclosure_strata_sums(struct lin_audit *a, const struct kpi_value *v,
			   const int *idx);

/* Apply the rule for `kind` to one cell (what disclosure_apply does for each
 * cell and stratum); fails closed like disclosure_apply. */
void disclosure_apply_cell(const struct disclosure_params *dp,
			   enum kpi_kind kind, struct kpi_cell *c);

#endif
