/*
 * evaluate.c - result milestones from verified indicators (contract in
 * evaluate.h).
 *
 * The evaluation replays the relevant observations in receipt order and
 * stops at the first checkpoint that decides the milestone: every distinct
 * receipt time before the deadline, the deadline itself, then every receipt
 * time after it up to now.
 */
#include "evaluate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "period.h"

static const char *const status_names[] = {
    "pending", "met", "met-within-bandwidth", "missed", "not-evaluable"};

const char *ms_status_name(enum ms_status s)
{
	return (unsigned)s < sizeof(status_names) / sizeof(*status_names)
		   ? status_names[s]
		   : "?";
}

int ms_status_parse(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(status_names) / sizeof(*status_names); i++)
		if (strcmp(status_names[i], name) == 0)
			return (int)i;
	return -1;
}

enum ms_status ms_judge(const struct plan_kpi *k, int64_t target, int64_t value)
{
	if (k->direction == PLAN_INCREASE) {
		if (value >= target)
			return MS_MET;
		return value >= target - k->lower ? MS_MET_BANDWIDTH
						  : MS_MISSED;
	}
	if (value <= target)
		return MS_MET;
	return value <= target + k->upper ? MS_MET_BANDWIDTH : MS_MISSED;
}

int64_t ms_deadline(const struct plan_milestone *m)
{
	int y, mo, d;

	civil_from_days(m->day + 1, &y, &mo, &d);
	return ams_local_to_utc(y, mo, d, 0, 0, 0);
}

void ms_eval_release(struct ms_eval *e)
{
	if (!e)
		return;
	free(e->used);
	free(e->latest);
	e->used = e->latest = NULL;
}

/* receipt order, ties by report id */
static int by_receipt(const void *a, const void *b)
{
	const struct observation *x = *(const struct observation *const *)a;
	const struct observation *y = *(const struct observation *const *)b;

	if (x->received != y->received)
		return x->received < y->received ? -1 : 1;
	return strcmp(x->report, y->report);
}

static int region_index(const struct plan *p, const char *region)
{
	int i;

	for (i = 0; p->regions[i]; i++)
		if (strcmp(p->regions[i], region) == 0)
			return i;
	return -1;
}

/* The worst judgement over the regions, or MS_NOT_EVALUABLE when a region
 * has no value. */
static enum ms_status judge_all(const struct plan_milestone *m,
				const struct observation **cur, size_t n)
{
	enum ms_status worst = MS_MET, s;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!cur[i] || !cur[i]->ind.has_value)
			return MS_NOT_EVALUABLE;
		s = ms_judge(m->kpi, m->target, cur[i]->ind.value);
		if (s == MS_MISSED ||
		    (s == MS_MET_BANDWIDTH && worst == MS_MET))
			worst = s;
	}
	return worst;
}

/* Append "ZKnn: why" for each region without a value. */
static void explain_gaps(const struct plan *p, const struct observation **cur,
			 size_t n, char *out, size_t size)
{
	size_t i, len = strlen(out);

	for (i = 0; i < n && len < size; i++) {
		const char *why;

		if (cur[i] && cur[i]->ind.has_value)
			continue;
		if (!cur[i])
			why = "no report";
		else if (strcmp(cur[i]->ind.absent, "masked") == 0)
			why = "suppressed by disclosure control";
		else if (strcmp(cur[i]->ind.absent, "unknown") == 0)
			why = "not computable";
		else
			why = "no value in the report";
		snprintf(out + len, size - len, "%s%s: %s", len ? "; " : "",
			 p->regions[i], why);
		len = strlen(out);
	}
}

static void explain_values(const struct plan *p, const struct plan_milestone *m,
			   const struct observation **cur, size_t n, char *out,
			   size_t size)
{
	char v[32], t[32];
	size_t i, len = strlen(out);

	plan_value_format(m->target, t);
	for (i = 0; i < n && len < size; i++) {
		plan_value_format(cur[i]->ind.value, v);
		snprintf(out + len, size - len, "%s%s %s %s (target %s)",
			 i ? "; " : "", p->regions[i], m->kpi->id, v, t);
		len = strlen(out);
	}
}

int ms_evaluate(const struct plan *p, const struct plan_milestone *m,
		const struct observation *obs, size_t nobs, int64_t now,
		struct ms_eval *out)
{
	const struct observation **rel = NULL, **cur;
	int64_t deadline = ms_deadline(m);
	size_t n = 0, nrel = 0, i, j;
	enum ms_status s = MS_PENDING;
	bool passed = now >= deadline, decided = false;
	char gaps[sizeof(out->reason)] = "";

	memset(out, 0, sizeof(*out));
	while (p->regions[n])
		n++;
	out->n = n;
	out->used = calloc(n ? n : 1, sizeof(*out->used));
	out->latest = calloc(n ? n : 1, sizeof(*out->latest));
	rel = calloc(nobs ? nobs : 1, sizeof(*rel));
	if (!out->used || !out->latest || !rel) {
		free(rel);
		ms_eval_release(out);
		return -IZA_ENOMEM;
	}
	for (i = 0; i < nobs; i++)
		if (obs[i].received <= now && m->kpi &&
		    strcmp(obs[i].ind.kpi, m->kpi->id) == 0 &&
		    strcmp(obs[i].period, m->period.label) == 0 &&
		    region_index(p, obs[i].region) >= 0)
			rel[nrel++] = &obs[i];
	qsort(rel, nrel, sizeof(*rel), by_receipt);

	cur = out->used;
	/* before the deadline: the first met (or within bandwidth) decides */
	i = 0;
	while (i < nrel && rel[i]->received < deadline && !decided) {
		int64_t t = rel[i]->received;

		for (; i < nrel && rel[i]->received == t; i++)
			cur[region_index(p, rel[i]->region)] = rel[i];
		s = judge_all(m, cur, n);
		if (s == MS_MET || s == MS_MET_BANDWIDTH) {
			decided = true;
			out->at = t;
		}
	}
	if (!decided && passed) {
		/* at the deadline, complete evidence decides (missed) */
		s = judge_all(m, cur, n);
		if (s != MS_NOT_EVALUABLE) {
			decided = true;
			out->at = deadline;
		}
		/* after it, the first complete evidence decides */
		while (i < nrel && !decided) {
			int64_t t = rel[i]->received;

			for (; i < nrel && rel[i]->received == t; i++)
				cur[region_index(p, rel[i]->region)] = rel[i];
			s = judge_all(m, cur, n);
			if (s != MS_NOT_EVALUABLE) {
				decided = out->late = true;
				out->at = t;
			}
		}
	}
	for (j = 0; j < nrel; j++)
		out->latest[region_index(p, rel[j]->region)] = rel[j];
	free(rel);

	if (!decided) {
		/* not final: show the latest evidence */
		memcpy(out->used, out->latest, n * sizeof(*out->used));
		s = judge_all(m, out->used, n);
	}
	out->final = decided;
	if (decided) {
		out->status = s;
		for (j = 0; j < n; j++)
			if (out->latest[j] != out->used[j])
				out->corrected = true;
		explain_values(p, m, out->used, n, out->reason,
			       sizeof(out->reason));
		return 0;
	}
	if (s == MS_NOT_EVALUABLE) {
		explain_gaps(p, out->used, n, gaps, sizeof(gaps));
		out->status = passed ? MS_NOT_EVALUABLE : MS_PENDING;
		snprintf(out->reason, sizeof(out->reason), "%s%s",
			 passed ? "" : "awaiting evidence: ", gaps);
		return 0;
	}
	/* complete but not met, before the deadline */
	out->status = MS_PENDING;
	snprintf(out->reason, sizeof(out->reason),
		 "so far %s: ", ms_status_name(s));
	explain_values(p, m, out->used, n, out->reason, sizeof(out->reason));
	return 0;
}
