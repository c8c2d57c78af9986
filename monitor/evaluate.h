/*
 * evaluate.h - deciding a result milestone from verified indicators.
 *
 * A result milestone asks whether a KPI, for a period, reached its target.
 * The evidence is, per region of the plan, the indicator of the latest
 * stored report for that plan and period (latest by receipt time, ties by
 * report id).  Per region the value is judged against the target with the
 * KPI's direction and tolerance:
 *
 *   increase: v >= target met; v >= target - lower met within bandwidth;
 *             below that missed.
 *   decrease: v <= target met; v <= target + upper met within bandwidth;
 *             above that missed.
 *
 * A plan with several regions takes the worst region.  A region without a
 * report, or whose value is suppressed or not computable, makes the evidence
 * incomplete: the milestone is then not evaluable, never judged as if the
 * value were zero.
 *
 * The deadline is the end of the milestone's date (24:00 Europe/Amsterdam).
 * The decision is a function of the reports and their receipt times only,
 * not of when the evaluation runs:
 *   - the first moment before the deadline at which complete evidence is met
 *     (or met within bandwidth) decides it;
 *   - otherwise, at the deadline, complete evidence decides it (missed);
 *   - otherwise the first moment after the deadline at which the evidence is
 *     complete decides it ("late");
 *   - until then it is pending (before the deadline) or not evaluable.
 * Once decided it stands: a later report for the same period is shown as a
 * correction (ms_eval.corrected, .latest) but does not change the decision.
 */
#ifndef IZA_EVALUATE_H
#define IZA_EVALUATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "indicator.h"
#include "iza_error.h"
#include "plan.h"

/* One KPI value of one stored report. */
struct observation {
	char report[80];
	char region[8];
	char period[12]; /* the report's period label, "2025-Q4" */
	int64_t received;
	struct indicator ind;
};

enum ms_status {
	MS_PENDING,
	MS_MET,
	MS_MET_BANDWIDTH,
	MS_MISSED,
	MS_NOT_EVALUABLE
};

/* "pending", "met", "met-within-bandwidth", "missed", "not-evaluable" */
const char *ms_status_name(enum ms_status s);
/* The inverse; -1 for an unknown name. */
int ms_status_parse(const char *name);

struct ms_eval {
	enum ms_status status;
	bool final; /* decided: stands from now on */
	int64_t at; /* final: the instant that decided it */
	bool late;  /* final on evidence received after the deadline */
	size_t n;   /* the plan's regions */
	/* per region (plan order): the evidence the status rests on (for a
	 * pending milestone the latest), NULL when the region has none */
	const struct observation **used;
	/* per region: the latest evidence now; differs from used after a
	 * correction */
	const struct observation **latest;
	bool corrected;
	char reason[320]; /* one sentence for people; no values of persons */
};

/* The judgement of one value (MS_MET, MS_MET_BANDWIDTH or MS_MISSED). */
enum ms_status ms_judge(const struct plan_kpi *k, int64_t target,
			int64_t value);

/* The end of the milestone's date, 24:00 Europe/Amsterdam, in UTC seconds. */
int64_t ms_deadline(const struct plan_milestone *m);

/*
 * Evaluate result milestone m of plan p at instant now over the
 * observations obs[0..nobs-1] (any plan regions, KPIs and periods: the
 * irrelevant ones are skipped; those received after now are ignored).
 * out points into obs.  Returns 0 or -IZA_ENOMEM.
 */
int ms_evaluate(const struct plan *p, const struct plan_milestone *m,
		const struct observation *obs, size_t nobs, int64_t now,
		struct ms_eval *out);
void ms_eval_release(struct ms_eval *e); /* accepts NULL */

#endif
