/*
 * plan.c - reading and validating plan definitions (iza-plan/1).
 */
#include "plan.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "pay_split.h"

#define PE (-IZA_ECONFIG)

/* err for the member key of the object at where */
static int bad(struct iza_error *err, const char *file, const char *where,
	       const char *key, const char *why)
{
	char w[IZA_ERR_FIELD_MAX];

	if (key)
		snprintf(w, sizeof(w), "%s%s%s", where, *where ? "." : "", key);
	else
		snprintf(w, sizeof(w), "%s", where);
	return iza_error_set(err, PE, file, 0, w, "%s", why);
}

static bool all_digits(const char *s, size_t n)
{
	size_t i;

	if (strlen(s) != n)
		return false;
	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* a plan, milestone or KPI id: [a-z0-9-], 1..63 characters */
static bool good_id(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 63)
		return false;
	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) ||
		      isdigit((unsigned char)s[i]) || s[i] == '-'))
			return false;
	return true;
}

static int get_id(const char *file, const char *where, const json_t *obj,
		  const char *key, char out[64], struct iza_error *err)
{
	const char *s;
	int rc = jutil_string(file, where, obj, key, true, &s, PE, err);

	if (rc < 0)
		return rc;
	if (!good_id(s))
		return bad(err, file, where, key,
			   "an id is 1 to 63 of a-z, 0-9 and '-'");
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

/* "YYYY-MM-DD", a real calendar day */
static int get_day(const char *file, const char *where, const json_t *obj,
		   const char *key, int64_t *day, char label[11],
		   struct iza_error *err)
{
	const char *s;
	int y, m, d,
	    rc = jutil_string(file, where, obj, key, true, &s, PE, err);

	if (rc < 0)
		return rc;
	if (strlen(s) != 10 || parse_fhir_date(s, 10, &y, &m, &d) < 0)
		return bad(err, file, where, key,
			   "not a calendar date YYYY-MM-DD");
	*day = days_from_civil(y, m, d);
	memcpy(label, s, 11);
	return 0;
}

static int get_period(const char *file, const char *where, const json_t *obj,
		      const char *key, struct period *out,
		      struct iza_error *err)
{
	const char *s;
	int rc = jutil_string(file, where, obj, key, true, &s, PE, err);

	if (rc < 0)
		return rc;
	if (period_parse(s, out, NULL) < 0)
		return bad(err, file, where, key,
			   "not a period (2025, 2025-Q1 or 2025-01)");
	return 0;
}

int plan_value_read(const char *file, const char *where, const json_t *obj,
		    const char *key, bool required, int64_t *out,
		    struct iza_error *err)
{
	const json_t *v = json_object_get(obj, key);
	double x, scaled, r;

	if (!v) {
		if (required)
			return bad(err, file, where, key,
				   "required member missing");
		return 1;
	}
	if (!json_is_number(v))
		return bad(err, file, where, key, "must be a number");
	x = json_number_value(v);
	if (!(fabs(x) < 1e12))
		return bad(err, file, where, key, "out of range");
	scaled = x * PLAN_SCALE;
	r = nearbyint(scaled);
	if (fabs(scaled - r) > 1e-3 * fmax(1.0, fabs(scaled) * 1e-12))
		return bad(err, file, where, key,
			   "more than six decimals (values are kept in "
			   "millionths)");
	*out = (int64_t)r;
	return 0;
}

/* a positive integer number of cents */
static int get_cents(const char *file, const char *where, const json_t *obj,
		     const char *key, int64_t *out, struct iza_error *err)
{
	const json_t *v = json_object_get(obj, key);

	if (!v)
		return bad(err, file, where, key, "required member missing");
	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return bad(err, file, where, key,
			   "must be a positive whole number of euro cents");
	*out = (int64_t)json_integer_value(v);
	return 0;
}

static bool listed(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

/* A non-empty list of distinct codes, each passing ok or, without ok, in
 * known. */
static int code_list(const char *file, const char *where, const json_t *obj,
		     const char *key, char ***out, bool (*ok)(const char *),
		     const char *const *known, const char *why,
		     struct iza_error *err)
{
	char w[IZA_ERR_FIELD_MAX];
	size_t i;
	int rc = jutil_strv(file, where, obj, key, true, out, PE, err);

	if (rc < 0)
		return rc; /* jutil_strv refuses an empty list */
	for (i = 0; (*out)[i]; i++) {
		if (ok ? !ok((*out)[i]) : !listed(known, (*out)[i])) {
			snprintf(w, sizeof(w), "%s[%zu]", key, i);
			return bad(err, file, where, w, why);
		}
		if (jutil_strv_has(*out + i + 1, (*out)[i])) {
			snprintf(w, sizeof(w), "%s[%zu]", key, i);
			return bad(err, file, where, w, "listed twice");
		}
	}
	return 0;
}

static bool good_region(const char *s)
{
	return s[0] == 'Z' && s[1] == 'K' && all_digits(s + 2, 2);
}

static bool good_party(const char *s)
{
	return (strncmp(s, "AGB:", 4) == 0 || strncmp(s, "URA:", 4) == 0) &&
	       all_digits(s + 4, 8);
}

static int parse_kpi(const char *file, const char *where, const json_t *o,
		     const char *const *known, struct plan_kpi *k,
		     struct iza_error *err)
{
	static const char *const keys[] = {
	    "kpi", "baseline", "target", "bandwidth", "direction", "due", NULL};
	static const char *const bkeys[] = {"period", "value", NULL};
	static const char *const wkeys[] = {"lower", "upper", NULL};
	const json_t *b, *bw;
	const char *dir;
	char w[IZA_ERR_FIELD_MAX];
	int rc;

	if (!json_is_object(o))
		return bad(err, file, where, NULL, "must be an object");
	rc = jutil_check_keys(file, where, o, keys, PE, err);
	if (rc == 0)
		rc = get_id(file, where, o, "kpi", k->id, err);
	if (rc < 0)
		return rc;
	if (!listed(known, k->id))
		return bad(err, file, where, "kpi",
			   "not a KPI of the gateway's catalogue");
	b = json_object_get(o, "baseline");
	if (!json_is_object(b))
		return bad(err, file, where, "baseline",
			   "required object {period, value} missing");
	snprintf(w, sizeof(w), "%s.baseline", where);
	rc = jutil_check_keys(file, w, b, bkeys, PE, err);
	if (rc == 0)
		rc = get_period(file, w, b, "period", &k->baseline, err);
	if (rc == 0)
		rc = plan_value_read(file, w, b, "value", true,
				     &k->baseline_value, err);
	if (rc == 0)
		rc = plan_value_read(file, where, o, "target", true, &k->target,
				     err);
	if (rc < 0)
		return rc;
	k->lower = k->upper = 0;
	bw = json_object_get(o, "bandwidth");
	if (bw) {
		if (!json_is_object(bw))
			return bad(err, file, where, "bandwidth",
				   "must be an object {lower, upper}");
		snprintf(w, sizeof(w), "%s.bandwidth", where);
		rc = jutil_check_keys(file, w, bw, wkeys, PE, err);
		if (rc == 0)
			rc = plan_value_read(file, w, bw, "lower", false,
					     &k->lower, err);
		if (rc >= 0)
			rc = plan_value_read(file, w, bw, "upper", false,
					     &k->upper, err);
		if (rc < 0)
			return rc;
		if (k->lower < 0 || k->upper < 0)
			return bad(err, file, w, NULL,
				   "tolerances are distances, not negative");
	}
	rc = jutil_string(file, where, o, "direction", true, &dir, PE, err);
	if (rc < 0)
		return rc;
	if (strcmp(dir, "increase") == 0)
		k->direction = PLAN_INCREASE;
	else if (strcmp(dir, "decrease") == 0)
		k->direction = PLAN_DECREASE;
	else
		return bad(err, file, where, "direction",
			   "must be \"increase\" or \"decrease\"");
	if ((k->direction == PLAN_INCREASE && k->target <= k->baseline_value) ||
	    (k->direction == PLAN_DECREASE && k->target >= k->baseline_value))
		return bad(err, file, where, "target",
			   "does not improve on the baseline in the plan's "
			   "direction");
	return get_day(file, where, o, "due", &k->due, k->due_label, err);
}

static int parse_payments(const char *file, const char *where,
			  const json_t *arr, struct plan_milestone *m,
			  struct iza_error *err)
{
	static const char *const keys[] = {"date", "share", NULL};
	char w[IZA_ERR_FIELD_MAX];
	uint64_t *shares;
	int64_t *amounts;
	size_t i, n;
	int rc = 0;

	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return bad(err, file, where, "payments",
			   "required non-empty list of {date, share}");
	n = json_array_size(arr);
	if (n > 120)
		return bad(err, file, where, "payments",
			   "more than 120 payment dates");
	m->payments = calloc(n, sizeof(*m->payments));
	shares = calloc(n, sizeof(*shares));
	amounts = calloc(n, sizeof(*amounts));
	if (!m->payments || !shares || !amounts) {
		rc = -IZA_ENOMEM;
		goto out;
	}
	m->npayments = n;
	for (i = 0; i < n && rc == 0; i++) {
		const json_t *o = json_array_get(arr, i), *sh;
		struct plan_payment *p = &m->payments[i];

		snprintf(w, sizeof(w), "%s.payments[%zu]", where, i);
		if (!json_is_object(o)) {
			rc = bad(err, file, w, NULL, "must be an object");
			break;
		}
		rc = jutil_check_keys(file, w, o, keys, PE, err);
		if (rc == 0)
			rc =
			    get_day(file, w, o, "date", &p->day, p->label, err);
		if (rc < 0)
			break;
		if (p->day < m->day)
			rc = bad(err, file, w, "date",
				 "a payment before the milestone date");
		else if (i > 0 && p->day <= m->payments[i - 1].day)
			rc = bad(err, file, w, "date",
				 "payment dates must increase");
		sh = json_object_get(o, "share");
		if (rc == 0 &&
		    (!json_is_integer(sh) || json_integer_value(sh) <= 0 ||
		     json_integer_value(sh) > 1000000))
			rc = bad(err, file, w, "share",
				 "a whole number from 1 to 1000000 (the "
				 "shares are weights over the dates)");
		if (rc == 0)
			shares[i] = (uint64_t)json_integer_value(sh);
	}
	if (rc == 0)
		rc = pay_split(m->amount, shares, n, amounts, err);
	for (i = 0; rc == 0 && i < n; i++)
		m->payments[i].amount = amounts[i];
out:
	free(shares);
	free(amounts);
	return rc;
}

static int parse_milestone(const char *file, const char *where, const json_t *o,
			   const struct plan *p, struct plan_milestone *m,
			   struct iza_error *err)
{
	static const char *const keys[] = {
	    "id",	   "kind", "kpi",	   "period",   "target",
	    "description", "date", "amount_cents", "payments", NULL};
	const char *kind, *kpi, *desc;
	int rc;

	if (!json_is_object(o))
		return bad(err, file, where, NULL, "must be an object");
	rc = jutil_check_keys(file, where, o, keys, PE, err);
	if (rc == 0)
		rc = get_id(file, where, o, "id", m->id, err);
	if (rc == 0)
		rc = jutil_string(file, where, o, "kind", true, &kind, PE, err);
	if (rc == 0)
		rc = get_day(file, where, o, "date", &m->day, m->label, err);
	if (rc == 0)
		rc = get_cents(file, where, o, "amount_cents", &m->amount, err);
	if (rc < 0)
		return rc;
	if (strcmp(kind, "result") == 0) {
		m->kind = PLAN_RESULT;
		if (json_object_get(o, "description"))
			return bad(err, file, where, "description",
				   "result milestones are judged on a KPI, "
				   "not a description");
		rc = jutil_string(file, where, o, "kpi", true, &kpi, PE, err);
		if (rc < 0)
			return rc;
		m->kpi = plan_kpi_find(p, kpi);
		if (!m->kpi)
			return bad(err, file, where, "kpi",
				   "not one of the plan's kpis");
		rc = get_period(file, where, o, "period", &m->period, err);
		if (rc < 0)
			return rc;
		rc = plan_value_read(file, where, o, "target", false,
				     &m->target, err);
		if (rc < 0)
			return rc;
		if (rc == 1)
			m->target = m->kpi->target;
		if ((m->kpi->direction == PLAN_INCREASE &&
		     m->target <= m->kpi->baseline_value) ||
		    (m->kpi->direction == PLAN_DECREASE &&
		     m->target >= m->kpi->baseline_value))
			return bad(err, file, where, "target",
				   "does not improve on the KPI's baseline in "
				   "the plan's direction");
	} else if (strcmp(kind, "effort") == 0) {
		m->kind = PLAN_EFFORT;
		if (json_object_get(o, "kpi") || json_object_get(o, "period") ||
		    json_object_get(o, "target"))
			return bad(err, file, where, "kind",
				   "an effort milestone is attested, it has no "
				   "kpi, period or target");
		rc = jutil_string(file, where, o, "description", true, &desc,
				  PE, err);
		if (rc < 0)
			return rc;
		if (!*desc)
			return bad(err, file, where, "description",
				   "may not be empty");
		m->description = jutil_strdup(desc);
		if (!m->description)
			return -IZA_ENOMEM;
	} else {
		return bad(err, file, where, "kind",
			   "must be \"result\" or \"effort\"");
	}
	return parse_payments(file, where, json_object_get(o, "payments"), m,
			      err);
}

int plan_parse(const char *file, const json_t *doc,
	       const struct plan_catalogue *cat, struct plan **out,
	       struct iza_error *err)
{
	static const char *const keys[] = {
	    "format",	  "id",		  "name",
	    "regions",	  "parties",	  "coordinating_insurer",
	    "sectors",	  "budget_cents", "kpis",
	    "milestones", "description",  "payee",
	    NULL};
	const json_t *arr;
	const char *s;
	struct plan *p;
	char w[IZA_ERR_FIELD_MAX];
	int64_t total = 0;
	size_t i, j;
	int rc;

	*out = NULL;
	if (!json_is_object(doc))
		return bad(err, file, "", "(document)", "a plan is an object");
	p = calloc(1, sizeof(*p));
	if (!p)
		return -IZA_ENOMEM;
	rc = jutil_check_keys(file, "", doc, keys, PE, err);
	if (rc == 0)
		rc = jutil_string(file, "", doc, "format", true, &s, PE, err);
	if (rc == 0 && strcmp(s, "iza-plan/1") != 0)
		rc = bad(err, file, "", "format", "must be \"iza-plan/1\"");
	if (rc == 0)
		rc = get_id(file, "", doc, "id", p->id, err);
	if (rc == 0)
		rc = jutil_string(file, "", doc, "name", true, &s, PE, err);
	if (rc == 0 && !(p->name = jutil_strdup(s)))
		rc = -IZA_ENOMEM;
	if (rc == 0)
		rc = code_list(file, "", doc, "regions", &p->regions,
			       good_region, NULL,
			       "a region is ZK and two digits", err);
	if (rc == 0)
		rc = code_list(file, "", doc, "parties", &p->parties,
			       good_party, NULL,
			       "a party is AGB: or URA: and eight digits", err);
	if (rc == 0)
		rc = jutil_string(file, "", doc, "payee", true, &s, PE, err);
	if (rc == 0 && !listed((const char *const *)p->parties, s))
		rc = bad(err, file, "", "payee", "must be one of the parties");
	if (rc == 0)
		snprintf(p->payee, sizeof(p->payee), "%s", s);
	if (rc == 0)
		rc = code_list(file, "", doc, "sectors", &p->sectors, NULL,
			       cat->sectors, "not a sector of the vocabulary",
			       err);
	if (rc == 0)
		rc = jutil_string(file, "", doc, "coordinating_insurer", true,
				  &s, PE, err);
	if (rc == 0 && !all_digits(s, 4))
		rc = bad(err, file, "", "coordinating_insurer",
			 "a UZOVI code is four digits");
	if (rc == 0)
		memcpy(p->insurer, s, 5);
	if (rc == 0)
		rc = get_cents(file, "", doc, "budget_cents", &p->budget, err);
	if (rc < 0)
		goto fail;

	arr = json_object_get(doc, "kpis");
	if (!json_is_array(arr) || json_array_size(arr) == 0) {
		rc = bad(err, file, "", "kpis", "required non-empty list");
		goto fail;
	}
	p->nkpis = json_array_size(arr);
	p->kpis = calloc(p->nkpis, sizeof(*p->kpis));
	if (!p->kpis) {
		rc = -IZA_ENOMEM;
		goto fail;
	}
	for (i = 0; i < p->nkpis && rc == 0; i++) {
		snprintf(w, sizeof(w), "kpis[%zu]", i);
		rc = parse_kpi(file, w, json_array_get(arr, i), cat->kpis,
			       &p->kpis[i], err);
		for (j = 0; rc == 0 && j < i; j++)
			if (strcmp(p->kpis[j].id, p->kpis[i].id) == 0)
				rc = bad(err, file, w, "kpi", "listed twice");
	}
	if (rc < 0)
		goto fail;

	arr = json_object_get(doc, "milestones");
	if (!json_is_array(arr) || json_array_size(arr) == 0) {
		rc =
		    bad(err, file, "", "milestones", "required non-empty list");
		goto fail;
	}
	p->nmilestones = json_array_size(arr);
	p->milestones = calloc(p->nmilestones, sizeof(*p->milestones));
	if (!p->milestones) {
		rc = -IZA_ENOMEM;
		goto fail;
	}
	for (i = 0; i < p->nmilestones && rc == 0; i++) {
		snprintf(w, sizeof(w), "milestones[%zu]", i);
		rc = parse_milestone(file, w, json_array_get(arr, i), p,
				     &p->milestones[i], err);
		for (j = 0; rc == 0 && j < i; j++)
			if (strcmp(p->milestones[j].id, p->milestones[i].id) ==
			    0)
				rc = bad(err, file, w, "id", "listed twice");
		if (rc == 0) {
			total += p->milestones[i].amount;
			if (total > p->budget)
				rc = bad(err, file, w, "amount_cents",
					 "the milestones add up to more than "
					 "budget_cents");
		}
	}
	if (rc < 0)
		goto fail;
	*out = p;
	return 0;
fail:
	plan_free(p);
	return rc;
}

int plan_load(const char *path, const struct plan_catalogue *cat,
	      struct plan **out, struct iza_error *err)
{
	json_t *doc;
	int rc = jutil_load_file(path, &doc, err);

	*out = NULL;
	if (rc < 0)
		return rc;
	rc = plan_parse(path, doc, cat, out, err);
	json_decref(doc);
	return rc;
}

void plan_free(struct plan *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; p->milestones && i < p->nmilestones; i++) {
		free(p->milestones[i].description);
		free(p->milestones[i].payments);
	}
	free(p->milestones);
	free(p->kpis);
	jutil_strv_free(p->regions);
	jutil_strv_free(p->parties);
	jutil_strv_free(p->sectors);
	free(p->name);
	free(p);
}

const struct plan_kpi *plan_kpi_find(const struct plan *p, const char *id)
{
	size_t i;

	for (i = 0; i < p->nkpis; i++)
		if (strcmp(p->kpis[i].id, id) == 0)
			return &p->kpis[i];
	return NULL;
}

void plan_value_format(int64_t v, char out[32])
{
	uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	uint64_t whole = a / PLAN_SCALE, frac = a % PLAN_SCALE;
	int digits = 6;

	while (frac && frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	if (frac)
		snprintf(out, 32, "%s%" PRIu64 ".%0*" PRIu64, v < 0 ? "-" : "",
			 whole, digits, frac);
	else
		snprintf(out, 32, "%s%" PRIu64, v < 0 ? "-" : "", whole);
}
