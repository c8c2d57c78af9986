/*
 * plan.h - IZA transformation plans as izamon reads them (format
 * "iza-plan/1", one JSON file per plan; docs/plans.md).
 *
 * A plan names its region(s), its parties (AGB or URA codes), the
 * coordinating insurer (UZOVI), its sectors and total budget, the KPIs it
 * is judged on (ids of the gateway's KPI catalogue, each with a baseline, a
 * target, a bandwidth of tolerance and the direction of improvement) and its
 * milestones: result milestones (a KPI condition for a period) and effort
 * milestones (attested by the coordinating insurer), each with an amount in
 * euro cents paid over fixed dates.
 *
 * Indicator values (baselines, targets, bandwidths) are fixed point in
 * millionths (PLAN_SCALE), so that "exactly on target" is an integer
 * comparison; a value with more than six decimals is refused.  Money is
 * integer cents.  Every error names the file and the JSON path.
 */
#ifndef IZA_PLAN_H
#define IZA_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <stdint.h>

#include "iza_error.h"
#include "period.h"

#define PLAN_SCALE 1000000 /* indicator values in millionths */

enum plan_direction { PLAN_INCREASE, PLAN_DECREASE };
enum plan_milestone_kind { PLAN_RESULT, PLAN_EFFORT };

struct plan_kpi {
	char id[64];		/* as in the gateway's kpis.json */
	struct period baseline; /* the baseline period */
	int64_t baseline_value; /* millionths */
	int64_t target;		/* millionths */
	int64_t lower, upper;	/* tolerance below/above target, >= 0 */
	enum plan_direction direction;
	int64_t due;	    /* days since 1970-01-01 */
	char due_label[11]; /* "YYYY-MM-DD" */
};

struct plan_payment {
	int64_t day; /* days since 1970-01-01 */
	char label[11];
	int64_t amount; /* cents; the payments sum to the milestone amount */
};

struct plan_milestone {
	char id[64];
	enum plan_milestone_kind kind;
	const struct plan_kpi *kpi; /* result milestones: the plan's KPI */
	struct period period;	    /* result: the period judged */
	int64_t target;		    /* result: millionths (default: kpi's) */
	char *description;	    /* effort: what is attested (heap) */
	int64_t day;		    /* the milestone date */
	char label[11];
	int64_t amount; /* cents */
	size_t npayments;
	struct plan_payment *payments;
};

struct plan {
	char id[64];
	char *name;
	char **regions;	 /* NULL-terminated, "ZKnn" */
	char **parties;	 /* NULL-terminated, "AGB:nnnnnnnn" or "URA:..." */
	char payee[16];	 /* the party milestone payments go to */
	char insurer[5]; /* the coordinating insurer's UZOVI code */
	char **sectors;	 /* NULL-terminated vocabulary codes */
	int64_t budget;	 /* cents */
	size_t nkpis;
	struct plan_kpi *kpis;
	size_t nmilestones;
	struct plan_milestone *milestones;
};

/* What a plan may refer to: the gateway's KPI ids and the vocabulary's
 * sector codes (each NULL-terminated). */
struct plan_catalogue {
	const char *const *kpis;
	const char *const *sectors;
};

/*
 * Read and validate a plan from doc (file names it in errors).  Returns 0
 * and *out, or -IZA_ECONFIG with err naming the file, the JSON path and the
 * reason, or -IZA_ENOMEM.
 */
int plan_parse(const char *file, const json_t *doc,
	       const struct plan_catalogue *cat, struct plan **out,
	       struct iza_error *err);
/* plan_parse of a file. */
int plan_load(const char *path, const struct plan_catalogue *cat,
	      struct plan **out, struct iza_error *err);
void plan_free(struct plan *p); /* accepts NULL */

/* The plan's KPI with this id, or NULL. */
const struct plan_kpi *plan_kpi_find(const struct plan *p, const char *id);

/* Member key of obj (at JSON path where of file) as millionths: a number
 * with at most six decimals, |v| < 10^12, else -IZA_ECONFIG naming it.
 * Returns 1 (and leaves *out) when absent and not required. */
int plan_value_read(const char *file, const char *where, const json_t *obj,
		    const char *key, bool required, int64_t *out,
		    struct iza_error *err);

/* v (millionths) as a decimal without trailing zeros: 250000 -> "0.25",
 * -17000000 -> "-17". */
void plan_value_format(int64_t v, char out[32]);

#endif
