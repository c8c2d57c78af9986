/*
 * gateway.c - the region gateway as one object: loading its components on
 * demand, and the release of a period (gateway.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "disclosure.h"
#include "gateway.h"
#include "jws.h"
#include "outbox.h"
#include "release.h"
#include "report.h"
#include "report_check.h"

long gw_today(void)
{
	int y, m, d;

	ams_local_date((int64_t)time(NULL), &y, &m, &d);
	return (long)days_from_civil(y, m, d);
}

void gw_release(struct gw *g)
{
	pseudo_free(g->ps);
	store_close(g->store);
	ledger_close(g->ledger);
	kpi_set_free(g->kpis);
	mapping_free(g->map);
	mapping_free(g->map_hl7v2);
	mapping_free(g->map_cda);
	vocabulary_free(g->voc);
	refdata_free(g->rd);
	config_free(g->cfg);
}

int gw_load_refdata(struct gw *g)
{
	if (g->rd)
		return 0;
	return refdata_load(config_mapping_file(g->cfg, "regions"), &g->rd,
			    &g->err);
}

int gw_load_key(struct gw *g)
{
	uint8_t key[IZA_KEY_LEN];
	int rc;

	if (g->ps)
		return 0;
	rc = key_load(g->cfg->key_file, key, &g->err);
	if (rc == 0)
		rc = pseudo_new(key, &g->ps);
	memset(key, 0, sizeof(key));
	return rc;
}

int gw_open(struct gw *g, bool need_key)
{
	int rc;

	if (!g->store) {
		rc = config_resolve_region(g->cfg, &g->err);
		if (rc == 0)
			rc = gw_load_refdata(g);
		if (rc == 0)
			rc = store_open(g->cfg->store_path, false, &g->store,
					&g->err);
		if (rc)
			return rc;
	}
	return need_key ? gw_load_key(g) : 0;
}

int gw_load_mapping(struct gw *g)
{
	int rc = 0;

	if (g->map)
		return 0;
	if (!g->voc)
		rc = vocabulary_load(
		    config_mapping_file(g->cfg, "vocabulary.json"), &g->voc,
		    &g->err);

	if (rc == 0)
		rc = mapping_load(config_mapping_file(g->cfg, "fhir-r4.json"),
				  g->voc, &g->map, &g->err);
	if (rc == 0)
		rc = mapping_load(config_mapping_file(g->cfg, "hl7v2.json"),
				  g->voc, &g->map_hl7v2, &g->err);
	if (rc == 0)
		rc = mapping_load(config_mapping_file(g->cfg, "cda.json"),
				  g->voc, &g->map_cda, &g->err);
	return rc;
}

int gw_ingest_setup(struct gw *g, const char *source, const char *sector,
		    int threads, struct ingest_config *ic)
{
	if (!sector) {
		sector = config_source_sector(g->cfg, source);
		if (sector && !vocabulary_has(g->voc, "sectors", sector))
			return iza_error_set(&g->err, -IZA_ECONFIG, NULL, 0,
					     "sources",
					     "sector \"%.32s\" of source %s is "
					     "not in the vocabulary",
					     sector, source);
	}
	if (!sector)
		sector = refdata_sector_of_agb(g->rd, source);
	memset(ic, 0, sizeof(*ic));
	ic->store = g->store;
	ic->mapping = g->map;
	ic->mapping_hl7v2 = g->map_hl7v2;
	ic->mapping_cda = g->map_cda;
	ic->pseudo = g->ps;
	ic->refdata = g->rd;
	ic->region = g->cfg->region;
	ic->source = source;
	ic->default_sector = sector;
	ic->quarantine_dir = g->cfg->quarantine_dir;
	ic->limits.max_line = g->cfg->max_line;
	ic->limits.max_doc = g->cfg->max_doc;
	ic->limits.max_depth = JDOM_DEFAULT_MAX_DEPTH;
	ic->progress = isatty(STDERR_FILENO);
	ic->today = gw_today();
	ic->threads = threads;
	return 0;
}

int gw_released(struct gw *g, const struct period *p, bool record,
		struct kpi_results **out)
{
	struct disclosure_params dp;
	struct kpi_options ko;
	int rc;

	disclosure_params_init(&dp);
	dp.k = g->cfg->k;
	dp.test_override = g->cfg->test_mode;
	dp.provider_rule = g->cfg->provider_rule;
	dp.provider_min = g->cfg->provider_min;
	dp.provider_dominance = g->cfg->provider_dominance;
	dp.provider_nk = g->cfg->provider_nk;
	dp.provider_p = g->cfg->provider_p;
	dp.consent = (const char *const *)g->cfg->provider_consent;

	rc = disclosure_check_params(&dp, &g->err);
	if (rc)
		return rc;
	rc = gw_open(g, false);
	if (rc)
		return rc;
	if (!g->voc)
		rc = vocabulary_load(
		    config_mapping_file(g->cfg, "vocabulary.json"), &g->voc,
		    &g->err);
	if (rc == 0 && !g->kpis) {
		rc = kpi_set_load(config_mapping_file(g->cfg, "kpis.json"),
				  &g->kpis, &g->err);
		if (rc == 0)
			rc = kpi_set_check_vocabulary(
			    g->kpis, config_mapping_file(g->cfg, "kpis.json"),
			    g->voc, &g->err);
	}
	if (rc)
		return rc;
	for (size_t i = 0; i < g->kpis->n && rc == 0; i++)
		if (g->kpis->defs[i].dp_epsilon_milli > 0)
			rc = gw_load_key(g);
	if (rc)
		return rc;
	memset(&ko, 0, sizeof(ko));
	ko.region = g->cfg->region;
	ko.baseline_year = g->cfg->baseline_year;
	ko.count_unknown_residence = g->cfg->count_unknown_residence;
	ko.as_of = (int64_t)time(NULL);
	ko.voc = g->voc;
	rc = kpi_compute(g->kpis, g->store, g->rd, &ko, p, out, &g->err);
	if (rc)
		return rc;
	disclosure_apply(&dp, *out);
	rc = g->ledger ? 0
		       : ledger_open(g->cfg->ledger_path, record, &g->ledger,
				     &g->err);
	if (rc == -IZA_ENOTFOUND && !record) {
		/* nothing released yet: no earlier releases to respect */
		memset(&g->err, 0, sizeof(g->err));
		rc = 0;
	}
	if (rc == 0)
		rc = release_apply(g->ledger, g->ps, *out, dp.k, &g->err);
	return rc;
}

/* The privacy-budget scopes a release of period p is charged to: its
 * quarter (months and quarters) and its year. */
static size_t budget_scopes(const struct period *p, char q[12], char y[12],
			    const char *scopes[3])
{
	size_t n = 0;

	snprintf(y, 12, "%d", p->year);
	if (p->kind != PERIOD_YEAR) {
		snprintf(q, 12, "%d-Q%d", p->year,
			 p->kind == PERIOD_QUARTER ? p->index
						   : (p->index - 1) / 3 + 1);
		scopes[n++] = q;
	}
	scopes[n++] = y;
	scopes[n] = NULL;
	return n;
}

/* Refuse a release that would overspend a privacy budget. */
static int check_budget(struct gw *g, const char *const *scopes, int64_t milli)
{
	size_t i;

	for (i = 0; milli > 0 && scopes[i]; i++) {
		int64_t spent = 0, limit = strchr(scopes[i], 'Q')
					       ? g->cfg->dp_budget_quarter
					       : g->cfg->dp_budget_year;
		int rc = ledger_spent(g->ledger, scopes[i], &spent, &g->err);

		if (rc)
			return rc;
		if (spent + milli > limit)
			return iza_error_set(
			    &g->err, -IZA_EINVALID, g->cfg->ledger_path, 0,
			    "privacy budget",
			    "the privacy budget of %s would be exceeded "
			    "(epsilon %.3f spent + %.3f > %.3f); nothing was "
			    "released",
			    scopes[i], (double)spent / 1000.0,
			    (double)milli / 1000.0, (double)limit / 1000.0);
	}
	return 0;
}

/* A release of r as the ledger will record it: the exact numbers of its
 * cells and its privacy-loss charge, checked against the budgets. */
struct release_plan {
	struct ledger_cell *cells;
	size_t n;
	int64_t milli;
	char q[12], y[12];
	const char *scopes[3];
};

static int plan_release(struct gw *g, const struct kpi_results *r,
			struct release_plan *rp)
{
	int rc;

	memset(rp, 0, sizeof(*rp));
	budget_scopes(&r->period, rp->q, rp->y, rp->scopes);
	rc = release_epsilon(g->ledger, r, &rp->milli, &g->err);
	if (rc == 0)
		rc = check_budget(g, rp->scopes, rp->milli);
	if (rc == 0)
		rc = release_cells(r, &rp->cells, &rp->n);
	return rc;
}

/* The Bundle of release `seq` of r, checked against the allow-list. */
static int build_checked(struct gw *g, const struct kpi_results *r,
			 struct report_meta *meta, int64_t seq,
			 struct gw_report *out)
{
	char name[96];
	int rc;

	json_decref(out->bundle);
	out->bundle = NULL;
	snprintf(name, sizeof(name), "iza-release:v1|%s|%s|%lld", r->region,
		 r->period.label, (long long)seq);
	rc = report_name_uuid(name, out->report_id);
	meta->report_id = out->report_id;
	if (rc == 0)
		rc = report_build(g->kpis, r, meta, &out->bundle, &g->err);
	/* only what passes the allow-list leaves the region */
	if (rc == 0)
		rc = report_check(out->bundle, &g->err);
	return rc;
}

/* The region's signer when signing is configured (*out NULL when not), or
 * an error when the configuration cannot sign what it must: checked before
 * anything is recorded. */
static int load_signer(struct gw *g, bool closes, struct jws_signer **out)
{
	*out = NULL;
	if (!g->cfg->signing_key || !g->cfg->signing_chain) {
		if (closes)
			return iza_error_set(
			    &g->err, -IZA_ECONFIG, NULL, 0, "schedule",
			    "closing periods on a schedule needs signing_key "
			    "and signing_chain (the reports are signed and "
			    "pushed)");
		return 0; /* not queued: the caller says so */
	}
	if (!g->cfg->plan || !g->cfg->plan[0])
		return iza_error_set(&g->err, -IZA_ECONFIG, NULL, 0, "plan",
				     "signed upload needs the plan the region "
				     "reports for (configuration member "
				     "\"plan\")");
	return jws_signer_load(g->cfg->signing_key, g->cfg->signing_chain, out,
			       &g->err);
}

/* Sign the exact bytes of the report and queue them for upload (closes:
 * with the period's closing, outbox.h). */
static int enqueue_signed(struct gw *g, const struct jws_signer *signer,
			  const struct kpi_results *r, int64_t now, bool closes,
			  struct gw_report *out)
{
	struct outbox *ob = NULL;
	struct jws_claims c;
	char *body = NULL, *jws = NULL;
	bool added = false;
	int rc;

	memset(&c, 0, sizeof(c));
	snprintf(c.report_id, sizeof(c.report_id), "%s", out->report_id);
	snprintf(c.region, sizeof(c.region), "%s", r->region);
	snprintf(c.plan, sizeof(c.plan), "%s", g->cfg->plan);
	snprintf(c.period, sizeof(c.period), "%s", r->period.label);
	body = report_dumps(out->bundle);
	rc = body ? jws_sign(signer, &c, body, strlen(body), &jws, &g->err)
		  : -IZA_ENOMEM;
	if (rc == 0)
		rc = outbox_open(g->cfg->outbox_path, true, &ob, &g->err);
	if (rc == 0 && closes)
		rc = outbox_enqueue_closing(ob, out->report_id, c.region,
					    c.plan, c.period, body,
					    strlen(body), jws, now, &g->err);
	else if (rc == 0)
		rc = outbox_enqueue(ob, out->report_id, c.region, c.plan,
				    c.period, body, strlen(body), jws, now,
				    &added, &g->err);
	if (rc == 0)
		out->queued = true;
	outbox_close(ob);
	free(jws);
	free(body);
	return rc;
}

/* The period's report: its metadata, then record, build, check, queue. */
int gw_report_period(struct gw *g, const struct period *p, int64_t now,
		     bool closes, struct gw_report *out)
{
	struct kpi_results *r = NULL;
	struct release_plan rp = {0};
	struct jws_signer *signer = NULL;
	struct report_meta meta;
	int64_t seq = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (closes) {
		struct outbox *ob = NULL;

		rc = outbox_open(g->cfg->outbox_path, true, &ob, &g->err);
		if (rc == 0)
			rc = outbox_closing(ob, p->label, out->closed_by,
					    sizeof(out->closed_by), NULL,
					    &g->err);
		outbox_close(ob);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			out->already_closed = true;
			return 0;
		}
	}
	/* a signing key that cannot be read, or a missing plan, fails here,
	 * before anything is recorded */
	rc = load_signer(g, closes, &signer);
	if (rc)
		return rc;
	rc = gw_released(g, p, true, &r);
	if (rc)
		goto out;
	memset(&meta, 0, sizeof(meta));
	meta.reporter_system = g->cfg->reporter_system;
	meta.reporter_value = g->cfg->region;
	meta.reporter_display = r->region_name;
	meta.measure_base = g->cfg->measure_base;
	meta.kpi_version = g->kpis->version;
	meta.now = now;
	meta.disclosure_rules = DISCLOSURE_RULES;
	meta.disclosure_k = g->cfg->k < DISCLOSURE_MIN_K && !g->cfg->test_mode
				? DISCLOSURE_MIN_K
				: g->cfg->k;
	meta.disclosure_test_mode = g->cfg->test_mode;
	meta.disclosure_rounding = g->cfg->rounding > 1 ? g->cfg->rounding : 0;
	/* the ledger keeps the exact numbers, the report the rounded ones;
	 * the report is built and checked under the release's sequence
	 * number before the release is recorded, so a report that could not
	 * leave the region is not recorded as released */
	rc = plan_release(g, r, &rp);
	if (rc == 0)
		rc = ledger_next_seq(g->ledger, &seq, &g->err);
	if (rc == 0) {
		release_round(r, g->cfg->rounding);
		rc = build_checked(g, r, &meta, seq, out);
	}
	if (rc == 0)
		rc = ledger_append(g->ledger, r->period.label, g->kpis->version,
				   now, rp.cells, rp.n, rp.scopes, rp.milli,
				   &out->release, &g->err);
	/* another process released in between: this one's number differs */
	if (rc == 0 && out->release != seq)
		rc = build_checked(g, r, &meta, out->release, out);
	out->budget_charged = rc == 0 && rp.milli > 0;
	if (rc == 0 && signer)
		rc = enqueue_signed(g, signer, r, now, closes, out);
out:
	if (rc) {
		json_decref(out->bundle);
		out->bundle = NULL;
	}
	free(rp.cells);
	kpi_results_free(r);
	jws_signer_free(signer);
	return rc;
}
