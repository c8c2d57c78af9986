/*
 * fuzz_plan.c - libFuzzer harness for izamon's definition files: the input
 * is parsed as JSON and read both as a plan (monitor/plan.c, against a
 * fixed catalogue) and as a distribution key (monitor/distkey.c).  A plan
 * that is accepted is then evaluated (monitor/evaluate.c) over no
 * observations at three instants, and its values formatted.  Nothing may
 * crash, leak or trip a sanitizer; an accepted plan must keep its promises
 * (payments adding up to each milestone's amount, milestones within the
 * budget).
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "distkey.h"
#include "evaluate.h"
#include "plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const kpis[] = {"digital-contact-share", "bed-days",
				   "er-visits-avoided", "ggz-patients", NULL};
static const char *const sectors[] = {"msz", "huisartsenzorg", "ggz", NULL};

static void check_plan(const struct plan *p)
{
	int64_t total = 0, now[3] = {0, 1800000000, 4000000000};
	char v[32];
	size_t i, j, t;

	for (i = 0; i < p->nmilestones; i++) {
		const struct plan_milestone *m = &p->milestones[i];
		int64_t sum = 0;

		for (j = 0; j < m->npayments; j++)
			sum += m->payments[j].amount;
		if (sum != m->amount)
			abort();
		total += m->amount;
		if (m->kind != PLAN_RESULT)
			continue;
		plan_value_format(m->target, v);
		for (t = 0; t < 3; t++) {
			struct ms_eval ev;

			if (ms_evaluate(p, m, NULL, 0, now[t], &ev) == 0)
				ms_eval_release(&ev);
		}
	}
	if (total > p->budget)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct plan_catalogue cat = {kpis, sectors};
	json_t *doc = json_loadb((const char *)data, size, 0, NULL);
	struct iza_error err;
	struct plan *p = NULL;
	struct distkey *k = NULL;

	if (!doc)
		return 0;
	if (plan_parse("fuzz", doc, &cat, &p, &err) == 0)
		check_plan(p);
	plan_free(p);
	if (distkey_parse("fuzz", doc, &k, &err) == 0) {
		int64_t parts[64];
		uint64_t sum = 0;
		size_t i;

		for (i = 0; i < k->n; i++)
			sum += k->shares[i].share;
		if (sum != DISTKEY_WHOLE)
			abort();
		if (k->n <= 64 &&
		    distkey_split(k, 123456789, parts, &err) == 0) {
			int64_t total = 0;

			for (i = 0; i < k->n; i++)
				total += parts[i];
			if (total != 123456789)
				abort();
		}
	}
	distkey_free(k);
	json_decref(doc);
	return 0;
}
