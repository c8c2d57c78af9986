/*
 * test_report.c - FHIR Bundle (gateway/report.c) and the `izagw kpis`
 * outputs (gateway/kpi_format.c) over hand-made KPI results.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disclosure.h"
#include "kpi_format.h"
#include "report.h"
#include "testutil.h"

#define BASE	"https://iza.example.nl/fhir"
#define VERSION "2025.1"
#define NOW	1744711200 /* 2025-04-15T10:00:00Z */
#define SYS_POP "http://terminology.hl7.org/CodeSystem/measure-population"
#define SYS_IMPR                                                               \
	"http://terminology.hl7.org/CodeSystem/measure-improvement-notation"
#define URL_DAR "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
#define SECRET	4321 /* the suppressed count: must never appear */

/* One count with strata, one share, one suppressed count. */
struct fx {
	struct kpi_def defs[4];
	struct kpi_set ks;
	struct kpi_stratum strata[3];
	struct kpi_value vals[4];
	struct kpi_results r;
	struct report_meta meta;
};

static struct kpi_cell cell(int64_t num, bool has_den, int64_t den,
			    int64_t persons, int64_t rest, double value)
{
	struct kpi_cell c;

	memset(&c, 0, sizeof(c));
	c.has_value = true;
	c.value = value;
	c.has_numerator = true;
	c.numerator = num;
	c.has_denominator = has_den;
	c.denominator = den;
	c.persons = persons;
	c.rest_persons = rest;
	c.den_persons = persons + rest;
	return c;
}

static void fx_init(struct fx *fx)
{
	static char *age[] = {"age_band", NULL};
	struct disclosure_params dp = {.k = 10, .test_override = false};

	memset(fx, 0, sizeof(*fx));
	/* deliberately not in id order */
	fx->defs[0].id = "gp-contacts";
	fx->defs[0].title = "GP contacts";
	fx->defs[0].description = "All GP contacts in the period.";
	fx->defs[0].unit = "contacts";
	fx->defs[0].kind = KPI_COUNT;
	fx->defs[1].id = "er-visits";
	fx->defs[1].title = "ER visits";
	fx->defs[1].description = "ER visits of residents.";
	fx->defs[1].unit = "visits";
	fx->defs[1].kind = KPI_COUNT;
	fx->defs[1].improvement_down = 1;
	fx->defs[1].stratifiers[0] = age[0];
	fx->defs[2].id = "digital-share";
	fx->defs[2].title = "Digital share";
	fx->defs[2].description = "Share of GP contacts that are digital.";
	fx->defs[2].unit = "ratio";
	fx->defs[2].kind = KPI_SHARE;
	fx->ks.version = VERSION;
	fx->ks.defs = fx->defs;
	fx->ks.n = 3;

	snprintf(fx->strata[0].stratifier, 24, "age_band");
	snprintf(fx->strata[0].value, 24, "0-17");
	fx->strata[0].cell = cell(7, false, 0, 6, 0, 7.0);
	snprintf(fx->strata[1].stratifier, 24, "age_band");
	snprintf(fx->strata[1].value, 24, "18-64");
	fx->strata[1].cell = cell(150, false, 0, 100, 0, 150.0);
	/* a second small stratum, so 18-64 needs no secondary suppression
	 * (the two small ones rest on 6 + 5 >= k persons together) */
	snprintf(fx->strata[2].stratifier, 24, "age_band");
	snprintf(fx->strata[2].value, 24, "unknown");
	fx->strata[2].cell = cell(3, false, 0, 5, 0, 3.0);

	fx->vals[0].def = &fx->defs[1];
	fx->vals[0].cell = cell(1234, false, 0, 800, 0, 1234.0);
	fx->vals[0].strata = fx->strata;
	fx->vals[0].nstrata = 3;
	fx->vals[1].def = &fx->defs[2];
	fx->vals[1].cell = cell(300, true, 1000, 250, 600, 0.3);
	fx->vals[2].def = &fx->defs[0];
	fx->vals[2].cell = cell(SECRET, false, 0, 9, 0, (double)SECRET);

	snprintf(fx->r.region, sizeof(fx->r.region), "ZK05");
	snprintf(fx->r.region_name, sizeof(fx->r.region_name), "Testregio");
	fx->r.period.kind = PERIOD_QUARTER;
	fx->r.period.year = 2025;
	fx->r.period.index = 1;
	snprintf(fx->r.period.label, sizeof(fx->r.period.label), "2025-Q1");
	snprintf(fx->r.period.first_day, 11, "2025-01-01");
	snprintf(fx->r.period.last_day, 11, "2025-03-31");
	fx->r.values = fx->vals;
	fx->r.n = 3;

	fx->meta.reporter_system = "https://iza.example.nl/regio";
	fx->meta.reporter_value = "ZK05";
	fx->meta.reporter_display = "Regio Test";
	fx->meta.measure_base = BASE;
	fx->meta.kpi_version = VERSION;
	fx->meta.now = NOW;

	disclosure_apply(&dp, &fx->r);
}

static json_t *build(struct fx *fx)
{
	struct iza_error err;
	json_t *b = NULL;
	char buf[600];
	int rc;

	rc = report_build(&fx->ks, &fx->r, &fx->meta, &b, &err);
	ck_assert_msg(rc == 0, "report_build: %s",
		      iza_error_format(&err, buf, sizeof(buf)));
	ck_assert_ptr_nonnull(b);
	return b;
}

static const char *sget(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	ck_assert_msg(s != NULL, "no string member %s", key);
	return s;
}

/* The resource of the entry whose resource has this type and whose
 * measure/url names kpi. */
static json_t *find(json_t *bundle, const char *type, const char *kpi)
{
	json_t *entries = json_object_get(bundle, "entry"), *e;
	char want[256];
	size_t i;

	snprintf(want, sizeof(want), BASE "/Measure/%s", kpi);
	json_array_foreach(entries, i, e)
	{
		json_t *res = json_object_get(e, "resource");
		const char *rt =
		    json_string_value(json_object_get(res, "resourceType"));
		const char *m = json_string_value(json_object_get(
		    res, strcmp(type, "Measure") == 0 ? "url" : "measure"));

		if (rt && m && strcmp(rt, type) == 0 &&
		    strncmp(m, want, strlen(want)) == 0 &&
		    (m[strlen(want)] == '\0' || m[strlen(want)] == '|'))
			return res;
	}
	ck_abort_msg("no %s for %s", type, kpi);
	return NULL;
}

/* count of the population with this id in a group/stratum, -1 if absent */
static long long pop_count(const json_t *g, const char *id)
{
	json_t *p;
	size_t i;

	json_array_foreach(json_object_get(g, "population"), i, p)
	{
		if (strcmp(sget(p, "id"), id) == 0) {
			json_t *c = json_object_get(p, "count");

			return c ? (long long)json_integer_value(c) : -1;
		}
	}
	return -1;
}

static const char *pop_code(const json_t *g, const char *id)
{
	json_t *p, *coding;
	size_t i;

	json_array_foreach(json_object_get(g, "population"), i, p)
	{
		if (strcmp(sget(p, "id"), id) == 0) {
			coding = json_array_get(
			    json_object_get(json_object_get(p, "code"),
					    "coding"),
			    0);
			ck_assert_str_eq(sget(coding, "system"), SYS_POP);
			return sget(coding, "code");
		}
	}
	return NULL;
}

static const char *coding_code(const json_t *cc)
{
	return sget(json_array_get(json_object_get(cc, "coding"), 0), "code");
}

static void assert_masked(const json_t *o)
{
	json_t *ext = json_object_get(o, "extension");

	ck_assert_int_eq(json_array_size(ext), 1);
	ck_assert_str_eq(sget(json_array_get(ext, 0), "url"), URL_DAR);
	ck_assert_str_eq(sget(json_array_get(ext, 0), "valueCode"), "masked");
	ck_assert_ptr_null(json_object_get(o, "population"));
	ck_assert_ptr_null(json_object_get(o, "measureScore"));
}

START_TEST(bundle_shape)
{
	struct fx fx;
	json_t *b, *entries, *e;
	size_t i;

	fx_init(&fx);
	b = build(&fx);
	ck_assert_str_eq(sget(b, "resourceType"), "Bundle");
	ck_assert_str_eq(sget(b, "type"), "collection");
	ck_assert_str_eq(sget(b, "timestamp"), "2025-04-15T10:00:00Z");
	entries = json_object_get(b, "entry");
	ck_assert_int_eq(json_array_size(entries), 6); /* 3 Measure + 3 MR */
	/* Measures sorted by id, then MeasureReports sorted by KPI id */
	{
		static const char *const order[6] = {
		    "Measure",	     "Measure",	      "Measure",
		    "MeasureReport", "MeasureReport", "MeasureReport"};
		static const char *const kpi[6] = {
		    "digital-share", "er-visits", "gp-contacts",
		    "digital-share", "er-visits", "gp-contacts"};

		json_array_foreach(entries, i, e)
		{
			json_t *res = json_object_get(e, "resource");
			const char *full = sget(e, "fullUrl");

			ck_assert_str_eq(sget(res, "resourceType"), order[i]);
			if (i < 3) {
				ck_assert_str_eq(sget(res, "id"), kpi[i]);
				ck_assert_str_eq(full, sget(res, "url"));
			} else {
				ck_assert(strncmp(full, "urn:uuid:", 9) == 0);
				ck_assert_int_eq(strlen(full), 9 + 36);
				ck_assert_str_eq(full + 9, sget(res, "id"));
				ck_assert_int_eq(full[9 + 14], '8'); /* v8 */
				ck_assert(strstr(sget(res, "measure"),
						 kpi[i]) != NULL);
			}
		}
	}
	json_decref(b);
}
END_TEST

START_TEST(count_report)
{
	struct fx fx;
	json_t *b, *mr, *g, *rep, *sf, *st;

	fx_init(&fx);
	b = build(&fx);
	mr = find(b, "MeasureReport", "er-visits");
	ck_assert_str_eq(sget(mr, "status"), "complete");
	ck_assert_str_eq(sget(mr, "type"), "summary");
	ck_assert_str_eq(sget(mr, "measure"),
			 BASE "/Measure/er-visits|" VERSION);
	ck_assert_str_eq(sget(mr, "date"), "2025-04-15T10:00:00Z");
	ck_assert_str_eq(sget(json_object_get(mr, "period"), "start"),
			 "2025-01-01");
	ck_assert_str_eq(sget(json_object_get(mr, "period"), "end"),
			 "2025-03-31");
	rep = json_object_get(mr, "reporter");
	ck_assert_str_eq(sget(json_object_get(rep, "identifier"), "system"),
			 "https://iza.example.nl/regio");
	ck_assert_str_eq(sget(json_object_get(rep, "identifier"), "value"),
			 "ZK05");
	ck_assert_str_eq(sget(rep, "display"), "Regio Test");
	ck_assert_str_eq(
	    coding_code(json_object_get(mr, "improvementNotation")),
	    "decrease");

	g = json_array_get(json_object_get(mr, "group"), 0);
	ck_assert_int_eq(pop_count(g, "initial-population"), 1234);
	ck_assert_str_eq(pop_code(g, "initial-population"),
			 "initial-population");
	ck_assert_int_eq(json_integer_value(json_object_get(
			     json_object_get(g, "measureScore"), "value")),
			 1234);
	ck_assert_ptr_null(json_object_get(g, "extension"));

	sf = json_array_get(json_object_get(g, "stratifier"), 0);
	ck_assert_str_eq(
	    sget(json_array_get(json_object_get(sf, "code"), 0), "text"),
	    "age_band");
	ck_assert_int_eq(json_array_size(json_object_get(sf, "stratum")), 3);
	st = json_array_get(json_object_get(sf, "stratum"), 0);
	ck_assert_str_eq(sget(json_object_get(st, "value"), "text"), "0-17");
	assert_masked(st);
	st = json_array_get(json_object_get(sf, "stratum"), 1);
	ck_assert_str_eq(sget(json_object_get(st, "value"), "text"), "18-64");
	ck_assert_int_eq(pop_count(st, "initial-population"), 150);
	ck_assert_int_eq(json_integer_value(json_object_get(
			     json_object_get(st, "measureScore"), "value")),
			 150);
	json_decref(b);
}
END_TEST

START_TEST(share_report)
{
	struct fx fx;
	json_t *b, *mr, *g, *q, *m;

	fx_init(&fx);
	b = build(&fx);
	mr = find(b, "MeasureReport", "digital-share");
	g = json_array_get(json_object_get(mr, "group"), 0);
	ck_assert_int_eq(pop_count(g, "initial-population"), 1000);
	ck_assert_int_eq(pop_count(g, "denominator"), 1000);
	ck_assert_int_eq(pop_count(g, "numerator"), 300);
	ck_assert_str_eq(pop_code(g, "numerator"), "numerator");
	ck_assert_str_eq(pop_code(g, "denominator"), "denominator");
	q = json_object_get(g, "measureScore");
	ck_assert(json_is_real(json_object_get(q, "value")));
	ck_assert_double_eq_tol(json_real_value(json_object_get(q, "value")),
				0.3, 1e-12);
	ck_assert_str_eq(sget(q, "unit"), "ratio");
	ck_assert_str_eq(sget(q, "system"), "http://unitsofmeasure.org");
	ck_assert_str_eq(sget(q, "code"), "1");
	ck_assert_str_eq(
	    coding_code(json_object_get(mr, "improvementNotation")),
	    "increase");

	m = find(b, "Measure", "digital-share");
	ck_assert_str_eq(sget(m, "url"), BASE "/Measure/digital-share");
	ck_assert_str_eq(sget(m, "version"), VERSION);
	ck_assert_str_eq(sget(m, "status"), "active");
	ck_assert_str_eq(sget(m, "name"), "DigitalShare");
	ck_assert_str_eq(sget(m, "title"), "Digital share");
	ck_assert_str_eq(coding_code(json_object_get(m, "scoring")),
			 "proportion");
	ck_assert_str_eq(
	    sget(json_array_get(
		     json_object_get(json_object_get(m, "improvementNotation"),
				     "coding"),
		     0),
		 "system"),
	    SYS_IMPR);
	g = json_array_get(json_object_get(m, "group"), 0);
	ck_assert_str_eq(pop_code(g, "numerator"), "numerator");
	ck_assert_str_eq(pop_code(g, "denominator"), "denominator");
	ck_assert_str_eq(pop_code(g, "initial-population"),
			 "initial-population");
	m = find(b, "Measure", "er-visits");
	ck_assert_str_eq(coding_code(json_object_get(m, "scoring")), "cohort");
	ck_assert_str_eq(
	    sget(json_object_get(
		     json_array_get(
			 json_object_get(
			     json_array_get(json_object_get(m, "group"), 0),
			     "stratifier"),
			 0),
		     "code"),
		 "text"),
	    "age_band");
	json_decref(b);
}
END_TEST

/* the serialized resource holds no count and not the secret number */
static void assert_no_number(const json_t *mr)
{
	char *s = json_dumps(mr, JSON_COMPACT);
	char secret[16];

	snprintf(secret, sizeof(secret), "%d", SECRET);
	ck_assert_ptr_nonnull(s);
	ck_assert_msg(strstr(s, secret) == NULL, "count leaked: %s", s);
	ck_assert_msg(strstr(s, "\"count\"") == NULL, "count: %s", s);
	ck_assert_msg(strstr(s, "measureScore") == NULL, "score: %s", s);
	ck_assert_msg(strstr(s, "\"population\"") == NULL, "pop: %s", s);
	free(s);
}

START_TEST(suppressed_report)
{
	struct fx fx;
	json_t *b, *mr, *g;

	fx_init(&fx);
	ck_assert(fx.vals[2].cell.suppressed);
	b = build(&fx);
	mr = find(b, "MeasureReport", "gp-contacts");
	ck_assert_str_eq(sget(mr, "type"), "summary");
	g = json_array_get(json_object_get(mr, "group"), 0);
	assert_masked(g);
	assert_no_number(mr);
	json_decref(b);
}
END_TEST

START_TEST(suppressed_flag_alone_hides_counts)
{
	struct fx fx;
	json_t *b, *mr;

	/* defence in depth: a suppressed cell whose numbers were not
	 * cleared still shows none */
	fx_init(&fx);
	fx.vals[2].cell = cell(SECRET, true, SECRET, SECRET, 0, SECRET);
	fx.vals[2].cell.suppressed = true;
	b = build(&fx);
	mr = find(b, "MeasureReport", "gp-contacts");
	assert_masked(json_array_get(json_object_get(mr, "group"), 0));
	assert_no_number(mr);
	json_decref(b);
}
END_TEST

START_TEST(no_value_cell)
{
	struct fx fx;
	json_t *b, *g, *ext;

	fx_init(&fx);
	memset(&fx.vals[1].cell, 0, sizeof(fx.vals[1].cell));
	snprintf(fx.vals[1].cell.reason, 96, "no denominator events");
	b = build(&fx);
	g = json_array_get(
	    json_object_get(find(b, "MeasureReport", "digital-share"), "group"),
	    0);
	ext = json_object_get(g, "extension");
	ck_assert_str_eq(sget(json_array_get(ext, 0), "valueCode"), "unknown");
	ck_assert_ptr_null(json_object_get(g, "measureScore"));
	json_decref(b);
}
END_TEST

START_TEST(deterministic_bytes)
{
	struct fx fx;
	json_t *b1, *b2, *b3;
	char *s1, *s2, *s3;

	fx_init(&fx);
	b1 = build(&fx);
	b2 = build(&fx);
	s1 = report_dumps(b1);
	s2 = report_dumps(b2);
	ck_assert_ptr_nonnull(s1);
	ck_assert_ptr_nonnull(s2);
	ck_assert_str_eq(s1, s2);
	/* resourceType first, as FHIR JSON is conventionally written */
	ck_assert(strncmp(s1, "{\"resourceType\":\"Bundle\"", 24) == 0);

	/* another region gives other report ids */
	snprintf(fx.r.region, sizeof(fx.r.region), "ZK06");
	b3 = build(&fx);
	s3 = report_dumps(b3);
	ck_assert_str_ne(
	    sget(json_array_get(json_object_get(b1, "entry"), 3), "fullUrl"),
	    sget(json_array_get(json_object_get(b3, "entry"), 3), "fullUrl"));
	ck_assert_str_ne(s1, s3);
	free(s1);
	free(s2);
	free(s3);
	json_decref(b1);
	json_decref(b2);
	json_decref(b3);
}
END_TEST

START_TEST(avoided_and_bed_days)
{
	struct fx fx;
	struct kpi_def d[2];
	struct kpi_value v[2];
	struct kpi_results r;
	struct iza_error err;
	json_t *b = NULL, *g, *ext, *m;
	char url[256];

	fx_init(&fx);
	memset(d, 0, sizeof(d));
	memset(v, 0, sizeof(v));
	d[0].id = "er-avoided";
	d[0].title = "ER visits avoided";
	d[0].kind = KPI_AVOIDED;
	d[0].unit = "visits";
	d[1].id = "bed-days";
	d[1].title = "Bed days";
	d[1].kind = KPI_BED_DAYS;
	d[1].unit = "bed days";
	d[1].improvement_down = 1;
	v[0].def = &d[0];
	v[0].cell = cell(900, true, 1010, 700, 0, 110.25);
	v[0].cell.expected = 1010.25;
	v[0].cell.baseline = 1000;
	v[0].cell.baseline_persons = 750;
	v[0].cell.baseline_year = 2023;
	v[1].def = &d[1];
	v[1].cell = cell(321, false, 0, 35, 0, 321.0);
	r = fx.r;
	r.values = v;
	r.n = 2;

	ck_assert_int_eq(report_build(NULL, &r, &fx.meta, &b, &err), 0);
	g = json_array_get(
	    json_object_get(find(b, "MeasureReport", "er-avoided"), "group"),
	    0);
	ck_assert_int_eq(pop_count(g, "observed"), 900);
	ck_assert_int_eq(pop_count(g, "expected"), 1010);
	ck_assert_str_eq(pop_code(g, "observed"), "measure-observation");
	ck_assert_str_eq(pop_code(g, "expected"), "measure-observation");
	ck_assert_double_eq_tol(
	    json_number_value(
		json_object_get(json_object_get(g, "measureScore"), "value")),
	    110.25, 1e-9);
	ext = json_array_get(json_object_get(g, "extension"), 0);
	snprintf(url, sizeof(url), "%s/StructureDefinition/kpi-baseline-year",
		 BASE);
	ck_assert_str_eq(sget(ext, "url"), url);
	ck_assert_int_eq(
	    json_integer_value(json_object_get(ext, "valueInteger")), 2023);
	m = find(b, "Measure", "er-avoided");
	ck_assert_str_eq(coding_code(json_object_get(m, "scoring")),
			 "continuous-variable");

	g = json_array_get(
	    json_object_get(find(b, "MeasureReport", "bed-days"), "group"), 0);
	/* bed days: the score only (the engine gives no admission count) */
	ck_assert_ptr_null(json_object_get(g, "population"));
	ck_assert_int_eq(json_integer_value(json_object_get(
			     json_object_get(g, "measureScore"), "value")),
			 321);
	ck_assert_str_eq(sget(json_object_get(g, "measureScore"), "code"), "d");
	m = find(b, "Measure", "bed-days");
	ck_assert_str_eq(coding_code(json_object_get(m, "scoring")),
			 "continuous-variable");
	/* two Measures (from the results, ks NULL) + two reports */
	ck_assert_int_eq(json_array_size(json_object_get(b, "entry")), 4);
	json_decref(b);
}
END_TEST

START_TEST(build_errors)
{
	struct fx fx;
	struct iza_error err;
	json_t *b = NULL;

	fx_init(&fx);
	fx.meta.measure_base = NULL;
	ck_assert_int_eq(report_build(&fx.ks, &fx.r, &fx.meta, &b, &err),
			 -IZA_EUSAGE);
	ck_assert_str_eq(err.field, "measure_base");
	ck_assert_ptr_null(b);

	fx_init(&fx);
	fx.defs[1].id = "er visits"; /* not a FHIR id */
	ck_assert_int_eq(report_build(&fx.ks, &fx.r, &fx.meta, &b, &err),
			 -IZA_EINVALID);
	ck_assert_ptr_null(b);

	fx_init(&fx);
	fx.vals[1].def = &fx.defs[1]; /* er-visits twice */
	ck_assert_int_eq(report_build(&fx.ks, &fx.r, &fx.meta, &b, &err),
			 -IZA_EINVALID);
	ck_assert_ptr_null(b);

	fx_init(&fx);
	fx.vals[0].cell.numerator = 3000000000LL;
	ck_assert_int_eq(report_build(&fx.ks, &fx.r, &fx.meta, &b, &err),
			 -IZA_ETOOBIG);
	ck_assert_ptr_null(b);
}
END_TEST

/* jansson allocator that fails after `budget` allocations and counts
 * live blocks */
static long budget, live;

static void *failing_malloc(size_t n)
{
	void *p;

	if (budget-- <= 0)
		return NULL;
	p = malloc(n);
	if (p)
		live++;
	return p;
}

static void failing_free(void *p)
{
	if (p)
		live--;
	free(p);
}

START_TEST(out_of_memory_paths)
{
	struct fx fx;
	struct iza_error err;
	json_t *b, *j;
	long n;
	int rc, ok = 0;

	fx_init(&fx);
	for (n = 0; n < 2000 && ok < 2; n++) {
		budget = n;
		live = 0;
		json_set_alloc_funcs(failing_malloc, failing_free);
		b = NULL;
		rc = report_build(&fx.ks, &fx.r, &fx.meta, &b, &err);
		ck_assert_msg(rc == 0 || rc == -IZA_ENOMEM, "n=%ld rc=%d", n,
			      rc);
		ck_assert(rc == 0 ? b != NULL : b == NULL);
		json_decref(b);
		j = kpi_results_to_json(&fx.r);
		json_decref(j);
		json_set_alloc_funcs(malloc, free);
		ck_assert_msg(live == 0, "n=%ld: %ld blocks leaked", n, live);
		if (rc == 0 && j)
			ok++;
	}
	ck_assert_int_eq(ok, 2);
}
END_TEST

static const char *const EXPECTED_JSON =
    "{\"kpis\":["
    "{\"denominator\":null,\"id\":\"er-visits\",\"numerator\":1234,"
    "\"reason\":null,\"strata\":["
    "{\"denominator\":null,\"numerator\":null,"
    "\"reason\":\"fewer than k=10 "
    "persons\",\"rule\":\"min-k\",\"stratifier\":\"age_band\","
    "\"stratum\":\"0-17\",\"suppressed\":true,\"value\":null},"
    "{\"denominator\":null,\"numerator\":150,\"reason\":null,"
    "\"stratifier\":\"age_band\",\"stratum\":\"18-64\","
    "\"suppressed\":false,\"value\":150},"
    "{\"denominator\":null,\"numerator\":null,"
    "\"reason\":\"fewer than k=10 "
    "persons\",\"rule\":\"min-k\",\"stratifier\":\"age_band\","
    "\"stratum\":\"unknown\",\"suppressed\":true,\"value\":null}],"
    "\"suppressed\":false,\"value\":1234},"
    "{\"denominator\":1000,\"id\":\"digital-share\",\"numerator\":300,"
    "\"reason\":null,\"suppressed\":false,\"value\":0.3},"
    "{\"denominator\":null,\"id\":\"gp-contacts\",\"numerator\":null,"
    "\"reason\":\"fewer than k=10 "
    "persons\",\"rule\":\"min-k\",\"suppressed\":true,"
    "\"value\":null}],"
    "\"period\":{\"end\":\"2025-03-31\",\"start\":\"2025-01-01\"},"
    "\"period_label\":\"2025-Q1\",\"region\":\"ZK05\","
    "\"region_name\":\"Testregio\"}\n";

static char *capture(const struct kpi_results *r, enum kpi_format fmt)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(kpi_results_write(f, r, fmt), 0);
	fclose(f);
	return buf;
}

START_TEST(kpis_json_exact)
{
	struct fx fx;
	char *a, *b;

	fx_init(&fx);
	a = capture(&fx.r, KPI_FORMAT_JSON);
	b = capture(&fx.r, KPI_FORMAT_JSON);
	ck_assert_str_eq(a, EXPECTED_JSON);
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
}
END_TEST

START_TEST(kpis_json_avoided_fields_and_rounding)
{
	struct fx fx;
	json_t *j, *k;

	fx_init(&fx);
	fx.defs[2].kind = KPI_AVOIDED;
	fx.vals[1].cell = cell(900, true, 1010, 700, 0, 110.123456789);
	fx.vals[1].cell.expected = 1010.123456789;
	fx.vals[1].cell.baseline_year = 2023;
	j = kpi_results_to_json(&fx.r);
	ck_assert_ptr_nonnull(j);
	k = json_array_get(json_object_get(j, "kpis"), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(k, "observed")),
			 900);
	ck_assert_double_eq(json_real_value(json_object_get(k, "expected")),
			    1010.123457);
	ck_assert_double_eq(json_real_value(json_object_get(k, "value")),
			    110.123457);
	ck_assert_int_eq(
	    json_integer_value(json_object_get(k, "baseline_year")), 2023);
	/* count KPIs do not get them */
	ck_assert_ptr_null(json_object_get(
	    json_array_get(json_object_get(j, "kpis"), 0), "observed"));
	json_decref(j);
}
END_TEST

START_TEST(csv_quoting)
{
	struct fx fx;
	char *s;

	fx_init(&fx);
	fx.vals[1].cell.has_value = false;
	snprintf(fx.vals[1].cell.reason, 96,
		 "no \"digital\" contacts, none at all");
	s = capture(&fx.r, KPI_FORMAT_CSV);
	ck_assert_str_eq(
	    s, "kpi_id,value,numerator,denominator,suppressed,reason\r\n"
	       "er-visits,1234,1234,,false,\r\n"
	       "digital-share,,,,false,"
	       "\"no \"\"digital\"\" contacts, none at all\"\r\n"
	       "gp-contacts,,,,true,fewer than k=10 persons\r\n");
	free(s);

	fx_init(&fx);
	fx.vals[1].cell.value = 1.0 / 3.0;
	s = capture(&fx.r, KPI_FORMAT_CSV);
	ck_assert_ptr_nonnull(strstr(s, "digital-share,0.333333,300,1000,"
					"false,\r\n"));
	free(s);
}
END_TEST

/* The line of s that starts with prefix (a heap copy), or NULL. */
static char *line_of(const char *s, const char *prefix)
{
	const char *p = s;

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (strncmp(p, prefix, strlen(prefix)) == 0)
			return strndup(p, n);
		p = nl ? nl + 1 : NULL;
	}
	return NULL;
}

START_TEST(table_layout)
{
	static const char title[] = "KPIs for region ZK05 (Testregio), period "
				    "2025-Q1 (2025-01-01 to 2025-03-31)\n\n";
	static const char *const rows[] = {"er-visits", "digital-share",
					   "  age_band=18-64"};
	struct fx fx;
	char *s, *hdr, *line;
	size_t end, i, nl = 0;

	fx_init(&fx);
	s = capture(&fx.r, KPI_FORMAT_TABLE);
	ck_assert_msg(strncmp(s, title, strlen(title)) == 0, "%s", s);
	ck_assert_ptr_nonnull(strstr(s, "30.0%"));
	ck_assert_ptr_nonnull(
	    strstr(s, "suppressed (fewer than k=10 persons)"));
	ck_assert_ptr_null(strstr(s, "4321"));
	for (i = 0; s[i]; i++)
		nl += s[i] == '\n';
	ck_assert_int_eq(nl, 9); /* title, blank, header, 3 KPIs, 3 strata */

	/* numbers are right-aligned: every numerator ends under the end of
	 * the header's "numerator" */
	hdr = line_of(s, "KPI ");
	ck_assert_ptr_nonnull(hdr);
	ck_assert_ptr_nonnull(strstr(hdr, "numerator"));
	end = (size_t)(strstr(hdr, "numerator") - hdr) + strlen("numerator");
	for (i = 0; i < 3; i++) {
		line = line_of(s, rows[i]);
		ck_assert_ptr_nonnull(line);
		ck_assert(strlen(line) >= end);
		ck_assert_msg(line[end - 1] >= '0' && line[end - 1] <= '9' &&
				  (line[end] == ' ' || line[end] == '\0'),
			      "misaligned:\n%s\n%s", hdr, line);
		ck_assert_msg(line[strlen(line) - 1] != ' ', "trailing blank");
		free(line);
	}
	free(hdr);
	free(s);
}
END_TEST

START_TEST(write_error_is_eio)
{
	struct fx fx;
	FILE *f;
	int fmt;

	fx_init(&fx);
	for (fmt = KPI_FORMAT_TABLE; fmt <= KPI_FORMAT_CSV; fmt++) {
		f = fopen("/dev/full", "w");
		ck_assert_ptr_nonnull(f);
		ck_assert_int_eq(
		    kpi_results_write(f, &fx.r, (enum kpi_format)fmt),
		    -IZA_EIO);
		fclose(f);
	}
	ck_assert_int_eq(kpi_results_write(NULL, &fx.r, KPI_FORMAT_CSV),
			 -IZA_EUSAGE);
}
END_TEST

START_TEST(format_parse)
{
	enum kpi_format f;

	ck_assert_int_eq(kpi_format_parse("table", &f), 0);
	ck_assert_int_eq(f, KPI_FORMAT_TABLE);
	ck_assert_int_eq(kpi_format_parse("json", &f), 0);
	ck_assert_int_eq(f, KPI_FORMAT_JSON);
	ck_assert_int_eq(kpi_format_parse("csv", &f), 0);
	ck_assert_int_eq(f, KPI_FORMAT_CSV);
	ck_assert_int_eq(kpi_format_parse("xml", &f), -IZA_EUSAGE);
	ck_assert_int_eq(kpi_format_parse(NULL, &f), -IZA_EUSAGE);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("report");
	TCase *fhir = tcase_create("fhir"), *out = tcase_create("kpis");

	tcase_add_test(fhir, bundle_shape);
	tcase_add_test(fhir, count_report);
	tcase_add_test(fhir, share_report);
	tcase_add_test(fhir, suppressed_report);
	tcase_add_test(fhir, suppressed_flag_alone_hides_counts);
	tcase_add_test(fhir, no_value_cell);
	tcase_add_test(fhir, deterministic_bytes);
	tcase_add_test(fhir, avoided_and_bed_days);
	tcase_add_test(fhir, build_errors);
	tcase_add_test(fhir, out_of_memory_paths);
	suite_add_tcase(s, fhir);
	tcase_add_test(out, kpis_json_exact);
	tcase_add_test(out, kpis_json_avoided_fields_and_rounding);
	tcase_add_test(out, csv_quoting);
	tcase_add_test(out, table_layout);
	tcase_add_test(out, write_error_is_eio);
	tcase_add_test(out, format_parse);
	suite_add_tcase(s, out);
	return s;
}

int main(void)
{
	return testutil_run(suite());
}
