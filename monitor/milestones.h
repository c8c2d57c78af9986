/*
 * milestones.h - izamon's milestone decisions and payment notices, on top
 * of the store: the evidence of a plan (the indicators of its stored
 * reports), the evaluation (evaluate.h), and recording what is final.
 *
 * A final decision is recorded once with the exact report ids and values it
 * rests on, and never changes (the store refuses updates).  A met milestone
 * (met, or met within bandwidth: both pay the full amount) issues in the
 * same transaction one payment notice per insurer of the distribution key of
 * the milestone date's year (its latest version).
 * Each payment date's part of the amount (plan.h) is split over the key by
 * largest remainder (pay_split.h), so every date's notices add up to that
 * date's part and all notices to the milestone amount, to the cent.  Without
 * a key for that year a met milestone stays undecided ("awaiting a
 * distribution key") until it is loaded; an earlier year's key is never used
 * in its place.
 *
 * Effort milestones are decided by an attestation of the plan's coordinating
 * insurer (met or missed), recorded the same way.
 *
 * Evaluations may race (two processes, many reports arriving): the store
 * records the first decision and reports MON_DUPLICATE to the others, so no
 * notice is ever issued twice.
 */
#ifndef IZA_MILESTONES_H
#define IZA_MILESTONES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iza_error.h"
#include "mon_store.h"
#include "plan.h"

struct milestones_counts {
	size_t decided;	 /* recorded by this call */
	size_t notices;	 /* issued by this call */
	size_t open;	 /* pending or not evaluable */
	size_t standing; /* decided before */
};

/*
 * Evaluate every milestone of the latest version of plan_id at now and
 * record those that became final.  Returns 0 (and adds to *c), or
 * -IZA_ENOTFOUND for an unknown plan, or a store or parse error.
 */
int milestones_evaluate(struct mon_store *s, const struct plan_catalogue *cat,
			const char *plan_id, int64_t now,
			struct milestones_counts *c, struct iza_error *err);
/* milestones_evaluate for every stored plan. */
int milestones_evaluate_all(struct mon_store *s,
			    const struct plan_catalogue *cat, int64_t now,
			    struct milestones_counts *c, struct iza_error *err);

/*
 * The coordinating insurer attests effort milestone milestone_id of plan_id:
 * outcome "met" or "missed", note a short free text (may be ""), actor the
 * certificate subject.  Returns 0 and *res MON_INSERTED (recorded, notices
 * issued when met) or MON_DUPLICATE (decided before: nothing changes);
 * -IZA_ENOTFOUND (plan or milestone), -IZA_EINVALID (not an effort
 * milestone, bad outcome, no distribution key) or -IZA_EDENIED (insurer is not
 * the coordinating insurer), with err saying which.
 */
int milestones_attest(struct mon_store *s, const struct plan_catalogue *cat,
		      const char *plan_id, const char *milestone_id,
		      const char *outcome, const char *insurer,
		      const char *actor, const char *note, int64_t now,
		      enum mon_put *res, struct iza_error *err);

/*
 * Where plan_id stands at now, as JSON (docs/api.md, "plan status"): the
 * plan, per milestone its status with the evidence (the recorded decision,
 * or the live evaluation when none is recorded, flagged "final": false),
 * corrections received after a decision, and its notices.  NULL with err
 * on failure; -IZA_ENOTFOUND in err->code for an unknown plan.
 */
json_t *milestones_status(struct mon_store *s, const struct plan_catalogue *cat,
			  const char *plan_id, int64_t now,
			  struct iza_error *err);

/*
 * Every KPI value the plan's reports carry, per KPI and period, oldest
 * receipt first, with suppressed values as gaps and their reason
 * (docs/api.md, "indicators").  NULL with err on failure.
 */
json_t *milestones_indicators(struct mon_store *s,
			      const struct plan_catalogue *cat,
			      const char *plan_id, struct iza_error *err);

/*
 * The notices matching plan and insurer ("" any) as CSV (one header line,
 * then one line per notice: notice, plan, milestone, payer_uzovi, payee,
 * amount_cents, amount_eur, distribution_key, issued (UTC), schedule as
 * "DATE:CENTS" separated by spaces) or as JSON {"notices": [...]}.
 * *out is a heap string.
 */
int milestones_notices_text(struct mon_store *s, const char *plan,
			    const char *insurer, bool csv, char **out,
			    struct iza_error *err);

/* A payment notice as JSON (docs/api.md, "notices"). */
json_t *milestones_notice_json(const struct mon_notice *n);

/* A millionths value as a JSON number (an integer when whole). */
json_t *milestones_value_json(int64_t v);

/* Dump flags for documents holding such values: six decimals survive. */
#define MILESTONES_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

#endif
