/*
 * kpi.c - KPI definitions and the engine that computes them over the event
 * store.  See kpi.h and docs/kpi-catalogue.md.
 */
#include "kpi.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "keyset.h"
#include "mapping.h"
#include "refdata.h"
#include "store.h"

#define KE (-IZA_ECONFIG)

/* ---- definitions ------------------------------------------------------ */

static void select_free(struct kpi_select *s)
{
	jutil_strv_free(s->type);
	jutil_strv_free(s->channel);
	jutil_strv_free(s->sector);
	jutil_strv_free(s->urgency);
	jutil_strv_free(s->disposition);
}

void kpi_set_free(struct kpi_set *ks)
{
	size_t i, j;

	if (!ks)
		return;
	for (i = 0; i < ks->n; i++) {
		struct kpi_def *d = &ks->defs[i];

		free(d->id);
		free(d->title);
		free(d->description);
		free(d->unit);
		free(d->of);
		select_free(&d->select);
		select_free(&d->numerator);
		for (j = 0; d->stratifiers[j]; j++)
			free(d->stratifiers[j]);
		jutil_strv_free(d->structural_zeros);
	}
	free(ks->defs);
	free(ks->version);
	jutil_strv_free(ks->counted_statuses);
	free(ks);
}

const struct kpi_def *kpi_set_find(const struct kpi_set *ks, const char *id)
{
	size_t i;

	for (i = 0; i < ks->n; i++)
		if (strcmp(ks->defs[i].id, id) == 0)
			return &ks->defs[i];
	return NULL;
}

static int load_select(const char *file, const char *where, const json_t *obj,
		       const char *key, bool required, struct kpi_select *s,
		       struct iza_error *err)
{
	static const char *const keys[] = {"type",    "channel",     "sector",
					   "urgency", "disposition", NULL};
	static char *const urgencies[] = {"U0", "U1", "U2",	 "U3",
					  "U4", "U5", "unknown", NULL};
	size_t i;
	const json_t *sel = json_object_get(obj, key);
	char w[IZA_ERR_FIELD_MAX];
	int rc;

	snprintf(w, sizeof(w), "%s.%s", where, key);
	if (!sel) {
		if (required)
			return iza_error_set(err, KE, file, 0, w,
					     "required member missing");
		return 0;
	}
	rc = jutil_check_keys(file, w, sel, keys, KE, err);
	if (rc == 0)
		rc = jutil_strv(file, w, sel, "type", false, &s->type, KE, err);
	if (rc == 0)
		rc = jutil_strv(file, w, sel, "channel", false, &s->channel, KE,
				err);
	if (rc == 0)
		rc = jutil_strv(file, w, sel, "sector", false, &s->sector, KE,
				err);
	if (rc == 0)
		rc = jutil_strv(file, w, sel, "urgency", false, &s->urgency, KE,
				err);
	for (i = 0; rc == 0 && s->urgency && s->urgency[i]; i++)
		if (!jutil_strv_has(urgencies, s->urgency[i]))
			rc = iza_error_set(err, KE, file, 0, w,
					   "urgency \"%.20s\" is not U0 to U5 "
					   "or unknown",
					   s->urgency[i]);
	if (rc == 0)
		rc = jutil_strv(file, w, sel, "disposition", false,
				&s->disposition, KE, err);
	return rc;
}

static const struct {
	const char *name;
	enum kpi_kind kind;
} kinds[] = {{"count", KPI_COUNT},
	     {"distinct_persons", KPI_DISTINCT},
	     {"share", KPI_SHARE},
	     {"bed_days", KPI_BED_DAYS},
	     {"avoided", KPI_AVOIDED}};

static const char *const known_stratifiers[] = {"age_band", "sector", "channel",
						"hour_of_week", NULL};

/* "structural_zeros": ["age_band=0-17", ...]: each names one of the KPI's
 * stratifiers; count, distinct_persons and bed_days only. */
static int load_structural(const char *file, const char *where,
			   const json_t *obj, struct kpi_def *d,
			   struct iza_error *err)
{
	size_t i, j;
	int rc = jutil_strv(file, where, obj, "structural_zeros", false,
			    &d->structural_zeros, KE, err);

	if (rc || !d->structural_zeros)
		return rc;
	if (d->kind != KPI_COUNT && d->kind != KPI_DISTINCT &&
	    d->kind != KPI_BED_DAYS)
		return iza_error_set(err, KE, file, 0, where,
				     "structural_zeros is available for "
				     "count, distinct_persons and bed_days "
				     "KPIs");
	for (i = 0; d->structural_zeros[i]; i++) {
		const char *z = d->structural_zeros[i], *eq = strchr(z, '=');
		bool known = false;

		for (j = 0; eq && d->stratifiers[j]; j++)
			if (strlen(d->stratifiers[j]) == (size_t)(eq - z) &&
			    strncmp(d->stratifiers[j], z, (size_t)(eq - z)) ==
				0)
				known = true;
		if (!known || !eq[1])
			return iza_error_set(err, KE, file, 0, where,
					     "structural_zeros[%zu] must be "
					     "\"stratifier=stratum\" with one "
					     "of the KPI's stratifiers",
					     i);
	}
	return 0;
}

/* "dp": {"epsilon": 0.001..10 (three decimals), "bound": 1..1000}. */
static int load_dp(const char *file, const char *where, const json_t *dp,
		   struct kpi_def *d, struct iza_error *err)
{
	static const char *const keys[] = {"epsilon", "bound", "description",
					   NULL};
	const json_t *e, *b;
	double eps, milli;
	int rc;

	if (!dp)
		return 0;
	if (!json_is_object(dp))
		return iza_error_set(err, KE, file, 0, where,
				     "dp must be an object {\"epsilon\", "
				     "\"bound\"}");
	rc = jutil_check_keys(file, where, dp, keys, KE, err);
	if (rc)
		return rc;
	if (d->kind != KPI_COUNT && d->kind != KPI_DISTINCT &&
	    d->kind != KPI_BED_DAYS)
		return iza_error_set(err, KE, file, 0, where,
				     "dp is available for count, "
				     "distinct_persons and bed_days KPIs");
	e = json_object_get(dp, "epsilon");
	b = json_object_get(dp, "bound");
	eps = json_is_number(e) ? json_number_value(e) : -1;
	milli = eps * 1000.0;
	if (!(eps >= 0.001 && eps <= 10.0) ||
	    milli - (double)(int64_t)(milli + 0.5) > 1e-6 ||
	    (double)(int64_t)(milli + 0.5) - milli > 1e-6)
		return iza_error_set(err, KE, file, 0, where,
				     "dp.epsilon must be a number from 0.001 "
				     "to 10 with at most three decimals");
	if (!json_is_integer(b) || json_integer_value(b) < 1 ||
	    json_integer_value(b) > 1000)
		return iza_error_set(err, KE, file, 0, where,
				     "dp.bound must be an integer from 1 to "
				     "1000 (events or bed days one person "
				     "may add to a cell)");
	d->dp_epsilon_milli = (int64_t)(milli + 0.5);
	d->dp_bound = d->kind == KPI_DISTINCT ? 1 : json_integer_value(b);
	return 0;
}

static int load_def(const char *file, const json_t *obj, size_t idx,
		    struct kpi_def *d, struct iza_error *err)
{
	static const char *const keys[] = {
	    "id",	   "title",	  "description", "kind",
	    "unit",	   "select",	  "numerator",	 "of",
	    "improvement", "stratifiers", "dp",		 "structural_zeros",
	    NULL};
	char where[IZA_ERR_FIELD_MAX];
	const char *s;
	char **strat = NULL;
	size_t i;
	int rc;

	snprintf(where, sizeof(where), "kpis[%zu]", idx);
	rc = jutil_check_keys(file, where, obj, keys, KE, err);
	if (rc)
		return rc;
	rc = jutil_string(file, where, obj, "id", true, &s, KE, err);
	if (rc)
		return rc;
	d->id = strdup(s);
	snprintf(where, sizeof(where), "kpis[%.48s]", s);
#define STR_FIELD(key, dst, req)                                               \
	do {                                                                   \
		rc = jutil_string(file, where, obj, key, req, &s, KE, err);    \
		if (rc)                                                        \
			return rc;                                             \
		dst = jutil_strdup(s);                                         \
	} while (0)
	STR_FIELD("title", d->title, true);
	STR_FIELD("description", d->description, true);
	STR_FIELD("unit", d->unit, true);
	STR_FIELD("of", d->of, false);
#undef STR_FIELD
	rc = jutil_string(file, where, obj, "kind", true, &s, KE, err);
	if (rc)
		return rc;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].name, s) == 0)
			break;
	if (i == sizeof(kinds) / sizeof(kinds[0]))
		return iza_error_set(err, KE, file, 0, where,
				     "kind must be count, distinct_persons, "
				     "share, bed_days or avoided");
	d->kind = kinds[i].kind;
	rc = jutil_string(file, where, obj, "improvement", true, &s, KE, err);
	if (rc)
		return rc;
	if (strcmp(s, "decrease") != 0 && strcmp(s, "increase") != 0)
		return iza_error_set(err, KE, file, 0, where,
				     "improvement must be increase or "
				     "decrease");
	d->improvement_down = strcmp(s, "decrease") == 0;
	rc = load_select(file, where, obj, "select", d->kind != KPI_AVOIDED,
			 &d->select, err);
	if (rc)
		return rc;
	rc = load_select(file, where, obj, "numerator", d->kind == KPI_SHARE,
			 &d->numerator, err);
	if (rc)
		return rc;
	if (d->kind == KPI_AVOIDED && !d->of)
		return iza_error_set(err, KE, file, 0, where,
				     "an avoided KPI needs \"of\"");
	rc =
	    jutil_strv(file, where, obj, "stratifiers", false, &strat, KE, err);
	if (rc)
		return rc;
	for (i = 0; strat && strat[i]; i++) {
		if (i == KPI_MAX_STRATIFIERS ||
		    !jutil_strv_has((char *const *)(uintptr_t)known_stratifiers,
				    strat[i])) {
			jutil_strv_free(strat);
			return iza_error_set(err, KE, file, 0, where,
					     "stratifier %zu must be one of "
					     "age_band, sector, channel (at "
					     "most %d)",
					     i, KPI_MAX_STRATIFIERS);
		}
		d->stratifiers[i] = strat[i];
	}
	free(strat); /* the strings moved into d->stratifiers */
	rc = load_structural(file, where, obj, d, err);
	if (rc)
		return rc;
	return load_dp(file, where, json_object_get(obj, "dp"), d, err);
}

bool kpi_structural_zero(const struct kpi_def *d, const char *stratifier,
			 const char *value)
{
	size_t i, n;

	for (i = 0; d && d->structural_zeros && d->structural_zeros[i]; i++) {
		const char *z = d->structural_zeros[i];

		n = strlen(stratifier);
		if (strncmp(z, stratifier, n) == 0 && z[n] == '=' &&
		    strcmp(z + n + 1, value) == 0)
			return true;
	}
	return false;
}

int kpi_set_load(const char *path, struct kpi_set **out, struct iza_error *err)
{
	static const char *const keys[] = {"format",	       "version",
					   "counted_statuses", "kpis",
					   "description",      NULL};
	struct kpi_set *ks = NULL;
	json_t *root = NULL, *arr;
	const char *s;
	size_t i, j;
	int rc;

	rc = jutil_load_file(path, &root, err);
	if (rc)
		return rc;
	rc = jutil_check_keys(path, "kpis", root, keys, KE, err);
	if (rc)
		goto out;
	rc = jutil_string(path, "kpis", root, "format", true, &s, KE, err);
	if (rc)
		goto out;
	if (strcmp(s, "iza-kpis/1") != 0) {
		rc = iza_error_set(err, KE, path, 0, "format",
				   "expected \"iza-kpis/1\"");
		goto out;
	}
	ks = calloc(1, sizeof(*ks));
	if (!ks) {
		rc = -IZA_ENOMEM;
		goto out;
	}
	rc = jutil_string(path, "kpis", root, "version", true, &s, KE, err);
	if (rc)
		goto out;
	ks->version = strdup(s);
	rc = jutil_strv(path, "kpis", root, "counted_statuses", true,
			&ks->counted_statuses, KE, err);
	if (rc)
		goto out;
	arr = json_object_get(root, "kpis");
	if (!json_is_array(arr) || json_array_size(arr) == 0) {
		rc = iza_error_set(err, KE, path, 0, "kpis",
				   "expected a non-empty array");
		goto out;
	}
	ks->defs = calloc(json_array_size(arr), sizeof(*ks->defs));
	if (!ks->defs) {
		rc = -IZA_ENOMEM;
		goto out;
	}
	for (i = 0; i < json_array_size(arr); i++) {
		rc = load_def(path, json_array_get(arr, i), i, &ks->defs[i],
			      err);
		ks->n = i + 1;
		if (rc)
			goto out;
		for (j = 0; j < i; j++)
			if (strcmp(ks->defs[j].id, ks->defs[i].id) == 0) {
				rc = iza_error_set(err, KE, path, 0,
						   ks->defs[i].id,
						   "duplicate KPI id");
				goto out;
			}
	}
	for (i = 0; i < ks->n; i++) {
		const struct kpi_def *d = &ks->defs[i], *of;

		if (d->kind != KPI_AVOIDED)
			continue;
		of = kpi_set_find(ks, d->of);
		if (!of || of->kind != KPI_COUNT) {
			rc = iza_error_set(err, KE, path, 0, d->id,
					   "\"of\" must name a count KPI");
			goto out;
		}
	}
	*out = ks;
	ks = NULL;
out:
	kpi_set_free(ks);
	json_decref(root);
	return rc;
}

static int check_list(const char *file, const char *id, const char *what,
		      char *const *list, const struct vocabulary *voc,
		      const char *kind, struct iza_error *err)
{
	size_t i;

	for (i = 0; list && list[i]; i++)
		if (!vocabulary_has(voc, kind, list[i]))
			return iza_error_set(err, KE, file, 0, id,
					     "%s \"%.40s\" is not in the "
					     "vocabulary's %s",
					     what, list[i], kind);
	return 0;
}

/* dispositions: the vocabulary's, or "unknown" (none recorded) */
static int check_dispositions(const char *file, const char *id,
			      char *const *list, const struct vocabulary *voc,
			      struct iza_error *err)
{
	size_t i;

	for (i = 0; list && list[i]; i++)
		if (strcmp(list[i], "unknown") != 0 &&
		    !vocabulary_has(voc, "dispositions", list[i]))
			return iza_error_set(err, KE, file, 0, id,
					     "disposition \"%.40s\" is not in "
					     "the vocabulary's dispositions",
					     list[i]);
	return 0;
}

int kpi_set_check_vocabulary(const struct kpi_set *ks, const char *file,
			     const struct vocabulary *voc,
			     struct iza_error *err)
{
	size_t i;
	int rc;

	rc = check_list(file, "counted_statuses", "status",
			ks->counted_statuses, voc, "statuses", err);
	for (i = 0; rc == 0 && i < ks->n; i++) {
		const struct kpi_def *d = &ks->defs[i];
		const struct kpi_select *sel[2] = {&d->select, &d->numerator};
		size_t k;

		for (k = 0; rc == 0 && k < 2; k++) {
			rc = check_list(file, d->id, "type", sel[k]->type, voc,
					"types", err);
			if (rc == 0)
				rc = check_list(file, d->id, "channel",
						sel[k]->channel, voc,
						"channels", err);
			if (rc == 0)
				rc = check_list(file, d->id, "sector",
						sel[k]->sector, voc, "sectors",
						err);
			if (rc == 0)
				rc = check_dispositions(
				    file, d->id, sel[k]->disposition, voc, err);
		}
	}
	return rc;
}

/* ---- computation ------------------------------------------------------ */

/* Contributions per provider: a small array searched linearly, with the
 * last provider cached (events arrive in runs from one source). */
struct providers {
	char (*id)[33];
	int64_t *amount;
	size_t n, cap, last;
	bool overflow;
};

struct tally {
	int64_t count; /* events, or bed days */
	int64_t num;   /* share numerator events */
	struct keyset persons, num_persons, rest_persons;
	struct providers prov;
};

static int providers_add(struct providers *p, const char *id, int64_t amount)
{
	size_t i;

	if (!id)
		id = "";
	if (p->n && strcmp(p->id[p->last], id) == 0) {
		p->amount[p->last] += amount;
		return 0;
	}
	for (i = 0; i < p->n; i++)
		if (strcmp(p->id[i], id) == 0) {
			p->amount[i] += amount;
			p->last = i;
			return 0;
		}
	if (p->n == KPI_MAX_PROVIDERS) {
		p->overflow = true;
		return 0;
	}
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		char(*nid)[33] = realloc(p->id, cap * sizeof(*nid));
		int64_t *na;

		if (!nid)
			return -IZA_ENOMEM;
		p->id = nid;
		na = realloc(p->amount, cap * sizeof(*na));
		if (!na)
			return -IZA_ENOMEM;
		p->amount = na;
		p->cap = cap;
	}
	snprintf(p->id[p->n], sizeof(p->id[p->n]), "%s", id);
	p->amount[p->n] = amount;
	p->last = p->n++;
	return 0;
}

/* The provider figures of a tally into cell. */
static void providers_fill(const struct providers *p, struct kpi_cell *cell)
{
	size_t i;
	int t;

	cell->nproviders = p->overflow ? -1 : (int)p->n;
	cell->prov_total = 0;
	cell->prov_top[0] = cell->prov_top[1] = 0;
	cell->prov_top_id[0][0] = cell->prov_top_id[1][0] = '\0';
	for (i = 0; i < p->n; i++) {
		int64_t a = p->amount[i];

		cell->prov_total += a;
		t = a > cell->prov_top[0] ? 0 : a > cell->prov_top[1] ? 1 : 2;
		if (t == 0) {
			cell->prov_top[1] = cell->prov_top[0];
			memcpy(cell->prov_top_id[1], cell->prov_top_id[0], 33);
		}
		if (t < 2) {
			cell->prov_top[t] = a;
			snprintf(cell->prov_top_id[t], 33, "%s", p->id[i]);
		}
	}
}

struct stratum_tally {
	char stratifier[24];
	char value[24];
	struct tally t;
};

struct scan_ctx {
	const struct kpi_def *def;
	const struct kpi_options *opt;
	const struct period *p;
	int64_t as_of;
	struct tally total;
	struct stratum_tally *strata;
	size_t nstrata;
	int64_t outside, unknown;
	int rc;
};

static void tally_init(struct tally *t)
{
	memset(t, 0, sizeof(*t));
	keyset_init(&t->persons);
	keyset_init(&t->num_persons);
	keyset_init(&t->rest_persons);
}

static void tally_release(struct tally *t)
{
	keyset_release(&t->persons);
	keyset_release(&t->num_persons);
	keyset_release(&t->rest_persons);
	free(t->prov.id);
	free(t->prov.amount);
}

static bool select_has(char *const *list, const char *v)
{
	return !list || jutil_strv_has(list, v);
}

static bool selected(const struct kpi_select *s, const struct event_row *row)
{
	char u[8] = "unknown";

	if (row->urgency >= 0 && row->urgency <= 5)
		snprintf(u, sizeof(u), "U%d", row->urgency);
	return select_has(s->type, row->type) &&
	       select_has(s->channel, row->channel) &&
	       select_has(s->sector, row->sector) &&
	       select_has(s->urgency, u) &&
	       select_has(s->disposition,
			  row->disposition && row->disposition[0]
			      ? row->disposition
			      : "unknown");
}

static const char *const age_bands[] = {"0-17", "18-64", "65+", "unknown",
					NULL};

/* Monday 00:00-00:59 ... Sunday 23:00-23:59, Europe/Amsterdam */
static const char *const hours_of_week[] = {
    "mon-00", "mon-01", "mon-02", "mon-03", "mon-04", "mon-05", "mon-06",
    "mon-07", "mon-08", "mon-09", "mon-10", "mon-11", "mon-12", "mon-13",
    "mon-14", "mon-15", "mon-16", "mon-17", "mon-18", "mon-19", "mon-20",
    "mon-21", "mon-22", "mon-23", "tue-00", "tue-01", "tue-02", "tue-03",
    "tue-04", "tue-05", "tue-06", "tue-07", "tue-08", "tue-09", "tue-10",
    "tue-11", "tue-12", "tue-13", "tue-14", "tue-15", "tue-16", "tue-17",
    "tue-18", "tue-19", "tue-20", "tue-21", "tue-22", "tue-23", "wed-00",
    "wed-01", "wed-02", "wed-03", "wed-04", "wed-05", "wed-06", "wed-07",
    "wed-08", "wed-09", "wed-10", "wed-11", "wed-12", "wed-13", "wed-14",
    "wed-15", "wed-16", "wed-17", "wed-18", "wed-19", "wed-20", "wed-21",
    "wed-22", "wed-23", "thu-00", "thu-01", "thu-02", "thu-03", "thu-04",
    "thu-05", "thu-06", "thu-07", "thu-08", "thu-09", "thu-10", "thu-11",
    "thu-12", "thu-13", "thu-14", "thu-15", "thu-16", "thu-17", "thu-18",
    "thu-19", "thu-20", "thu-21", "thu-22", "thu-23", "fri-00", "fri-01",
    "fri-02", "fri-03", "fri-04", "fri-05", "fri-06", "fri-07", "fri-08",
    "fri-09", "fri-10", "fri-11", "fri-12", "fri-13", "fri-14", "fri-15",
    "fri-16", "fri-17", "fri-18", "fri-19", "fri-20", "fri-21", "fri-22",
    "fri-23", "sat-00", "sat-01", "sat-02", "sat-03", "sat-04", "sat-05",
    "sat-06", "sat-07", "sat-08", "sat-09", "sat-10", "sat-11", "sat-12",
    "sat-13", "sat-14", "sat-15", "sat-16", "sat-17", "sat-18", "sat-19",
    "sat-20", "sat-21", "sat-22", "sat-23", "sun-00", "sun-01", "sun-02",
    "sun-03", "sun-04", "sun-05", "sun-06", "sun-07", "sun-08", "sun-09",
    "sun-10", "sun-11", "sun-12", "sun-13", "sun-14", "sun-15", "sun-16",
    "sun-17", "sun-18", "sun-19", "sun-20", "sun-21", "sun-22", "sun-23",
    NULL};

/* The local hour of the week an event starts in. */
static const char *hour_of_week(const struct event_row *row)
{
	int64_t local = row->start + ams_offset_at_utc(row->start);
	int64_t day = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
	int64_t secs = local - day * 86400;
	/* 1970-01-01 was a Thursday: day 0 is index 3 from Monday */
	int64_t wd = ((day % 7) + 7 + 3) % 7;

	return hours_of_week[wd * 24 + secs / 3600];
}

/* Age reached in the calendar year of the event, banded. */
static const char *age_band(const struct event_row *row)
{
	int y, m, d, age;

	if (row->birth_year <= 0)
		return "unknown";
	ams_local_date(row->start, &y, &m, &d);
	age = y - row->birth_year;
	if (age < 0)
		return "unknown";
	if (age < 18)
		return "0-17";
	if (age < 65)
		return "18-64";
	return "65+";
}

static const char *stratum_value(const char *stratifier,
				 const struct event_row *row)
{
	if (strcmp(stratifier, "age_band") == 0)
		return age_band(row);
	if (strcmp(stratifier, "sector") == 0)
		return row->sector[0] ? row->sector : "unknown";
	if (strcmp(stratifier, "hour_of_week") == 0)
		return hour_of_week(row);
	return row->channel;
}

static struct tally *stratum(struct scan_ctx *c, const char *stratifier,
			     const char *value)
{
	struct stratum_tally *st;
	size_t i;

	for (i = 0; i < c->nstrata; i++)
		if (strcmp(c->strata[i].stratifier, stratifier) == 0 &&
		    strcmp(c->strata[i].value, value) == 0)
			return &c->strata[i].t;
	if (c->nstrata == KPI_MAX_STRATA)
		return NULL;
	st = &c->strata[c->nstrata++];
	snprintf(st->stratifier, sizeof(st->stratifier), "%s", stratifier);
	snprintf(st->value, sizeof(st->value), "%s", value);
	tally_init(&st->t);
	return &st->t;
}

/* Local midnights m with a < m <= b. */
static int64_t midnights_between(int64_t a, int64_t b)
{
	int ya, ma, da, yb, mb, db;

	if (b <= a)
		return 0;
	ams_local_date(a, &ya, &ma, &da);
	ams_local_date(b, &yb, &mb, &db);
	return days_from_civil(yb, mb, db) - days_from_civil(ya, ma, da);
}

static int add_row(struct scan_ctx *c, struct tally *t,
		   const struct event_row *row)
{
	const struct kpi_def *d = c->def;
	int rc;

	int64_t n = 1;

	if (d->kind == KPI_BED_DAYS) {
		int64_t a = row->start > c->p->start ? row->start : c->p->start;
		int64_t e = row->end != IZA_TIME_NONE ? row->end : c->as_of;
		int64_t b = e < c->p->end ? e : c->p->end;

		n = midnights_between(a, b);
		if (n == 0)
			return 0;
	}
	if (d->dp_bound > 0) {
		/* contribution bound: one person adds at most dp_bound
		 * events or bed days to a cell, so the noise scale covers
		 * any one person's effect */
		int64_t before = 0;

		rc = keyset_add_amount(&t->persons, row->pseudonym, n, &before);
		if (rc < 0)
			return rc;
		n = before >= d->dp_bound      ? 0
		    : before + n > d->dp_bound ? d->dp_bound - before
					       : n;
	} else {
		rc = keyset_add(&t->persons, row->pseudonym);
		if (rc < 0)
			return rc;
	}
	t->count += n;
	rc = n ? providers_add(&t->prov, row->provider, n) : 0;
	if (rc < 0)
		return rc;
	if (d->kind == KPI_SHARE) {
		if (selected(&d->numerator, row)) {
			t->num++;
			rc = keyset_add(&t->num_persons, row->pseudonym);
		} else {
			rc = keyset_add(&t->rest_persons, row->pseudonym);
		}
	}
	return rc < 0 ? rc : 0;
}

static int on_row(void *ctx, const struct event_row *row)
{
	struct scan_ctx *c = ctx;
	size_t i;
	int rc;

	if (!selected(&c->def->select, row))
		return 0;
	if (!row->pseudonym || !row->region[0]) {
		if (!c->opt->count_unknown_residence || !row->pseudonym) {
			c->unknown++;
			return 0;
		}
	} else if (strcmp(row->region, c->opt->region) != 0) {
		c->outside++;
		return 0;
	}
	rc = add_row(c, &c->total, row);
	for (i = 0; rc == 0 && c->def->stratifiers[i]; i++) {
		const char *s = c->def->stratifiers[i];
		struct tally *t = stratum(c, s, stratum_value(s, row));

		rc = t ? add_row(c, t, row) : -IZA_ETOOBIG;
	}
	if (rc)
		c->rc = rc;
	return rc ? 1 : 0;
}

static void fill_cell(const struct kpi_def *d, const struct tally *t,
		      struct kpi_cell *cell)
{
	memset(cell, 0, sizeof(*cell));
	cell->persons = (int64_t)t->persons.n;
	cell->den_persons = (int64_t)t->persons.n;
	providers_fill(&t->prov, cell);
	switch (d->kind) {
	case KPI_COUNT:
	case KPI_BED_DAYS:
		cell->has_value = true;
		cell->value = (double)t->count;
		cell->has_numerator = true;
		cell->numerator = t->count;
		break;
	case KPI_DISTINCT:
		cell->has_value = true;
		cell->value = (double)t->persons.n;
		cell->has_numerator = true;
		cell->numerator = (int64_t)t->persons.n;
		break;
	case KPI_SHARE:
		cell->has_numerator = cell->has_denominator = true;
		cell->numerator = t->num;
		cell->denominator = t->count;
		cell->persons = (int64_t)t->num_persons.n;
		cell->rest_persons = (int64_t)t->rest_persons.n;
		/* an empty denominator is a zero cell: disclosure control
		 * suppresses it like any other small cell */
		cell->has_value = true;
		cell->value =
		    t->count > 0 ? (double)t->num / (double)t->count : 0.0;
		break;
	case KPI_AVOIDED:
		break;
	}
}

/* Prepare c to tally def d over period p (no scan yet). */
static int scan_setup(const struct kpi_def *d, const struct kpi_options *opt,
		      const struct period *p, struct scan_ctx *c)
{
	size_t i, j;

	memset(c, 0, sizeof(*c));
	c->def = d;
	c->opt = opt;
	c->p = p;
	c->as_of = opt->as_of ? opt->as_of : p->end;
	tally_init(&c->total);
	c->strata = calloc(KPI_MAX_STRATA, sizeof(*c->strata));
	if (!c->strata)
		return -IZA_ENOMEM;
	/* every stratum is reported, even when empty: an absent stratum
	 * would disclose a zero that disclosure control must suppress.  Age
	 * bands are fixed; sectors and channels come from the vocabulary,
	 * those the KPI's selection excludes left out (always zero by
	 * definition) */
	for (i = 0; d->stratifiers[i]; i++) {
		const char *sf = d->stratifiers[i];
		const char *const *vals = age_bands;
		char *const *allowed = NULL;

		if (strcmp(sf, "sector") == 0) {
			vals = vocabulary_list(opt->voc, "sectors");
			allowed = d->select.sector;
			if (vals && !stratum(c, sf, "unknown"))
				return -IZA_ETOOBIG;
		} else if (strcmp(sf, "channel") == 0) {
			vals = vocabulary_list(opt->voc, "channels");
			allowed = d->select.channel;
		} else if (strcmp(sf, "hour_of_week") == 0) {
			vals = hours_of_week;
		}
		for (j = 0; vals && vals[j]; j++)
			if (select_has(allowed, vals[j]) &&
			    !stratum(c, sf, vals[j]))
				return -IZA_ETOOBIG;
	}
	return 0;
}

static void scan_release(struct scan_ctx *c)
{
	size_t i;

	tally_release(&c->total);
	for (i = 0; c->strata && i < c->nstrata; i++)
		tally_release(&c->strata[i].t);
	free(c->strata);
	c->strata = NULL;
}

/* Several KPIs tallied in one pass over the store. */
struct multi_scan {
	struct scan_ctx *ctx;
	size_t n;
	const struct period *p;
};

static int on_multi_row(void *arg, const struct event_row *row)
{
	struct multi_scan *ms = arg;
	size_t i;

	for (i = 0; i < ms->n; i++) {
		struct scan_ctx *c = &ms->ctx[i];

		/* the scan may include stays overlapping the period for bed
		 * days; every other kind counts events starting in it */
		if (c->def->kind != KPI_BED_DAYS &&
		    (row->start < ms->p->start || row->start >= ms->p->end))
			continue;
		if (on_row(c, row))
			return 1;
	}
	return 0;
}

/* Add the types of sel to the NULL-terminated set u (capacity cap);
 * false when sel selects every type (no type list). */
static bool union_types(const struct kpi_select *sel, const char **u,
			size_t cap)
{
	size_t i, k;

	if (!sel->type)
		return false;
	for (i = 0; sel->type[i]; i++) {
		for (k = 0; u[k]; k++)
			if (strcmp(u[k], sel->type[i]) == 0)
				break;
		if (!u[k]) {
			if (k + 1 >= cap)
				return false;
			u[k] = sel->type[i];
			u[k + 1] = NULL;
		}
	}
	return true;
}

/* Tally ctx[0..n) (set up for period p) in one scan of the store. */
static int scan_many(const struct kpi_set *ks, struct store *st,
		     struct scan_ctx *ctx, size_t n, const struct period *p,
		     struct iza_error *err)
{
	const char *types[64] = {NULL};
	bool all_types = false;
	struct event_filter f;
	struct multi_scan ms = {.ctx = ctx, .n = n, .p = p};
	size_t i;
	int rc;

	memset(&f, 0, sizeof(f));
	f.from = p->start;
	f.to = p->end;
	for (i = 0; i < n; i++) {
		if (ctx[i].def->kind == KPI_BED_DAYS)
			f.overlap = true;
		if (!union_types(&ctx[i].def->select, types, 64))
			all_types = true;
	}
	f.types = all_types ? NULL : types;
	f.statuses = (const char *const *)ks->counted_statuses;
	rc = store_scan(st, &f, on_multi_row, &ms, err);
	for (i = 0; rc >= 0 && i < n; i++)
		if (ctx[i].rc)
			rc = ctx[i].rc;
	return rc > 0 ? 0 : rc;
}

/* The avoided-visits cell of d from the observed tally of its count KPI
 * and a baseline tally. */
static void fill_avoided(const struct kpi_options *opt,
			 const struct refdata *rd, const struct period *p,
			 const struct scan_ctx *observed,
			 const struct scan_ctx *baseline, struct kpi_cell *cell)
{
	memset(cell, 0, sizeof(*cell));
	cell->numerator = observed->total.count;
	cell->persons = (int64_t)observed->total.persons.n;
	providers_fill(&observed->total.prov, cell);
	cell->has_numerator = true;
	cell->baseline_year = opt->baseline_year;
	if (!baseline) {
		snprintf(cell->reason, sizeof(cell->reason), "%s",
			 opt->baseline_year <= 0 ? "no baseline year configured"
						 : "invalid baseline period");
		return;
	}
	cell->baseline = baseline->total.count;
	cell->baseline_persons = (int64_t)baseline->total.persons.n;
	cell->pop_period = refdata_population(rd, opt->region, p->year,
					      &cell->pop_period_year_used);
	cell->pop_baseline = refdata_population(
	    rd, opt->region, opt->baseline_year, &cell->pop_baseline_year_used);
	if (cell->pop_period <= 0 || cell->pop_baseline <= 0) {
		snprintf(cell->reason, sizeof(cell->reason),
			 "no population figure for the region");
		return;
	}
	cell->expected = (double)cell->baseline * (double)cell->pop_period /
			 (double)cell->pop_baseline;
	cell->has_denominator = true;
	cell->denominator = (int64_t)(cell->expected + 0.5);
	cell->has_value = true;
	cell->value = cell->expected - (double)cell->numerator;
}

void kpi_results_free(struct kpi_results *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->n; i++)
		free(r->values[i].strata);
	free(r->values);
	free(r);
}

static int cmp_strata(const void *a, const void *b)
{
	const struct kpi_stratum *x = a, *y = b;
	int c = strcmp(x->stratifier, y->stratifier);

	return c ? c : strcmp(x->value, y->value);
}

static int copy_value(const struct kpi_def *d, const struct scan_ctx *c,
		      struct kpi_value *v)
{
	size_t j;

	fill_cell(d, &c->total, &v->cell);
	if (!c->nstrata)
		return 0;
	v->strata = calloc(c->nstrata, sizeof(*v->strata));
	if (!v->strata)
		return -IZA_ENOMEM;
	for (j = 0; j < c->nstrata; j++) {
		struct kpi_stratum *s = &v->strata[j];

		snprintf(s->stratifier, sizeof(s->stratifier), "%s",
			 c->strata[j].stratifier);
		snprintf(s->value, sizeof(s->value), "%s", c->strata[j].value);
		fill_cell(d, &c->strata[j].t, &s->cell);
	}
	v->nstrata = c->nstrata;
	qsort(v->strata, v->nstrata, sizeof(*v->strata), cmp_strata);
	return 0;
}

/*
 * Two passes over the store at most: one over the period for every KPI
 * (an avoided KPI reads the tally of the count KPI it names), and, when an
 * avoided KPI is defined, one over the same months of the baseline year
 * for the count KPIs it needs.
 */
int kpi_compute(const struct kpi_set *ks, struct store *st,
		const struct refdata *rd, const struct kpi_options *opt,
		const struct period *p, struct kpi_results **out,
		struct iza_error *err)
{
	struct kpi_results *r = calloc(1, sizeof(*r));
	struct scan_ctx *cur = NULL, *base = NULL;
	struct period bp;
	bool need_base = false, have_base = false;
	const char *name;
	size_t i, k;
	int rc = 0;

	if (!r)
		return -IZA_ENOMEM;
	r->values = calloc(ks->n, sizeof(*r->values));
	cur = calloc(ks->n, sizeof(*cur));
	base = calloc(ks->n, sizeof(*base));
	if (!r->values || !cur || !base) {
		rc = -IZA_ENOMEM;
		goto out;
	}
	snprintf(r->region, sizeof(r->region), "%s", opt->region);
	name = refdata_region_name(rd, opt->region);
	snprintf(r->region_name, sizeof(r->region_name), "%s",
		 name ? name : opt->region);
	r->period = *p;
	r->n = ks->n;
	/* the period: every KPI but the avoided ones (cur[i] for defs[i]) */
	for (i = k = 0; i < ks->n; i++) {
		r->values[i].def = &ks->defs[i];
		if (ks->defs[i].kind == KPI_AVOIDED) {
			need_base = true;
			continue;
		}
		rc = scan_setup(&ks->defs[i], opt, p, &cur[k++]);
		if (rc)
			goto out;
	}
	rc = scan_many(ks, st, cur, k, p, err);
	if (rc)
		goto out;
	if (k > 0) {
		r->events_outside_region = cur[0].outside;
		r->events_unknown_region = cur[0].unknown;
	}
	/* the baseline: the count KPIs named by avoided KPIs */
	have_base =
	    need_base && opt->baseline_year > 0 &&
	    period_make(p->kind, opt->baseline_year, p->index, &bp) == 0;
	if (have_base) {
		size_t nb = 0;

		for (i = 0; i < ks->n; i++) {
			const struct kpi_def *of;

			if (ks->defs[i].kind != KPI_AVOIDED)
				continue;
			of = kpi_set_find(ks, ks->defs[i].of);
			rc = scan_setup(of, opt, &bp, &base[nb++]);
			if (rc)
				goto out;
		}
		rc = scan_many(ks, st, base, nb, &bp, err);
		if (rc)
			goto out;
	}
	for (i = k = 0; i < ks->n; i++) {
		const struct kpi_def *d = &ks->defs[i];

		if (d->kind != KPI_AVOIDED) {
			rc = copy_value(d, &cur[k++], &r->values[i]);
			if (rc)
				goto out;
		}
	}
	for (i = 0, k = 0; i < ks->n; i++) {
		const struct kpi_def *d = &ks->defs[i], *of;
		const struct scan_ctx *obs = NULL;
		size_t j, c = 0;

		if (d->kind != KPI_AVOIDED)
			continue;
		of = kpi_set_find(ks, d->of);
		for (j = 0; j < ks->n; j++) {
			if (ks->defs[j].kind == KPI_AVOIDED)
				continue;
			if (&ks->defs[j] == of)
				obs = &cur[c];
			c++;
		}
		fill_avoided(opt, rd, p, obs, have_base ? &base[k] : NULL,
			     &r->values[i].cell);
		k++;
	}
	*out = r;
	r = NULL;
out:
	for (i = 0; cur && base && i < ks->n; i++) {
		scan_release(&cur[i]);
		scan_release(&base[i]);
	}
	free(cur);
	free(base);
	kpi_results_free(r);
	return rc;
}
