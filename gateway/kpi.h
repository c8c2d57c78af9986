/*
 * kpi.h - KPI definitions (loaded from mappings/kpis.json) and the engine
 * that computes them over the event store for one region and period.
 *
 * Kinds (docs/kpi-catalogue.md gives the exact definitions):
 *   count             events matching `select` starting in the period
 *   distinct_persons  distinct pseudonyms among those events
 *   share             numerator events / denominator events (numerator is a
 *                     further selection within the denominator)
 *   bed_days          local midnights spent admitted within the period
 *   avoided           expected - observed for a count KPI `of`, where
 *                     expected = baseline-year count of the same calendar
 *                     months x population(period year) / population(baseline)
 * Every value also carries the number of distinct persons behind it, which
 * disclosure control needs; the engine itself never suppresses.
 */
#ifndef IZA_KPI_H
#define IZA_KPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iza_error.h"
#include "period.h"

struct store;
struct refdata;

enum kpi_kind { KPI_COUNT, KPI_DISTINCT, KPI_SHARE, KPI_BED_DAYS, KPI_AVOIDED };

/* A selection: each non-NULL list is a NULL-terminated set of allowed values
 * of that canonical field; all given lists must match (AND). */
struct kpi_select {
	char **type, **channel, **sector;
	char **urgency;	    /* "U0".."U5", "unknown" */
	char **disposition; /* vocabulary dispositions, "unknown" */
};

#define KPI_MAX_STRATIFIERS 4
#define KPI_MAX_STRATA                                                         \
	192 /* strata of one KPI value, all stratifiers (hour_of_week: 168) */
#define KPI_MAX_PROVIDERS                                                      \
	4096 /* providers tracked per cell (beyond: the                        \
		provider rule fails closed) */

struct kpi_def {
	char *id;	   /* "er-visits" */
	char *title;	   /* short human title */
	char *description; /* exact definition, one paragraph */
	char *unit;	   /* "visits", "persons", "ratio", "bed days" */
	enum kpi_kind kind;
	struct kpi_select
	    select; /* count/distinct/bed_days, share: denominator */
	struct kpi_select numerator; /* share only: applied within select */
	char *of;		     /* avoided: id of the count KPI */
	int improvement_down;	     /* 1 if lower is better */
	char *stratifiers[KPI_MAX_STRATIFIERS +
			  1]; /* "age_band", "sector", "channel" */
	/* optional differential privacy ("dp": {"epsilon": 0.5, "bound":
	 * 3}): count, distinct_persons and bed_days only */
	int64_t dp_epsilon_milli; /* epsilon x 1000 per release; 0: none */
	int64_t dp_bound; /* events / bed days one person adds to a cell */
	/* strata that are zero by definition ("age_band=0-17" for a KPI of
	 * care only adults receive): released as 0 instead of suppressed
	 * when they are 0; NULL-terminated, or NULL */
	char **structural_zeros;
};

/* Is stratifier=value declared a structural zero of d? */
bool kpi_structural_zero(const struct kpi_def *d, const char *stratifier,
			 const char *value);

struct kpi_set {
	char *version;
	char **counted_statuses; /* NULL-terminated */
	struct kpi_def *defs;
	size_t n;
};

/* Load and validate; errors name file, KPI id and field. */
int kpi_set_load(const char *path, struct kpi_set **out, struct iza_error *err);
void kpi_set_free(struct kpi_set *ks); /* accepts NULL */
const struct kpi_def *kpi_set_find(const struct kpi_set *ks, const char *id);

struct vocabulary;
/* Every status, type, channel and sector the definitions name must be in
 * the canonical vocabulary (a typo would otherwise silently count zero).
 * file: used in the error. */
int kpi_set_check_vocabulary(const struct kpi_set *ks, const char *file,
			     const struct vocabulary *voc,
			     struct iza_error *err);

/* One computed cell, before (and after) disclosure control. */
struct kpi_cell {
	bool has_value; /* false when not computable (e.g. no baseline) */
	double value;	/* the KPI value (share as a fraction 0..1) */
	bool has_numerator, has_denominator;
	int64_t numerator;    /* count, or share numerator, or observed */
	int64_t denominator;  /* share denominator, or expected (rounded) */
	int64_t persons;      /* distinct persons behind numerator/count */
	int64_t den_persons;  /* distinct persons behind the denominator */
	int64_t rest_persons; /* share: distinct persons behind
				 denominator-numerator */
	/* avoided only */
	int64_t baseline; /* baseline-year count */
	int64_t baseline_persons;
	int baseline_year;
	double expected;
	int64_t pop_period, pop_baseline;
	int pop_period_year_used, pop_baseline_year_used;
	/* contributions per provider (the event's provider AGB code, "" when
	 * unknown), in the cell's own unit (events, bed days): for the
	 * provider rule of disclosure control only, never printed */
	int nproviders;		 /* -1: more than KPI_MAX_PROVIDERS */
	int64_t prov_total;	 /* sum over all providers */
	int64_t prov_top[2];	 /* the largest and second largest */
	char prov_top_id[2][33]; /* their codes ("" unknown provider) */
	/* disclosure control outcome */
	char rule[24]; /* id of the rule that suppressed or held it
			  (disclosure.h RULE_*), "" otherwise */
	bool noised; /* its count carries discrete Laplace noise (release.c) */
	int64_t held_release; /* > 0: the value of that earlier release stands
				 (release.c); its numbers are in the cell */
	bool suppressed;
	char reason[96]; /* why suppressed / why no value; "" otherwise */
};

struct kpi_stratum {
	char stratifier[24]; /* "age_band" */
	char value[24];	     /* "0-17" */
	struct kpi_cell cell;
};

struct kpi_value {
	const struct kpi_def *def;
	struct kpi_cell cell;
	struct kpi_stratum *strata;
	size_t nstrata;
};

struct kpi_results {
	char region[8];
	char region_name[64];
	struct period period;
	struct kpi_value *values;
	size_t n;
	int rounding; /* published counts rounded to this base (release.h), 0 */
	int64_t events_outside_region; /* events in period, patient elsewhere */
	int64_t events_unknown_region; /* events in period, residence unknown */
};

struct kpi_options {
	const char *region;	      /* "ZKxx" */
	int baseline_year;	      /* for avoided */
	bool count_unknown_residence; /* test/foreign data: count patients with
					 unknown residence as in-region */
	int64_t as_of; /* open stays count up to here (0: period end) */
	/* the canonical vocabulary, for listing every sector and channel
	 * stratum even when empty (an absent stratum would disclose a zero);
	 * NULL: only strata with events are listed */
	const struct vocabulary *voc;
};

int kpi_compute(const struct kpi_set *ks, struct store *st,
		const struct refdata *rd, const struct kpi_options *opt,
		const struct period *p, struct kpi_results **out,
		struct iza_error *err);
void kpi_results_free(struct kpi_results *r); /* accepts NULL */

#endif
