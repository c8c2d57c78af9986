/*
 * report.c - released KPI results as FHIR R4 (Bundle of Measure +
 * MeasureReport) and as the `izagw kpis` JSON.
 *
 * FHIR shape (R4 4.0.1; MeasureReport follows the must-have/must-support
 * elements of the DEQM summary profile without claiming it in meta.profile,
 * which would bring US-realm rules):
 *
 *   Bundle {resourceType, type "collection", timestamp (meta->now),
 *           entry: all Measures sorted by id, then all MeasureReports sorted
 *           by KPI id}
 *   entry (Measure)       fullUrl = Measure.url (its canonical, resolvable
 *                         RESTful URL, consistent with id = KPI id)
 *   entry (MeasureReport) fullUrl = "urn:uuid:" + id, where id is a UUID
 *                         (RFC 9562 version 8, name-based) made from
 *                         SHA-256("region|period label|kpi id|kpi version"),
 *                         so a re-run of the same period gives the same id
 *   Measure {id, url = base/Measure/id, version, name (CamelCase of id),
 *            title, status "active", description, scoring,
 *            improvementNotation, group[0] {id "main", population[] {id,
 *            code, description, criteria {language "text/plain",
 *            expression}}, stratifier[] {code.text = stratifier name}}}
 *   MeasureReport {id, status "complete", type "summary",
 *            measure "url|version", date (meta->now), reporter {type,
 *            identifier {system, value}, display}, period {start: first_day,
 *            end: last_day}, improvementNotation, group[0] {id "main",
 *            population[] {id, code, count}, measureScore {value, unit...},
 *            stratifier[] {code[0].text, stratum[] {value.text, population,
 *            measureScore}}}}
 *
 * Populations per kind (codes from the measure-population code system; the
 * population ids link MeasureReport to Measure as DEQM asks):
 *   count, distinct_persons  scoring cohort: initial-population = the count
 *                            (numerator; for distinct the persons);
 *                            measureScore = the value
 *   share                    scoring proportion: initial-population and
 *                            denominator = denominator, numerator =
 *                            numerator; measureScore = fraction 0..1 in
 *                            UCUM "1"
 *   bed_days                 scoring continuous-variable: the Measure defines
 *                            initial-population, measure-population and
 *                            measure-observation (admissions; bed days per
 *                            admission), but the report carries only
 *                            measureScore = the sum of bed days in UCUM "d":
 *                            the engine's numerator is that same sum, not an
 *                            admission count, so no population count is
 *                            given
 *   avoided                  scoring continuous-variable (there is no
 *                            "difference" scoring in R4): two
 *                            measure-observation populations told apart by
 *                            id and code.text, "observed" (numerator) and
 *                            "expected" (denominator, rounded);
 *                            measureScore = expected - observed; the
 *                            baseline year rides in an extension
 *                            base/StructureDefinition/kpi-baseline-year
 *                            (valueInteger) on the group.
 * A suppressed group or stratum has no population and no measureScore, only
 * extension [{url data-absent-reason, valueCode "masked"}]; a cell without
 * a value gets valueCode "unknown" instead.
 *
 * `izagw kpis --format json` shape (kpi_results_to_json):
 *   {"region", "region_name", "period": {"start", "end"}, "period_label",
 *    "kpis": [{"id", "value": number|null, "suppressed": bool,
 *              "numerator": int|null, "denominator": int|null,
 *              "reason": string|null,
 *              "rule": string (only when suppressed by, or held under, a
 *                      rule: its id, disclosure.h RULE_*),
 *              "noise": "discrete-laplace" (only when the released count
 *                       carries differential-privacy noise, release.h),
 *              "held_since_release": int (only when an earlier release's
 *                                          numbers stand, release.h),
 *              "strata": [{"stratifier", "stratum", "value", "suppressed",
 *                          "numerator", "denominator", "reason"}] (only when
 *                          the KPI has strata),
 *              avoided only: "observed": int|null, "expected": number|null,
 *                            "baseline_year": int|null (also in strata)}]}
 * Numbers: integral values of count-like KPIs are JSON integers; other
 * values are rounded to 6 decimals (shares are fractions, not percentages);
 * a non-finite value is null.
 */
#include "report.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "period.h"

#define SYS_POPULATION                                                         \
	"http://terminology.hl7.org/CodeSystem/measure-population"
#define SYS_SCORING "http://terminology.hl7.org/CodeSystem/measure-scoring"
#define SYS_IMPROVEMENT                                                        \
	"http://terminology.hl7.org/CodeSystem/measure-improvement-notation"
#define URL_DATA_ABSENT                                                        \
	"http://hl7.org/fhir/StructureDefinition/data-absent-reason"
#define SYS_UCUM "http://unitsofmeasure.org"

#define FHIR_INTEGER_MAX 2147483647
#define FHIR_ID_MAX	 64
#define REPORT_TEXT_MAX	 1024 /* cap on built URLs and hash inputs */
#define GROUP_ID	 "main"

/* ---- small JSON helpers: every one steals v, even on failure ---- */

static int put(json_t *o, const char *key, json_t *v)
{
	return json_object_set_new(o, key, v) ? -IZA_ENOMEM : 0;
}

static int push(json_t *a, json_t *v)
{
	return json_array_append_new(a, v) ? -IZA_ENOMEM : 0;
}

static int put_str(json_t *o, const char *key, const char *s)
{
	return put(o, key, json_string(s));
}

/* s, or JSON null when s is NULL or empty */
static json_t *str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

/* res.group = [*group]; takes *group in every case (sets it NULL). */
static int put_single_group(json_t *res, json_t **group)
{
	json_t *groups = json_array();
	int rc;

	if (!groups) {
		json_decref(*group);
		*group = NULL;
		return -IZA_ENOMEM;
	}
	rc = push(groups, *group);
	*group = NULL;
	if (rc) {
		json_decref(groups);
		return rc;
	}
	return put(res, "group", groups);
}

#define TRY(expr)                                                              \
	do {                                                                   \
		rc = (expr);                                                   \
		if (rc)                                                        \
			goto out;                                              \
	} while (0)

/* Round to 6 decimals, never -0. */
static double round6(double v)
{
	double r = round(v * 1e6) / 1e6;

	return r == 0.0 ? 0.0 : r;
}

/* A JSON number for a KPI value: integral -> integer, else rounded real;
 * non-finite -> null.  New reference (NULL when out of memory). */
static json_t *number(double v)
{
	if (!isfinite(v))
		return json_null();
	v = round6(v);
	if (!isfinite(v))
		return json_null();
	if (v == floor(v) && fabs(v) < 9007199254740992.0)
		return json_integer((json_int_t)v);
	return json_real(v);
}

/* ---- identifiers ---- */

/* FHIR id: [A-Za-z0-9\-\.]{1,64} */
static bool is_fhir_id(const char *s)
{
	size_t n;

	if (!s || !s[0])
		return false;
	for (n = 0; s[n]; n++) {
		char c = s[n];

		if (n >= FHIR_ID_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return false;
	}
	return true;
}

/* Measure.name: "er-visits" -> "ErVisits"; "Kpi" prefix when the id does
 * not start with a letter.  out has room for FHIR_ID_MAX + 4 bytes. */
static void computable_name(const char *id, char *out, size_t size)
{
	size_t o = 0, i;
	bool up = true;

	if (!((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z')))
		o = (size_t)snprintf(out, size, "Kpi");
	for (i = 0; id[i] && o + 1 < size; i++) {
		char c = id[i];

		if (c == '-' || c == '.') {
			up = true;
			continue;
		}
		if (up && c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		up = false;
		out[o++] = c;
	}
	out[o] = '\0';
}

/* Deterministic UUID (version 8, SHA-256 of the name) into out[37]. */
int report_name_uuid(const char *name, char out[37])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	if (!EVP_Digest(name, strlen(name), md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen < 16)
		return -IZA_ECRYPTO;
	md[6] = (unsigned char)((md[6] & 0x0f) | 0x80); /* version 8 */
	md[8] = (unsigned char)((md[8] & 0x3f) | 0x80); /* RFC variant */
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[md[i] >> 4];
		out[o++] = hex[md[i] & 0x0f];
	}
	out[o] = '\0';
	return 0;
}

/* ---- codeable concepts ---- */

static json_t *coding_cc(const char *system, const char *code, const char *text)
{
	json_t *cc = json_object(), *codings = json_array(),
	       *coding = json_object();
	int rc = -IZA_ENOMEM;

	if (!cc || !codings || !coding)
		goto out;
	TRY(put_str(coding, "system", system));
	TRY(put_str(coding, "code", code));
	rc = push(codings, coding);
	coding = NULL;
	if (rc)
		goto out;
	rc = put(cc, "coding", codings);
	codings = NULL;
	if (rc)
		goto out;
	if (text)
		TRY(put_str(cc, "text", text));
	return cc;
out:
	json_decref(coding);
	json_decref(codings);
	json_decref(cc);
	return NULL;
}

static json_t *text_cc(const char *text)
{
	json_t *cc = json_object();

	if (cc && put_str(cc, "text", text)) {
		json_decref(cc);
		return NULL;
	}
	return cc;
}

/* [{url data-absent-reason, valueCode code}] */
static json_t *data_absent(const char *code)
{
	json_t *a = json_array(), *e = json_object();

	if (!a || !e || put_str(e, "url", URL_DATA_ABSENT) ||
	    put_str(e, "valueCode", code) || push(a, json_incref(e))) {
		json_decref(e);
		json_decref(a);
		return NULL;
	}
	json_decref(e);
	return a;
}

/* ---- per-kind population plan ---- */

/* where a population's count comes from; SRC_NONE: defined in the
 * Measure, no count in the report */
enum pop_src { SRC_COUNT, SRC_NUM, SRC_DEN, SRC_NONE };

struct pop_spec {
	const char *id;	  /* population id, shared by Measure and report */
	const char *code; /* measure-population code */
	const char *text; /* code.text, or NULL */
	const char *desc; /* Measure population description */
	enum pop_src src;
};

static const struct pop_spec POPS_COUNT[] = {
    {"initial-population", "initial-population", NULL,
     "Events matching the KPI selection that start in the period", SRC_COUNT},
};
static const struct pop_spec POPS_DISTINCT[] = {
    {"initial-population", "initial-population", NULL,
     "Distinct persons with an event matching the KPI selection in the "
     "period",
     SRC_COUNT},
};
static const struct pop_spec POPS_SHARE[] = {
    {"initial-population", "initial-population", NULL,
     "Events matching the denominator selection in the period", SRC_DEN},
    {"denominator", "denominator", NULL,
     "Events matching the denominator selection in the period", SRC_DEN},
    {"numerator", "numerator", NULL,
     "Denominator events that also match the numerator selection", SRC_NUM},
};
static const struct pop_spec POPS_BED_DAYS[] = {
    {"initial-population", "initial-population", NULL,
     "Admissions matching the KPI selection that overlap the period", SRC_NONE},
    {"measure-population", "measure-population", NULL,
     "Admissions matching the KPI selection that overlap the period", SRC_NONE},
    {"measure-observation", "measure-observation", NULL,
     "Per admission: local midnights spent admitted within the period; the "
     "score is their sum",
     SRC_NONE},
};
static const struct pop_spec POPS_AVOIDED[] = {
    {"observed", "measure-observation", "observed",
     "Observed count of the underlying count KPI in the period", SRC_NUM},
    {"expected", "measure-observation", "expected",
     "Expected count: baseline-year count of the same calendar months "
     "scaled by population(period year) / population(baseline year), "
     "rounded; the score is expected - observed",
     SRC_DEN},
};

static const struct pop_spec *pops_for(enum kpi_kind kind, size_t *n)
{
#define POPS(a)                                                                \
	do {                                                                   \
		*n = sizeof(a) / sizeof(a[0]);                                 \
		return a;                                                      \
	} while (0)
	switch (kind) {
	case KPI_COUNT:
		POPS(POPS_COUNT);
	case KPI_DISTINCT:
		POPS(POPS_DISTINCT);
	case KPI_SHARE:
		POPS(POPS_SHARE);
	case KPI_BED_DAYS:
		POPS(POPS_BED_DAYS);
	case KPI_AVOIDED:
		POPS(POPS_AVOIDED);
	}
#undef POPS
	*n = 0;
	return NULL;
}

static const char *scoring_for(enum kpi_kind kind)
{
	switch (kind) {
	case KPI_SHARE:
		return "proportion";
	case KPI_BED_DAYS:
	case KPI_AVOIDED:
		return "continuous-variable";
	case KPI_COUNT:
	case KPI_DISTINCT:
		return "cohort";
	}
	return "cohort";
}

/* ---- Measure ---- */

static int measure_url(const struct report_meta *meta, const char *id,
		       char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/Measure/%s", meta->measure_base, id);

	return n < 0 || (size_t)n >= size ? -IZA_ETOOBIG : 0;
}

static int build_measure(const struct kpi_def *d,
			 const struct report_meta *meta, const char *version,
			 json_t **out)
{
	json_t *m = json_object(), *group = NULL, *pops = NULL, *strs = NULL,
	       *p = NULL, *crit = NULL;
	const struct pop_spec *ps;
	char url[REPORT_TEXT_MAX], name[FHIR_ID_MAX + 8], expr[256];
	size_t np, i;
	int rc = -IZA_ENOMEM;

	if (!m)
		goto out;
	TRY(measure_url(meta, d->id, url, sizeof(url)));
	computable_name(d->id, name, sizeof(name));
	TRY(put_str(m, "resourceType", "Measure"));
	TRY(put_str(m, "id", d->id));
	TRY(put_str(m, "url", url));
	TRY(put_str(m, "version", version));
	TRY(put_str(m, "name", name));
	TRY(put_str(m, "title", d->title ? d->title : d->id));
	TRY(put_str(m, "status", "active"));
	if (d->description)
		TRY(put_str(m, "description", d->description));
	TRY(put(m, "scoring",
		coding_cc(SYS_SCORING, scoring_for(d->kind), NULL)));
	TRY(put(m, "improvementNotation",
		coding_cc(SYS_IMPROVEMENT,
			  d->improvement_down ? "decrease" : "increase",
			  NULL)));

	rc = -IZA_ENOMEM;
	group = json_object();
	pops = json_array();
	if (!group || !pops)
		goto out;
	TRY(put_str(group, "id", GROUP_ID));
	ps = pops_for(d->kind, &np);
	for (i = 0; i < np; i++) {
		rc = -IZA_ENOMEM;
		p = json_object();
		crit = json_object();
		if (!p || !crit)
			goto out;
		TRY(put_str(p, "id", ps[i].id));
		TRY(put(p, "code",
			coding_cc(SYS_POPULATION, ps[i].code, ps[i].text)));
		TRY(put_str(p, "description", ps[i].desc));
		/* the selection itself lives in mappings/kpis.json */
		snprintf(expr, sizeof(expr), "KPI %.64s, population %s", d->id,
			 ps[i].id);
		TRY(put_str(crit, "language", "text/plain"));
		TRY(put_str(crit, "expression", expr));
		rc = put(p, "criteria", crit);
		crit = NULL;
		if (rc)
			goto out;
		rc = push(pops, p);
		p = NULL;
		if (rc)
			goto out;
	}
	rc = put(group, "population", pops);
	pops = NULL;
	if (rc)
		goto out;
	if (d->stratifiers[0]) {
		rc = -IZA_ENOMEM;
		strs = json_array();
		if (!strs)
			goto out;
		for (i = 0; i < KPI_MAX_STRATIFIERS && d->stratifiers[i]; i++) {
			rc = -IZA_ENOMEM;
			p = json_object();
			if (!p)
				goto out;
			TRY(put(p, "code", text_cc(d->stratifiers[i])));
			rc = push(strs, p);
			p = NULL;
			if (rc)
				goto out;
		}
		rc = put(group, "stratifier", strs);
		strs = NULL;
		if (rc)
			goto out;
	}
	TRY(put_single_group(m, &group));
	*out = m;
	m = NULL;
out:
	json_decref(crit);
	json_decref(p);
	json_decref(strs);
	json_decref(pops);
	json_decref(group);
	json_decref(m);
	return rc;
}

/* ---- MeasureReport ---- */

/* Is the cell released (it may carry counts and a score)? */
static bool released(const struct kpi_cell *c)
{
	return c->has_value && !c->suppressed;
}

static int pop_count(const struct kpi_cell *c, enum pop_src src, int64_t *out)
{
	switch (src) {
	case SRC_COUNT:
		if (c->has_numerator) {
			*out = c->numerator;
			return 1;
		}
		/* count-like KPI whose engine gave only the value */
		if (c->value >= 0 && c->value == floor(c->value) &&
		    c->value <= (double)FHIR_INTEGER_MAX) {
			*out = (int64_t)c->value;
			return 1;
		}
		return 0;
	case SRC_NUM:
		*out = c->numerator;
		return c->has_numerator;
	case SRC_DEN:
		*out = c->denominator;
		return c->has_denominator;
	case SRC_NONE:
		return 0;
	}
	return 0;
}

static json_t *score(const struct kpi_def *d, const struct kpi_cell *c)
{
	json_t *q = json_object();
	const char *unit = d->unit && d->unit[0] ? d->unit : NULL;

	if (!q)
		return NULL;
	if (put(q, "value", number(c->value)))
		goto fail;
	switch (d->kind) {
	case KPI_SHARE:
		if (put_str(q, "unit", unit ? unit : "1") ||
		    put_str(q, "system", SYS_UCUM) || put_str(q, "code", "1"))
			goto fail;
		break;
	case KPI_BED_DAYS:
		if (put_str(q, "unit", unit ? unit : "d") ||
		    put_str(q, "system", SYS_UCUM) || put_str(q, "code", "d"))
			goto fail;
		break;
	case KPI_COUNT:
	case KPI_DISTINCT:
	case KPI_AVOIDED:
		if (unit && put_str(q, "unit", unit))
			goto fail;
		break;
	}
	return q;
fail:
	json_decref(q);
	return NULL;
}

/*
 * Fill o (a group or a stratum) for cell c: populations and measureScore
 * when released, else only the data-absent-reason extension.
 */
static int fill_cell(json_t *o, const struct kpi_def *d,
		     const struct kpi_cell *c, const char *measure_base,
		     bool is_group, struct iza_error *err)
{
	const struct pop_spec *ps;
	json_t *pops = NULL, *p = NULL, *ext = NULL, *e = NULL;
	char url[REPORT_TEXT_MAX];
	size_t np, i;
	int64_t n;
	int rc;

	if (!released(c)) {
		/* nothing else: no population, no count, no score */
		return put(o, "extension",
			   data_absent(c->suppressed ? "masked" : "unknown"));
	}
	ps = pops_for(d->kind, &np);
	rc = -IZA_ENOMEM;
	pops = json_array();
	if (!pops)
		goto out;
	for (i = 0; i < np; i++) {
		if (!pop_count(c, ps[i].src, &n))
			continue;
		if (n < 0) {
			rc = iza_error_set(err, -IZA_EINVALID, NULL, 0, d->id,
					   "negative %s count", ps[i].id);
			goto out;
		}
		if (n > FHIR_INTEGER_MAX) {
			rc = iza_error_set(err, -IZA_ETOOBIG, NULL, 0, d->id,
					   "%s count exceeds a FHIR integer",
					   ps[i].id);
			goto out;
		}
		rc = -IZA_ENOMEM;
		p = json_object();
		if (!p)
			goto out;
		TRY(put_str(p, "id", ps[i].id));
		TRY(put(p, "code",
			coding_cc(SYS_POPULATION, ps[i].code, ps[i].text)));
		TRY(put(p, "count", json_integer((json_int_t)n)));
		rc = push(pops, p);
		p = NULL;
		if (rc)
			goto out;
	}
	if (json_array_size(pops) > 0) {
		rc = put(o, "population", pops);
		pops = NULL;
		if (rc)
			goto out;
	}
	TRY(put(o, "measureScore", score(d, c)));
	if (is_group && d->kind == KPI_AVOIDED && c->baseline_year > 0) {
		int len = snprintf(url, sizeof(url),
				   "%s/StructureDefinition/kpi-baseline-year",
				   measure_base);

		if (len < 0 || (size_t)len >= sizeof(url)) {
			rc = -IZA_ETOOBIG;
			goto out;
		}
		rc = -IZA_ENOMEM;
		ext = json_array();
		e = json_object();
		if (!ext || !e)
			goto out;
		TRY(put_str(e, "url", url));
		TRY(put(e, "valueInteger", json_integer(c->baseline_year)));
		rc = push(ext, e);
		e = NULL;
		if (rc)
			goto out;
		rc = put(o, "extension", ext);
		ext = NULL;
		if (rc)
			goto out;
	}
	rc = 0;
out:
	json_decref(e);
	json_decref(ext);
	json_decref(p);
	json_decref(pops);
	return rc;
}

/* The group's stratifier list; strata grouped by stratifier name in the
 * order the names first appear (the engine's order, deterministic). */
static int build_stratifiers(const struct kpi_value *v, const char *base,
			     json_t **out, struct iza_error *err)
{
	json_t *list = json_array(), *sf = NULL, *codes = NULL, *strata = NULL,
	       *st = NULL;
	size_t i, j;
	int rc = -IZA_ENOMEM;

	if (!list)
		goto out;
	for (i = 0; i < v->nstrata; i++) {
		const char *name = v->strata[i].stratifier;
		bool seen = false;

		for (j = 0; j < i; j++)
			if (strcmp(v->strata[j].stratifier, name) == 0)
				seen = true;
		if (seen)
			continue;
		rc = -IZA_ENOMEM;
		sf = json_object();
		codes = json_array();
		strata = json_array();
		if (!sf || !codes || !strata)
			goto out;
		TRY(push(codes, text_cc(name)));
		rc = put(sf, "code", codes);
		codes = NULL;
		if (rc)
			goto out;
		for (j = i; j < v->nstrata; j++) {
			const struct kpi_stratum *s = &v->strata[j];

			if (strcmp(s->stratifier, name) != 0)
				continue;
			rc = -IZA_ENOMEM;
			st = json_object();
			if (!st)
				goto out;
			TRY(put(st, "value", text_cc(s->value)));
			TRY(fill_cell(st, v->def, &s->cell, base, false, err));
			rc = push(strata, st);
			st = NULL;
			if (rc)
				goto out;
		}
		rc = put(sf, "stratum", strata);
		strata = NULL;
		if (rc)
			goto out;
		rc = push(list, sf);
		sf = NULL;
		if (rc)
			goto out;
	}
	*out = list;
	list = NULL;
	rc = 0;
out:
	json_decref(st);
	json_decref(strata);
	json_decref(codes);
	json_decref(sf);
	json_decref(list);
	return rc;
}

/* [{url .../disclosure-control, extension: [k, rules, test-mode, and for a
 * KPI with differential privacy epsilon]}]; NULL when out of memory (put()
 * then fails). */
static json_t *disclosure_ext(const struct report_meta *meta,
			      const struct kpi_def *d)
{
	char url[REPORT_TEXT_MAX];
	json_t *ext, *inner;
	int n = snprintf(url, sizeof(url),
			 "%s/StructureDefinition/disclosure-control",
			 meta->measure_base);

	if (n < 0 || (size_t)n >= sizeof(url))
		return NULL;
	ext = json_pack("[{s:s,s:[{s:s,s:i},{s:s,s:s},{s:s,s:b}]}]", "url", url,
			"extension", "url", "k", "valueInteger",
			meta->disclosure_k, "url", "rules", "valueString",
			meta->disclosure_rules, "url", "test-mode",
			"valueBoolean", meta->disclosure_test_mode);
	inner =
	    ext ? json_object_get(json_array_get(ext, 0), "extension") : NULL;
	if (inner && meta->disclosure_rounding > 1 &&
	    json_array_append_new(
		inner, json_pack("{s:s,s:i}", "url", "rounding", "valueInteger",
				 meta->disclosure_rounding))) {
		json_decref(ext);
		return NULL;
	}
	if (inner && d->dp_epsilon_milli > 0 &&
	    json_array_append_new(
		inner, json_pack("{s:s,s:f}", "url", "epsilon", "valueDecimal",
				 (double)d->dp_epsilon_milli / 1000.0))) {
		json_decref(ext);
		return NULL;
	}
	return ext;
}

static int build_report(const struct kpi_value *v, const struct kpi_results *r,
			const struct report_meta *meta, const char *version,
			const char *uuid, const char *now, json_t **out,
			struct iza_error *err)
{
	const struct kpi_def *d = v->def;
	json_t *mr = json_object(), *rep = NULL, *ident = NULL, *per = NULL,
	       *group = NULL, *sfs = NULL;
	char url[REPORT_TEXT_MAX], canon[REPORT_TEXT_MAX + 64];
	int rc = -IZA_ENOMEM, n;

	if (!mr)
		goto out;
	TRY(measure_url(meta, d->id, url, sizeof(url)));
	n = snprintf(canon, sizeof(canon), "%s|%s", url, version);
	if (n < 0 || (size_t)n >= sizeof(canon)) {
		rc = -IZA_ETOOBIG;
		goto out;
	}
	TRY(put_str(mr, "resourceType", "MeasureReport"));
	TRY(put_str(mr, "id", uuid));
	TRY(put_str(mr, "status", "complete"));
	TRY(put_str(mr, "type", "summary"));
	TRY(put_str(mr, "measure", canon));
	TRY(put_str(mr, "date", now));
	if (meta->disclosure_rules)
		TRY(put(mr, "extension", disclosure_ext(meta, d)));

	rc = -IZA_ENOMEM;
	rep = json_object();
	ident = json_object();
	if (!rep || !ident)
		goto out;
	TRY(put_str(rep, "type", "Organization"));
	TRY(put_str(ident, "system", meta->reporter_system));
	TRY(put_str(ident, "value", meta->reporter_value));
	rc = put(rep, "identifier", ident);
	ident = NULL;
	if (rc)
		goto out;
	if (meta->reporter_display && meta->reporter_display[0])
		TRY(put_str(rep, "display", meta->reporter_display));
	rc = put(mr, "reporter", rep);
	rep = NULL;
	if (rc)
		goto out;

	rc = -IZA_ENOMEM;
	per = json_object();
	if (!per)
		goto out;
	TRY(put_str(per, "start", r->period.first_day));
	TRY(put_str(per, "end", r->period.last_day));
	rc = put(mr, "period", per);
	per = NULL;
	if (rc)
		goto out;
	TRY(put(mr, "improvementNotation",
		coding_cc(SYS_IMPROVEMENT,
			  d->improvement_down ? "decrease" : "increase",
			  NULL)));

	rc = -IZA_ENOMEM;
	group = json_object();
	if (!group)
		goto out;
	TRY(put_str(group, "id", GROUP_ID));
	TRY(fill_cell(group, d, &v->cell, meta->measure_base, true, err));
	if (v->nstrata > 0) {
		TRY(build_stratifiers(v, meta->measure_base, &sfs, err));
		rc = put(group, "stratifier", sfs);
		sfs = NULL;
		if (rc)
			goto out;
	}
	TRY(put_single_group(mr, &group));
	*out = mr;
	mr = NULL;
out:
	json_decref(sfs);
	json_decref(group);
	json_decref(per);
	json_decref(ident);
	json_decref(rep);
	json_decref(mr);
	return rc;
}

/* ---- the Bundle ---- */

static int cmp_def(const void *a, const void *b)
{
	const struct kpi_def *const *x = a, *const *y = b;

	return strcmp((*x)->id, (*y)->id);
}

static int cmp_value(const void *a, const void *b)
{
	const struct kpi_value *const *x = a, *const *y = b;

	return strcmp((*x)->def->id, (*y)->def->id);
}

static int add_entry(json_t *entries, const char *full_url, json_t *res)
{
	json_t *e = json_object();

	if (!e) {
		json_decref(res);
		return -IZA_ENOMEM;
	}
	if (put_str(e, "fullUrl", full_url)) {
		json_decref(res);
		json_decref(e);
		return -IZA_ENOMEM;
	}
	if (put(e, "resource", res)) {
		json_decref(e);
		return -IZA_ENOMEM;
	}
	return push(entries, e);
}

static int check_meta(const struct kpi_set *ks, const struct kpi_results *r,
		      const struct report_meta *meta, const char **version,
		      struct iza_error *err)
{
	if (!r || !meta)
		return iza_error_set(err, -IZA_EUSAGE, NULL, 0, "report",
				     "no results or no report metadata");
	if (!meta->reporter_system || !meta->reporter_system[0] ||
	    !meta->reporter_value || !meta->reporter_value[0])
		return iza_error_set(err, -IZA_EUSAGE, NULL, 0, "reporter",
				     "reporter identifier system and value are "
				     "required");
	if (!meta->measure_base || !meta->measure_base[0])
		return iza_error_set(err, -IZA_EUSAGE, NULL, 0, "measure_base",
				     "canonical base URL for Measure is "
				     "required");
	*version =
	    meta->kpi_version ? meta->kpi_version : (ks ? ks->version : NULL);
	if (!*version || !(*version)[0])
		return iza_error_set(err, -IZA_EUSAGE, NULL, 0, "kpi_version",
				     "KPI set version is required");
	if (!r->period.first_day[0] || !r->period.last_day[0] ||
	    !r->period.label[0])
		return iza_error_set(err, -IZA_EUSAGE, NULL, 0, "period",
				     "results carry no period");
	return 0;
}

int report_build(const struct kpi_set *ks, const struct kpi_results *r,
		 const struct report_meta *meta, json_t **out,
		 struct iza_error *err)
{
	const struct kpi_def **defs = NULL;
	const struct kpi_value **vals = NULL;
	json_t *bundle = NULL, *entries = NULL, *res = NULL;
	const char *version = NULL;
	char now[21], uuid[37], full[REPORT_TEXT_MAX], name[REPORT_TEXT_MAX];
	size_t nd = 0, i;
	int rc, n;

	iza_error_clear(err);
	TRY(check_meta(ks, r, meta, &version, err));
	rc = -IZA_ENOMEM;
	defs = calloc((ks ? ks->n : 0) + r->n + 1, sizeof(*defs));
	vals = calloc(r->n + 1, sizeof(*vals));
	if (!defs || !vals)
		goto out;
	for (i = 0; i < r->n; i++) {
		if (!r->values[i].def || !is_fhir_id(r->values[i].def->id)) {
			rc = iza_error_set(err, -IZA_EINVALID, NULL,
					   (long)i + 1, "kpis",
					   "KPI without definition or with an "
					   "id that is not a FHIR id");
			goto out;
		}
		vals[i] = &r->values[i];
	}
	if (ks) {
		for (i = 0; i < ks->n; i++)
			defs[nd++] = &ks->defs[i];
	} else {
		for (i = 0; i < r->n; i++)
			defs[nd++] = r->values[i].def;
	}
	for (i = 0; i < nd; i++) {
		if (!is_fhir_id(defs[i]->id)) {
			rc = iza_error_set(err, -IZA_EINVALID, NULL,
					   (long)i + 1, "kpis",
					   "KPI id is not a FHIR id "
					   "([A-Za-z0-9.-]{1,64})");
			goto out;
		}
	}
	qsort(defs, nd, sizeof(*defs), cmp_def);
	qsort(vals, r->n, sizeof(*vals), cmp_value);
	for (i = 1; i < nd; i++) {
		if (strcmp(defs[i - 1]->id, defs[i]->id) == 0) {
			rc = iza_error_set(err, -IZA_EINVALID, NULL, 0,
					   defs[i]->id, "duplicate KPI id");
			goto out;
		}
	}
	for (i = 1; i < r->n; i++) {
		if (strcmp(vals[i - 1]->def->id, vals[i]->def->id) == 0) {
			rc = iza_error_set(err, -IZA_EINVALID, NULL, 0,
					   vals[i]->def->id,
					   "duplicate KPI in results");
			goto out;
		}
	}

	format_utc(meta->now, now);
	rc = -IZA_ENOMEM;
	bundle = json_object();
	entries = json_array();
	if (!bundle || !entries)
		goto out;
	TRY(put_str(bundle, "resourceType", "Bundle"));
	if (meta->report_id && meta->report_id[0])
		TRY(put_str(bundle, "id", meta->report_id));
	TRY(put_str(bundle, "type", "collection"));
	TRY(put_str(bundle, "timestamp", now));

	for (i = 0; i < nd; i++) {
		TRY(measure_url(meta, defs[i]->id, full, sizeof(full)));
		TRY(build_measure(defs[i], meta, version, &res));
		rc = add_entry(entries, full, res);
		res = NULL;
		if (rc)
			goto out;
	}
	for (i = 0; i < r->n; i++) {
		n = snprintf(name, sizeof(name), "%s|%s|%s|%s", r->region,
			     r->period.label, vals[i]->def->id, version);
		if (n < 0 || (size_t)n >= sizeof(name)) {
			rc = iza_error_set(err, -IZA_ETOOBIG, NULL, 0,
					   "kpi_version",
					   "KPI set version too long");
			goto out;
		}
		rc = report_name_uuid(name, uuid);
		if (rc) {
			iza_error_set(err, rc, NULL, 0, "report",
				      "SHA-256 failed");
			goto out;
		}
		TRY(build_report(vals[i], r, meta, version, uuid, now, &res,
				 err));
		n = snprintf(full, sizeof(full), "urn:uuid:%s", uuid);
		(void)n;
		rc = add_entry(entries, full, res);
		res = NULL;
		if (rc)
			goto out;
	}
	rc = put(bundle, "entry", entries);
	entries = NULL;
	if (rc)
		goto out;
	*out = bundle;
	bundle = NULL;
out:
	if (rc == -IZA_ENOMEM && err && !err->code)
		iza_error_set(err, rc, NULL, 0, "report",
			      "out of memory building the report");
	else if (rc && err && !err->code)
		iza_error_set(err, rc, NULL, 0, "report",
			      "cannot build the report");
	json_decref(res);
	json_decref(entries);
	json_decref(bundle);
	free(defs);
	free(vals);
	return rc;
}

char *report_dumps(const json_t *bundle)
{
	return json_dumps(bundle, JSON_COMPACT | JSON_REAL_PRECISION(15));
}

/* ---- kpis JSON ---- */

static json_t *int_or_null(bool has, int64_t v)
{
	return has ? json_integer((json_int_t)v) : json_null();
}

/* The cell's fields into o (shared by KPI and stratum objects). */
static int cell_json(json_t *o, const struct kpi_def *d,
		     const struct kpi_cell *c)
{
	bool rel = released(c);
	int rc;

	TRY(put(o, "value", rel ? number(c->value) : json_null()));
	TRY(put(o, "suppressed", json_boolean(c->suppressed)));
	TRY(put(o, "numerator",
		int_or_null(rel && c->has_numerator, c->numerator)));
	TRY(put(o, "denominator",
		int_or_null(rel && c->has_denominator, c->denominator)));
	TRY(put(o, "reason", str_or_null(c->reason)));
	if (c->rule[0])
		TRY(put(o, "rule", json_string(c->rule)));
	if (rel && c->noised)
		TRY(put(o, "noise", json_string("discrete-laplace")));
	if (rel && c->held_release > 0)
		TRY(put(o, "held_since_release",
			json_integer((json_int_t)c->held_release)));
	if (d && d->kind == KPI_AVOIDED) {
		TRY(put(o, "observed",
			int_or_null(rel && c->has_numerator, c->numerator)));
		TRY(put(o, "expected",
			rel ? number(c->expected) : json_null()));
		TRY(put(o, "baseline_year",
			int_or_null(c->baseline_year > 0, c->baseline_year)));
	}
out:
	return rc;
}

json_t *kpi_results_to_json(const struct kpi_results *r)
{
	json_t *root = json_object(), *per = NULL, *kpis = NULL, *k = NULL,
	       *strata = NULL, *s = NULL;
	size_t i, j;
	int rc = -IZA_ENOMEM;

	if (!r || !root)
		goto out;
	TRY(put_str(root, "region", r->region));
	TRY(put_str(root, "region_name", r->region_name));
	rc = -IZA_ENOMEM;
	per = json_object();
	if (!per)
		goto out;
	TRY(put_str(per, "start", r->period.first_day));
	TRY(put_str(per, "end", r->period.last_day));
	rc = put(root, "period", per);
	per = NULL;
	if (rc)
		goto out;
	TRY(put_str(root, "period_label", r->period.label));
	if (r->rounding > 1)
		TRY(put(root, "rounding", json_integer(r->rounding)));
	rc = -IZA_ENOMEM;
	kpis = json_array();
	if (!kpis)
		goto out;
	for (i = 0; i < r->n; i++) {
		const struct kpi_value *v = &r->values[i];

		rc = -IZA_ENOMEM;
		k = json_object();
		if (!k)
			goto out;
		TRY(put(k, "id",
			v->def && v->def->id ? json_string(v->def->id)
					     : json_null()));
		TRY(cell_json(k, v->def, &v->cell));
		if (v->nstrata > 0) {
			rc = -IZA_ENOMEM;
			strata = json_array();
			if (!strata)
				goto out;
			for (j = 0; j < v->nstrata; j++) {
				rc = -IZA_ENOMEM;
				s = json_object();
				if (!s)
					goto out;
				TRY(put_str(s, "stratifier",
					    v->strata[j].stratifier));
				TRY(put_str(s, "stratum", v->strata[j].value));
				TRY(cell_json(s, v->def, &v->strata[j].cell));
				rc = push(strata, s);
				s = NULL;
				if (rc)
					goto out;
			}
			rc = put(k, "strata", strata);
			strata = NULL;
			if (rc)
				goto out;
		}
		rc = push(kpis, k);
		k = NULL;
		if (rc)
			goto out;
	}
	rc = put(root, "kpis", kpis);
	kpis = NULL;
out:
	json_decref(s);
	json_decref(strata);
	json_decref(k);
	json_decref(kpis);
	json_decref(per);
	if (rc) {
		json_decref(root);
		return NULL;
	}
	return root;
}
