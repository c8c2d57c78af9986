/*
 * milestones.c - decisions, notices and plan status over the store
 * (contract in milestones.h).
 */
#include "milestones.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distkey.h"
#include "evaluate.h"
#include "indicator.h"
#include "period.h"

/* ---- reading what the store holds ---- */

static int load_plan(struct mon_store *s, const struct plan_catalogue *cat,
		     const char *id, struct plan **out, int64_t *version,
		     struct iza_error *err)
{
	char *body = NULL;
	size_t len = 0;
	json_t *doc;
	json_error_t je;
	int rc =
	    s->ops->doc_get(s->impl, "plan", id, &body, &len, version, err);

	*out = NULL;
	if (rc == 0)
		return iza_error_set(err, -IZA_ENOTFOUND, NULL, 0, id,
				     "no such plan");
	if (rc < 0)
		return rc;
	doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	free(body);
	if (!doc)
		return iza_error_set(err, -IZA_ESTORE, NULL, 0, id,
				     "the stored plan is not valid JSON");
	rc = plan_parse(id, doc, cat, out, err);
	json_decref(doc);
	return rc;
}

struct obs_list {
	struct observation *v;
	size_t n, cap;
	struct mon_report *reps;
	size_t nreps, capreps;
	bool oom;
};

static int collect_report(void *ctx, const struct mon_report *r)
{
	struct obs_list *l = ctx;

	if (l->nreps == l->capreps) {
		size_t cap = l->capreps ? 2 * l->capreps : 16;
		struct mon_report *nr =
		    realloc(l->reps, cap * sizeof(*l->reps));

		if (!nr) {
			l->oom = true;
			return 1;
		}
		l->reps = nr;
		l->capreps = cap;
	}
	l->reps[l->nreps++] = *r;
	return 0;
}

static int add_indicators(struct obs_list *l, const struct mon_report *r,
			  const struct indicator *ind, size_t n)
{
	size_t i;

	if (l->n + n > l->cap) {
		size_t cap = l->cap ? l->cap : 64;
		struct observation *nv;

		while (cap < l->n + n)
			cap *= 2;
		nv = realloc(l->v, cap * sizeof(*l->v));
		if (!nv)
			return -IZA_ENOMEM;
		l->v = nv;
		l->cap = cap;
	}
	for (i = 0; i < n; i++) {
		struct observation *o = &l->v[l->n++];

		memset(o, 0, sizeof(*o));
		snprintf(o->report, sizeof(o->report), "%s", r->id);
		snprintf(o->region, sizeof(o->region), "%s", r->region);
		snprintf(o->period, sizeof(o->period), "%s", r->period);
		o->received = r->received;
		o->ind = ind[i];
	}
	return 0;
}

/* Every indicator of every stored report for plan_id; with want, only of
 * the reports whose period want(ctx, period) accepts (the others are
 * listed, not read). */
static int
load_observations_of(struct mon_store *s, const char *plan_id,
		     bool (*want)(const void *ctx, const char *period),
		     const void *ctx, struct obs_list *l, struct iza_error *err)
{
	size_t i;
	int rc;

	memset(l, 0, sizeof(*l));
	rc = s->ops->report_list(s->impl, "", plan_id, "", collect_report, l,
				 err);
	if (rc == 0 && l->oom)
		rc = -IZA_ENOMEM;
	for (i = 0; rc == 0 && i < l->nreps; i++) {
		struct mon_report full;
		struct indicator *ind = NULL;
		int n;

		if (want && !want(ctx, l->reps[i].period))
			continue;
		rc = s->ops->report_get(s->impl, l->reps[i].id, &full, err);
		if (rc == 0)
			rc = iza_error_set(err, -IZA_ESTORE, NULL, 0,
					   l->reps[i].id, "report vanished");
		if (rc < 0)
			break;
		n = indicators_read(full.body, full.body_len, &ind, err);
		mon_report_release(&full);
		if (n < 0) {
			snprintf(err->file, sizeof(err->file), "report %s",
				 l->reps[i].id);
			rc = n;
			break;
		}
		rc = add_indicators(l, &l->reps[i], ind, (size_t)n);
		free(ind);
	}
	return rc;
}

static int load_observations(struct mon_store *s, const char *plan_id,
			     struct obs_list *l, struct iza_error *err)
{
	return load_observations_of(s, plan_id, NULL, NULL, l, err);
}

static void obs_free(struct obs_list *l)
{
	free(l->v);
	free(l->reps);
}

/* The key of year (its latest version): 1 and *out with label
 * "YEAR.VERSION", 0 when that year has none.  Only the milestone's own year
 * counts: an earlier year's key is not guessed in its place. */
static int load_key(struct mon_store *s, int year, struct distkey **out,
		    char label[16], struct iza_error *err)
{
	char id[16], *body = NULL;
	size_t len = 0;
	int64_t version = 0;
	json_t *doc;
	int rc;

	*out = NULL;
	snprintf(id, sizeof(id), "%d", year);
	rc = s->ops->doc_get(s->impl, "key", id, &body, &len, &version, err);
	if (rc <= 0)
		return rc;
	doc = json_loadb(body, len, 0, NULL);
	free(body);
	rc = doc ? distkey_parse(id, doc, out, err)
		 : iza_error_set(err, -IZA_ESTORE, NULL, 0, id,
				 "the stored key is not valid JSON");
	json_decref(doc);
	if (rc < 0)
		return rc;
	snprintf(label, 16, "%d.%lld", year, (long long)version);
	return 1;
}

static int milestone_year(const struct plan_milestone *m)
{
	int y, mo, d;

	civil_from_days(m->day, &y, &mo, &d);
	return y;
}

/* ---- notices ---- */

struct notices {
	struct mon_notice *v;
	char **schedules;
	size_t n;
};

static void notices_free(struct notices *ns)
{
	size_t i;

	for (i = 0; ns->schedules && i < ns->n; i++)
		free(ns->schedules[i]);
	free(ns->schedules);
	free(ns->v);
	memset(ns, 0, sizeof(*ns));
}

/* One notice per insurer with a non-zero part: each payment date's amount
 * split over the key; a notice's schedule lists its part per date. */
static int make_notices(const struct plan *p, const struct plan_milestone *m,
			const struct distkey *key, const char *label,
			int64_t now, struct notices *ns, struct iza_error *err)
{
	int64_t *parts =
	    calloc(key->n * (m->npayments ? m->npayments : 1), sizeof(*parts));
	size_t i, j;
	int rc = 0;

	memset(ns, 0, sizeof(*ns));
	ns->v = calloc(key->n, sizeof(*ns->v));
	ns->schedules = calloc(key->n, sizeof(*ns->schedules));
	if (!parts || !ns->v || !ns->schedules) {
		free(parts);
		notices_free(ns);
		return -IZA_ENOMEM;
	}
	for (j = 0; rc == 0 && j < m->npayments; j++)
		rc = distkey_split(key, m->payments[j].amount,
				   parts + j * key->n, err);
	for (i = 0; rc == 0 && i < key->n; i++) {
		struct mon_notice *n = &ns->v[ns->n];
		json_t *sched = json_array();
		int64_t total = 0;

		if (!sched) {
			rc = -IZA_ENOMEM;
			break;
		}
		for (j = 0; j < m->npayments; j++) {
			int64_t a = parts[j * key->n + i];

			total += a;
			json_array_append_new(
			    sched,
			    json_pack("{s:s,s:I}", "date", m->payments[j].label,
				      "amount_cents", (json_int_t)a));
		}
		if (total == 0) {
			json_decref(sched);
			continue;
		}
		snprintf(n->id, sizeof(n->id), "%s/%s/%s", p->id, m->id,
			 key->shares[i].insurer);
		snprintf(n->plan, sizeof(n->plan), "%s", p->id);
		snprintf(n->milestone, sizeof(n->milestone), "%s", m->id);
		memcpy(n->insurer, key->shares[i].insurer, 5);
		snprintf(n->payee, sizeof(n->payee), "%s", p->payee);
		n->amount = total;
		snprintf(n->key, sizeof(n->key), "%s", label);
		n->issued = now;
		ns->schedules[ns->n] = json_dumps(sched, JSON_COMPACT);
		json_decref(sched);
		if (!ns->schedules[ns->n]) {
			rc = -IZA_ENOMEM;
			break;
		}
		n->schedule = ns->schedules[ns->n];
		ns->n++;
	}
	free(parts);
	if (rc)
		notices_free(ns);
	return rc;
}

/* ---- decisions ---- */

json_t *milestones_value_json(int64_t v)
{
	if (v % PLAN_SCALE == 0)
		return json_integer((json_int_t)(v / PLAN_SCALE));
	return json_real((double)v / PLAN_SCALE);
}

static json_t *observation_json(const char *region, const struct observation *o)
{
	json_t *j = json_pack("{s:s}", "region", region);

	if (!j || !o)
		return j;
	json_object_set_new(j, "report", json_string(o->report));
	json_object_set_new(j, "received", json_integer(o->received));
	json_object_set_new(j, "value",
			    o->ind.has_value
				? milestones_value_json(o->ind.value)
				: json_null());
	if (!o->ind.has_value)
		json_object_set_new(j, "absent", json_string(o->ind.absent));
	return j;
}

static json_t *evidence_list(const struct plan *p,
			     const struct observation **obs, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a && i < n; i++)
		json_array_append_new(a,
				      observation_json(p->regions[i], obs[i]));
	return a;
}

/* What a result decision rests on, as stored with it. */
static json_t *result_evidence(const struct plan *p,
			       const struct plan_milestone *m,
			       const struct ms_eval *ev)
{
	return json_pack(
	    "{s:s,s:s,s:o,s:o,s:s}", "kpi", m->kpi->id, "period",
	    m->period.label, "target", milestones_value_json(m->target),
	    "reports", evidence_list(p, ev->used, ev->n), "reason", ev->reason);
}

struct decided {
	char (*ids)[64];
	size_t n, cap;
};

static int note_decided(void *ctx, const struct mon_decision *d)
{
	struct decided *dd = ctx;

	if (dd->n == dd->cap) {
		size_t cap = dd->cap ? 2 * dd->cap : 8;
		char(*nv)[64] = realloc(dd->ids, cap * sizeof(*dd->ids));

		if (!nv)
			return 1;
		dd->ids = nv;
		dd->cap = cap;
	}
	snprintf(dd->ids[dd->n++], 64, "%s", d->milestone);
	return 0;
}

static bool is_decided(const struct decided *dd, const char *id)
{
	size_t i;

	for (i = 0; i < dd->n; i++)
		if (strcmp(dd->ids[i], id) == 0)
			return true;
	return false;
}

/* The periods still to be judged: those of the undecided result
 * milestones. */
struct open_periods {
	const struct plan *p;
	const struct decided *dd;
};

static bool judged_period(const void *ctx, const char *period)
{
	const struct open_periods *op = ctx;
	size_t i;

	for (i = 0; i < op->p->nmilestones; i++) {
		const struct plan_milestone *m = &op->p->milestones[i];

		if (m->kind == PLAN_RESULT && !is_decided(op->dd, m->id) &&
		    strcmp(m->period.label, period) == 0)
			return true;
	}
	return false;
}

/* Record a final decision (and its notices when met). *res as decision_put;
 * returns 1 without recording when a met milestone has no key. */
static int record(struct mon_store *s, const struct plan *p, int64_t version,
		  const struct plan_milestone *m, enum ms_status st,
		  int64_t decided, bool late, json_t *evidence, int64_t now,
		  enum mon_put *res, size_t *issued, struct iza_error *err)
{
	struct mon_decision d;
	struct notices ns = {0};
	struct distkey *key = NULL;
	char *text;
	int rc = 0;

	memset(&d, 0, sizeof(d));
	snprintf(d.plan, sizeof(d.plan), "%s", p->id);
	snprintf(d.milestone, sizeof(d.milestone), "%s", m->id);
	d.plan_version = version;
	snprintf(d.status, sizeof(d.status), "%s", ms_status_name(st));
	d.decided = decided;
	d.recorded = now;
	d.late = late;
	if (st == MS_MET || st == MS_MET_BANDWIDTH) {
		rc = load_key(s, milestone_year(m), &key, d.key, err);
		if (rc == 1)
			rc = make_notices(p, m, key, d.key, now, &ns, err);
		else if (rc == 0)
			rc = 1;
		distkey_free(key);
		if (rc)
			return rc;
	}
	text = json_dumps(evidence, MILESTONES_JSON_FLAGS | JSON_SORT_KEYS);
	if (!text) {
		notices_free(&ns);
		return -IZA_ENOMEM;
	}
	d.evidence = text;
	{
		char what[256];

		snprintf(what, sizeof(what), "%s/%s %s, %zu notices", p->id,
			 m->id, d.status, ns.n);
		rc = mon_decision_record(s, &d, ns.v, ns.n, now, "izamon",
					 p->insurer, what, res, err);
	}
	if (rc == 0 && *res == MON_INSERTED)
		*issued = ns.n;
	free(text);
	notices_free(&ns);
	return rc;
}

int milestones_evaluate(struct mon_store *s, const struct plan_catalogue *cat,
			const char *plan_id, int64_t now,
			struct milestones_counts *c, struct iza_error *err)
{
	struct plan *p = NULL;
	struct obs_list l = {0};
	struct decided dd = {0};
	int64_t version = 0;
	size_t i;
	int rc = load_plan(s, cat, plan_id, &p, &version, err);

	if (rc == 0)
		rc = s->ops->decision_list(s->impl, plan_id, note_decided, &dd,
					   err);
	/* only the reports an undecided result milestone may be judged on:
	 * each stored report evaluates its plan, and reading every report
	 * of the plan each time made storing slower with every report */
	if (rc == 0 && p) {
		struct open_periods op = {p, &dd};

		rc = load_observations_of(s, plan_id, judged_period, &op, &l,
					  err);
	}
	for (i = 0; rc == 0 && p && i < p->nmilestones; i++) {
		const struct plan_milestone *m = &p->milestones[i];
		struct ms_eval ev;
		enum mon_put res = MON_DUPLICATE;
		size_t issued = 0;
		json_t *evj;

		if (is_decided(&dd, m->id)) {
			c->standing++;
			continue;
		}
		if (m->kind == PLAN_EFFORT) {
			c->open++;
			continue;
		}
		rc = ms_evaluate(p, m, l.v, l.n, now, &ev);
		if (rc)
			break;
		if (!ev.final) {
			c->open++;
			ms_eval_release(&ev);
			continue;
		}
		evj = result_evidence(p, m, &ev);
		rc = evj ? record(s, p, version, m, ev.status, ev.at, ev.late,
				  evj, now, &res, &issued, err)
			 : -IZA_ENOMEM;
		json_decref(evj);
		ms_eval_release(&ev);
		if (rc == 1) { /* met, awaiting a distribution key */
			c->open++;
			rc = 0;
		} else if (rc == 0 && res == MON_INSERTED) {
			c->decided++;
			c->notices += issued;
		} else if (rc == 0) {
			c->standing++;
		}
	}
	free(dd.ids);
	obs_free(&l);
	plan_free(p);
	return rc;
}

struct ids {
	char (*v)[128];
	size_t n, cap;
};

static int note_id(void *ctx, const char *id, int64_t version, int64_t loaded)
{
	struct ids *ids = ctx;

	(void)version;
	(void)loaded;
	if (ids->n == ids->cap) {
		size_t cap = ids->cap ? 2 * ids->cap : 8;
		char(*nv)[128] = realloc(ids->v, cap * sizeof(*ids->v));

		if (!nv)
			return 1;
		ids->v = nv;
		ids->cap = cap;
	}
	snprintf(ids->v[ids->n++], 128, "%s", id);
	return 0;
}

int milestones_evaluate_all(struct mon_store *s,
			    const struct plan_catalogue *cat, int64_t now,
			    struct milestones_counts *c, struct iza_error *err)
{
	struct ids ids = {0};
	struct iza_error first = {0}, e2;
	size_t i;
	int rc = s->ops->doc_list(s->impl, "plan", note_id, &ids, err), r;

	/* a plan that cannot be evaluated (a broken stored report, a KPI
	 * the catalogue lost) does not stop the others: the first failure
	 * is returned after all were tried */
	for (i = 0; rc == 0 && i < ids.n; i++) {
		iza_error_clear(&e2);
		r = milestones_evaluate(s, cat, ids.v[i], now, c, &e2);
		if (r && !first.code) {
			first = e2;
			first.code = r;
			snprintf(first.field, sizeof(first.field), "%s",
				 ids.v[i]);
		}
	}
	free(ids.v);
	if (rc == 0 && first.code) {
		*err = first;
		rc = first.code;
	}
	return rc;
}

int milestones_attest(struct mon_store *s, const struct plan_catalogue *cat,
		      const char *plan_id, const char *milestone_id,
		      const char *outcome, const char *insurer,
		      const char *actor, const char *note, int64_t now,
		      enum mon_put *res, struct iza_error *err)
{
	struct plan *p = NULL;
	const struct plan_milestone *m = NULL;
	int64_t version = 0;
	size_t i, issued = 0;
	json_t *evj;
	struct decided dd = {0};
	int rc = load_plan(s, cat, plan_id, &p, &version, err);

	if (rc)
		return rc;
	for (i = 0; i < p->nmilestones; i++)
		if (strcmp(p->milestones[i].id, milestone_id) == 0)
			m = &p->milestones[i];
	/* decided before: the first attestation stands, whatever this one
	 * says and whether or not a key is in force now */
	if (m && m->kind == PLAN_EFFORT && strcmp(insurer, p->insurer) == 0) {
		rc = s->ops->decision_list(s->impl, plan_id, note_decided, &dd,
					   err);
		if (rc == 0 && is_decided(&dd, m->id)) {
			free(dd.ids);
			plan_free(p);
			*res = MON_DUPLICATE;
			return 0;
		}
		free(dd.ids);
		if (rc) {
			plan_free(p);
			return rc;
		}
	}
	if (!m)
		rc = iza_error_set(err, -IZA_ENOTFOUND, NULL, 0, milestone_id,
				   "no such milestone in plan %s", p->id);
	else if (m->kind != PLAN_EFFORT)
		rc = iza_error_set(err, -IZA_EINVALID, NULL, 0, milestone_id,
				   "a result milestone is decided by its "
				   "indicator, not attested");
	else if (strcmp(insurer, p->insurer) != 0)
		rc = iza_error_set(err, -IZA_EDENIED, NULL, 0, milestone_id,
				   "only the coordinating insurer (%s) "
				   "attests this plan's milestones",
				   p->insurer);
	else if (strcmp(outcome, "met") != 0 && strcmp(outcome, "missed") != 0)
		rc = iza_error_set(err, -IZA_EINVALID, NULL, 0, "outcome",
				   "must be \"met\" or \"missed\"");
	if (rc) {
		plan_free(p);
		return rc;
	}
	evj = json_pack("{s:s,s:s,s:s,s:s}", "attested_by", insurer, "actor",
			actor, "outcome", outcome, "note", note ? note : "");
	rc = evj ? record(s, p, version, m,
			  strcmp(outcome, "met") == 0 ? MS_MET : MS_MISSED, now,
			  false, evj, now, res, &issued, err)
		 : -IZA_ENOMEM;
	json_decref(evj);
	if (rc == 1)
		rc = iza_error_set(err, -IZA_EINVALID, NULL, 0, milestone_id,
				   "no distribution key for %d is loaded "
				   "(izamon keys load)",
				   milestone_year(m));
	plan_free(p);
	return rc;
}

/* ---- views ---- */

struct status_ctx {
	json_t *decisions; /* milestone id -> decision object */
	json_t *notices;   /* milestone id -> [notice] */
};

static int status_decision(void *ctx, const struct mon_decision *d)
{
	struct status_ctx *sc = ctx;
	json_t *ev = json_loads(d->evidence, 0, NULL);

	json_object_set_new(
	    sc->decisions, d->milestone,
	    json_pack("{s:s,s:I,s:I,s:b,s:s,s:I,s:o}", "status", d->status,
		      "decided", (json_int_t)d->decided, "recorded",
		      (json_int_t)d->recorded, "late", d->late, "key", d->key,
		      "plan_version", (json_int_t)d->plan_version, "evidence",
		      ev ? ev : json_null()));
	return 0;
}

json_t *milestones_notice_json(const struct mon_notice *n)
{
	json_t *sched = json_loads(n->schedule, 0, NULL);

	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:I,s:o}", "id", n->id,
			 "plan", n->plan, "milestone", n->milestone, "payer",
			 n->insurer, "payee", n->payee, "amount_cents",
			 (json_int_t)n->amount, "distribution_key", n->key,
			 "issued", (json_int_t)n->issued, "schedule",
			 sched ? sched : json_array());
}

static int status_notice(void *ctx, const struct mon_notice *n)
{
	struct status_ctx *sc = ctx;
	json_t *arr = json_object_get(sc->notices, n->milestone);

	if (!arr) {
		arr = json_array();
		json_object_set_new(sc->notices, n->milestone, arr);
	}
	json_array_append_new(arr, milestones_notice_json(n));
	return 0;
}

static json_t *strv_json(char *const *v)
{
	json_t *a = json_array();

	for (; a && v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

static json_t *milestone_json(const struct plan *p,
			      const struct plan_milestone *m,
			      const struct obs_list *l, struct status_ctx *sc,
			      int64_t now)
{
	json_t *o =
	    json_pack("{s:s,s:s,s:s,s:I}", "id", m->id, "kind",
		      m->kind == PLAN_RESULT ? "result" : "effort", "date",
		      m->label, "amount_cents", (json_int_t)m->amount);
	json_t *dec = json_object_get(sc->decisions, m->id);
	json_t *notices = json_object_get(sc->notices, m->id);
	struct ms_eval ev;
	bool have_ev = false;

	if (!o)
		return NULL;
	if (m->kind == PLAN_RESULT) {
		json_object_set_new(o, "kpi", json_string(m->kpi->id));
		json_object_set_new(o, "period", json_string(m->period.label));
		json_object_set_new(o, "target",
				    milestones_value_json(m->target));
		have_ev = ms_evaluate(p, m, l->v, l->n, now, &ev) == 0;
	} else {
		json_object_set_new(o, "description",
				    json_string(m->description));
	}
	if (dec) {
		json_object_set_new(
		    o, "status", json_incref(json_object_get(dec, "status")));
		json_object_set_new(o, "final", json_true());
		json_object_set_new(o, "decision", json_incref(dec));
		/* a report received after the decision, for the same
		 * period: shown, the decision stands */
		if (have_ev) {
			const json_t *used = json_object_get(
			    json_object_get(dec, "evidence"), "reports");
			size_t i;
			bool differs = false;

			for (i = 0; i < ev.n; i++) {
				const char *r =
				    json_string_value(json_object_get(
					json_array_get(used, i), "report"));

				if (ev.latest[i] &&
				    (!r || strcmp(r, ev.latest[i]->report)))
					differs = true;
			}
			if (differs)
				json_object_set_new(
				    o, "correction",
				    evidence_list(p, ev.latest, ev.n));
		}
	} else if (have_ev) {
		json_object_set_new(o, "status",
				    json_string(ms_status_name(ev.status)));
		json_object_set_new(o, "final", json_false());
		json_object_set_new(o, "reason", json_string(ev.reason));
		json_object_set_new(o, "evidence",
				    evidence_list(p, ev.used, ev.n));
		if (ev.final)
			json_object_set_new(
			    o, "note",
			    json_string("decided on this evidence; recorded at "
					"the next evaluation"));
	} else if (m->kind == PLAN_RESULT) {
		json_object_set_new(o, "status", json_string("pending"));
		json_object_set_new(o, "final", json_false());
		json_object_set_new(
		    o, "reason", json_string("not evaluated (out of memory)"));
	} else {
		json_object_set_new(o, "status", json_string("pending"));
		json_object_set_new(o, "final", json_false());
		json_object_set_new(o, "reason",
				    json_pack("s+",
					      "awaiting attestation by the "
					      "coordinating insurer ",
					      p->insurer));
	}
	json_object_set_new(o, "notices",
			    notices ? json_incref(notices) : json_array());
	if (have_ev)
		ms_eval_release(&ev);
	return o;
}

static json_t *kpi_json(const struct plan_kpi *k)
{
	return json_pack(
	    "{s:s,s:s,s:{s:s,s:o},s:o,s:o,s:o,s:s}", "kpi", k->id, "direction",
	    k->direction == PLAN_INCREASE ? "increase" : "decrease", "baseline",
	    "period", k->baseline.label, "value",
	    milestones_value_json(k->baseline_value), "target",
	    milestones_value_json(k->target), "lower",
	    milestones_value_json(k->lower), "upper",
	    milestones_value_json(k->upper), "due", k->due_label);
}

json_t *milestones_status(struct mon_store *s, const struct plan_catalogue *cat,
			  const char *plan_id, int64_t now,
			  struct iza_error *err)
{
	struct plan *p = NULL;
	struct obs_list l = {0};
	struct status_ctx sc = {json_object(), json_object()};
	int64_t version = 0;
	json_t *out = NULL, *ms = NULL, *kpis = NULL;
	size_t i;
	int rc = load_plan(s, cat, plan_id, &p, &version, err);

	if (rc == 0 && (!sc.decisions || !sc.notices))
		rc = -IZA_ENOMEM;
	if (rc == 0)
		rc = s->ops->decision_list(s->impl, plan_id, status_decision,
					   &sc, err);
	if (rc == 0)
		rc = s->ops->notice_list(s->impl, plan_id, "", status_notice,
					 &sc, err);
	if (rc == 0)
		rc = load_observations(s, plan_id, &l, err);
	if (rc == 0) {
		ms = json_array();
		kpis = json_array();
		for (i = 0; ms && i < p->nmilestones; i++)
			json_array_append_new(
			    ms,
			    milestone_json(p, &p->milestones[i], &l, &sc, now));
		for (i = 0; kpis && i < p->nkpis; i++)
			json_array_append_new(kpis, kpi_json(&p->kpis[i]));
		out = json_pack(
		    "{s:s,s:s,s:I,s:o,s:s,s:s,s:o,s:I,s:o,s:o,s:I}", "id",
		    p->id, "name", p->name, "version", (json_int_t)version,
		    "regions", strv_json(p->regions), "coordinating_insurer",
		    p->insurer, "payee", p->payee, "sectors",
		    strv_json(p->sectors), "budget_cents",
		    (json_int_t)p->budget, "kpis", kpis, "milestones", ms,
		    "evaluated_at", (json_int_t)now);
		if (!out)
			iza_error_set(err, -IZA_ENOMEM, NULL, 0, NULL,
				      "out of memory");
	} else if (rc == -IZA_ENOMEM) {
		iza_error_set(err, rc, NULL, 0, NULL, "out of memory");
	}
	json_decref(sc.decisions);
	json_decref(sc.notices);
	obs_free(&l);
	plan_free(p);
	return out;
}

/* points: the latest report per (region, period), by period then region */
struct point {
	const struct observation *o;
	int64_t start;
	int superseded;
};

static int by_period(const void *a, const void *b)
{
	const struct point *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return strcmp(x->o->region, y->o->region);
}

static json_t *kpi_points(const struct plan_kpi *k, const struct obs_list *l)
{
	struct point *pts = calloc(l->n ? l->n : 1, sizeof(*pts));
	json_t *a = json_array();
	size_t i, j, n = 0;

	if (!pts || !a) {
		free(pts);
		json_decref(a);
		return NULL;
	}
	/* report_list gives receipt order, so a later one supersedes */
	for (i = 0; i < l->n; i++) {
		const struct observation *o = &l->v[i];
		struct period per;

		if (strcmp(o->ind.kpi, k->id) != 0 ||
		    period_parse(o->period, &per, NULL) != 0)
			continue;
		for (j = 0; j < n; j++)
			if (strcmp(pts[j].o->region, o->region) == 0 &&
			    strcmp(pts[j].o->period, o->period) == 0)
				break;
		if (j == n)
			pts[n++] = (struct point){o, per.start, 0};
		else
			pts[j] =
			    (struct point){o, per.start, pts[j].superseded + 1};
	}
	qsort(pts, n, sizeof(*pts), by_period);
	for (i = 0; i < n; i++) {
		json_t *pt = observation_json(pts[i].o->region, pts[i].o);

		json_object_set_new(pt, "period",
				    json_string(pts[i].o->period));
		json_object_set_new(pt, "superseded",
				    json_integer(pts[i].superseded));
		json_array_append_new(a, pt);
	}
	free(pts);
	return a;
}

json_t *milestones_indicators(struct mon_store *s,
			      const struct plan_catalogue *cat,
			      const char *plan_id, struct iza_error *err)
{
	struct plan *p = NULL;
	struct obs_list l = {0};
	int64_t version;
	json_t *kpis = NULL, *out = NULL;
	size_t i;
	int rc = load_plan(s, cat, plan_id, &p, &version, err);

	if (rc == 0)
		rc = load_observations(s, plan_id, &l, err);
	if (rc == 0 && (kpis = json_array())) {
		for (i = 0; i < p->nkpis; i++) {
			json_t *k = kpi_json(&p->kpis[i]);

			json_object_set_new(k, "points",
					    kpi_points(&p->kpis[i], &l));
			json_array_append_new(kpis, k);
		}
		out = json_pack("{s:s,s:o}", "plan", p->id, "kpis", kpis);
	}
	obs_free(&l);
	plan_free(p);
	return out;
}

/* ---- notices as text ---- */

struct text_ctx {
	FILE *f;
	bool csv;
	json_t *arr;
};

static int notice_text(void *ctx, const struct mon_notice *n)
{
	struct text_ctx *t = ctx;
	char issued[21];
	json_t *sched, *e;
	size_t i;

	if (!t->csv)
		return json_array_append_new(t->arr, milestones_notice_json(n))
			   ? 1
			   : 0;
	format_utc(n->issued, issued);
	/* every field is a code, a number or a date: nothing to quote */
	fprintf(t->f, "%s,%s,%s,%s,%s,%lld,%lld.%02lld,%s,%s,", n->id, n->plan,
		n->milestone, n->insurer, n->payee, (long long)n->amount,
		(long long)(n->amount / 100), (long long)(n->amount % 100),
		n->key, issued);
	sched = json_loads(n->schedule, 0, NULL);
	json_array_foreach(sched, i, e)
	{
		fprintf(t->f, "%s%s:%lld", i ? " " : "",
			json_string_value(json_object_get(e, "date")),
			(long long)json_integer_value(
			    json_object_get(e, "amount_cents")));
	}
	json_decref(sched);
	fputc('\n', t->f);
	return 0;
}

int milestones_notices_text(struct mon_store *s, const char *plan,
			    const char *insurer, bool csv, char **out,
			    struct iza_error *err)
{
	struct text_ctx t = {NULL, csv, NULL};
	size_t size = 0;
	int rc;

	*out = NULL;
	t.f = open_memstream(out, &size);
	if (!t.f)
		return -IZA_ENOMEM;
	if (csv)
		fputs("notice,plan,milestone,payer_uzovi,payee,amount_cents,"
		      "amount_eur,distribution_key,issued,schedule\n",
		      t.f);
	else if (!(t.arr = json_array())) {
		fclose(t.f);
		free(*out);
		*out = NULL;
		return -IZA_ENOMEM;
	}
	rc = s->ops->notice_list(s->impl, plan, insurer, notice_text, &t, err);
	if (rc == 0 && !csv) {
		json_t *doc = json_pack("{s:o}", "notices", t.arr);

		t.arr = NULL;
		if (!doc || json_dumpf(doc, t.f, JSON_INDENT(2)) != 0)
			rc = -IZA_ENOMEM;
		else
			fputc('\n', t.f);
		json_decref(doc);
	}
	json_decref(t.arr);
	if (fclose(t.f) != 0 && rc == 0)
		rc = -IZA_ENOMEM;
	if (rc) {
		free(*out);
		*out = NULL;
	}
	return rc;
}
