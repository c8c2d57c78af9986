/* Unit tests for the KPI engine (gateway/kpi.c) over a real SQLite store
 * filled with canonical records; every expected value is worked out in the
 * comments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpi.h"
#include "mapping.h"
#include "period.h"
#include "refdata.h"
#include "store.h"
#include "testutil.h"

static char *dir;
static struct store *st;
static struct refdata *rd;
static struct kpi_set *ks;

static void setup(void)
{
	struct iza_error err;
	char path[512];

	iza_error_clear(&err);
	dir = testutil_tmpdir();
	snprintf(path, sizeof(path), "%s/events.db", dir);
	ck_assert_int_eq(store_open(path, true, &st, &err), 0);
	ck_assert_int_eq(
	    refdata_load(testutil_src("mappings/regions"), &rd, &err), 0);
	ck_assert_msg(
	    kpi_set_load(testutil_src("mappings/kpis.json"), &ks, &err) == 0,
	    "%s", err.text);
}

static void teardown(void)
{
	kpi_set_free(ks);
	refdata_free(rd);
	store_close(st);
	testutil_rmrf(dir);
	free(dir);
}

static void key(uint8_t k[IZA_HASH_LEN], int n)
{
	memset(k, 0, IZA_HASH_LEN);
	k[0] = (uint8_t)n;
	k[1] = (uint8_t)(n >> 8);
	k[31] = 0x5a;
}

/* patient n of source "S" living in region, born in birth_year */
static void patient(int n, const char *region, int birth_year)
{
	struct canon_patient p;
	enum put_result pr;
	struct iza_error err;

	memset(&p, 0, sizeof(p));
	snprintf(p.source, sizeof(p.source), "S");
	key(p.patient_key, n);
	key(p.pseudonym, 1000 + n);
	p.pseudonym[2] = 1;
	snprintf(p.region, sizeof(p.region), "%s", region);
	p.birth_year = birth_year;
	p.last_updated = IZA_TIME_NONE;
	p.version = 1;
	p.active = 1;
	ck_assert_int_eq(store_put_patient(st, &p, &pr, &err), 0);
}

static int64_t at(const char *instant)
{
	int64_t t;

	ck_assert_int_eq(parse_fhir_instant(instant, strlen(instant), &t), 0);
	return t;
}

static void event(const char *id, int pat, const char *type,
		  const char *channel, const char *start, const char *end,
		  const char *status)
{
	struct canon_event e;
	enum put_result pr;
	struct iza_error err;

	memset(&e, 0, sizeof(e));
	snprintf(e.source, sizeof(e.source), "S");
	snprintf(e.source_id, sizeof(e.source_id), "%s", id);
	key(e.patient_key, pat);
	snprintf(e.type, sizeof(e.type), "%s", type);
	snprintf(e.channel, sizeof(e.channel), "%s", channel);
	snprintf(e.status, sizeof(e.status), "%s", status);
	snprintf(e.sector, sizeof(e.sector), "msz");
	snprintf(e.rule, sizeof(e.rule), "r");
	e.start = at(start);
	e.end = end ? at(end) : IZA_TIME_NONE;
	e.last_updated = IZA_TIME_NONE;
	e.version = 1;
	e.urgency = -1;
	ck_assert_int_eq(store_put_encounter(st, &e, 1, &pr, &err), 0);
}

static const struct kpi_value *compute(const char *period,
				       struct kpi_results **out, const char *id)
{
	struct kpi_options o;
	struct period p;
	struct iza_error err;
	size_t i;

	memset(&o, 0, sizeof(o));
	o.region = "ZK02";
	o.baseline_year = 2024;
	o.as_of = at("2025-06-15T12:00:00Z");
	ck_assert_int_eq(period_parse(period, &p, &err), 0);
	ck_assert_int_eq(kpi_compute(ks, st, rd, &o, &p, out, &err), 0);
	for (i = 0; i < (*out)->n; i++)
		if (strcmp((*out)->values[i].def->id, id) == 0)
			return &(*out)->values[i];
	ck_abort_msg("no KPI %s", id);
	return NULL;
}

START_TEST(bed_days_across_dst_and_boundaries)
{
	struct kpi_results *r = NULL;
	const struct kpi_value *v;

	patient(1, "ZK02", 1950);
	patient(2, "ZK02", 1980);
	/* 1: 29 Mar 22:00 CET -> 2 Apr 10:00 CEST (DST switch on 30 Mar):
	 * midnights 30, 31 Mar, 1 Apr in March; 2 Apr in April */
	event("a1", 1, "admission", "in_person", "2025-03-29T22:00:00+01:00",
	      "2025-04-02T10:00:00+02:00", "finished");
	/* 2: admitted 10 Jun, still in: counts up to as_of 15 Jun 14:00
	 * local -> midnights 11..15 Jun = 5 */
	event("a2", 2, "admission", "in_person", "2025-06-10T09:00:00+02:00",
	      NULL, "in-progress");
	/* same-day stay: no midnight */
	event("a3", 2, "admission", "in_person", "2025-03-10T09:00:00+01:00",
	      "2025-03-10T18:00:00+01:00", "finished");
	v = compute("2025-03", &r, "bed-days");
	ck_assert_int_eq(v->cell.numerator, 3);
	ck_assert_int_eq(v->cell.persons, 1); /* a3 adds no bed day */
	kpi_results_free(r);
	v = compute("2025-04", &r, "bed-days");
	ck_assert_int_eq(v->cell.numerator, 1);
	kpi_results_free(r);
	v = compute("2025-Q2", &r, "bed-days");
	ck_assert_int_eq(v->cell.numerator, 1 + 5);
	ck_assert_int_eq(v->cell.persons, 2);
	kpi_results_free(r);
}
END_TEST

START_TEST(shares_persons_and_strata)
{
	struct kpi_results *r = NULL;
	const struct kpi_value *v;
	size_t i;

	patient(1, "ZK02", 2015); /* 0-17 in 2025 */
	patient(2, "ZK02", 1960); /* 65 in 2025: 65+ */
	patient(3, "ZK14", 1960); /* lives elsewhere */
	patient(4, "", 1990);	  /* residence unknown */
	event("c1", 1, "outpatient_visit", "video", "2025-01-05T10:00:00Z",
	      NULL, "finished");
	event("c2", 1, "outpatient_visit", "in_person", "2025-01-06T10:00:00Z",
	      NULL, "finished");
	event("c3", 2, "gp_contact", "message", "2025-01-07T10:00:00Z", NULL,
	      "finished");
	event("c4", 2, "gp_contact", "phone", "2025-01-08T10:00:00Z", NULL,
	      "arrived");
	event("c5", 3, "gp_contact", "video", "2025-01-09T10:00:00Z", NULL,
	      "finished");
	event("c6", 4, "gp_contact", "video", "2025-01-09T10:00:00Z", NULL,
	      "finished");
	event("c7", 2, "gp_contact", "video", "2025-01-10T10:00:00Z", NULL,
	      "cancelled");
	event("c8", 9, "gp_contact", "video", "2025-01-10T10:00:00Z", NULL,
	      "finished"); /* patient 9 never arrived */
	event("e1", 1, "er_visit", "in_person", "2025-02-01T10:00:00Z", NULL,
	      "finished");
	event("e2", 2, "er_visit", "in_person", "2025-02-02T10:00:00Z", NULL,
	      "finished");
	event("e3", 2, "er_visit", "in_person", "2025-02-03T10:00:00Z", NULL,
	      "triaged");
	/* in region and counted: c1 c2 c3 c4 -> 2 digital (c1, c3) of 4 */
	v = compute("2025-Q1", &r, "digital-contact-share");
	ck_assert_int_eq(v->cell.numerator, 2);
	ck_assert_int_eq(v->cell.denominator, 4);
	ck_assert(v->cell.value == 0.5);
	ck_assert_int_eq(v->cell.persons, 2);	   /* numerator: 1, 2 */
	ck_assert_int_eq(v->cell.rest_persons, 2); /* c2: 1, c4: 2 */
	kpi_results_free(r);
	v = compute("2025-Q1", &r, "er-visits");
	ck_assert_int_eq(v->cell.numerator, 3);
	ck_assert_int_eq(v->cell.persons, 2);
	/* all four age bands, empty ones too (an absent band would show 0) */
	ck_assert_int_eq(v->nstrata, 4);
	for (i = 0; i < v->nstrata; i++) {
		if (strcmp(v->strata[i].value, "0-17") == 0)
			ck_assert_int_eq(v->strata[i].cell.numerator, 1);
		else if (strcmp(v->strata[i].value, "65+") == 0)
			ck_assert_int_eq(v->strata[i].cell.numerator, 2);
		else
			ck_assert_int_eq(v->strata[i].cell.numerator, 0);
	}
	kpi_results_free(r);
	v = compute("2025-Q1", &r, "er-patients");
	ck_assert_int_eq(v->cell.numerator, 2);
	kpi_results_free(r);
}
END_TEST

/* Compute the KPI set written as json (2025-Q1, region ZK02, with the
 * shipped vocabulary) over the events stored so far; own_release() frees
 * the results with the set. */
static struct kpi_set *own_ks;
static struct vocabulary *own_voc;

static struct kpi_results *compute_own(const char *json)
{
	struct kpi_set *saved = ks;
	struct kpi_results *r = NULL;
	struct kpi_options o;
	struct iza_error err;
	struct period p;
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/kpis.json", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(json, f);
	fclose(f);
	ck_assert_msg(kpi_set_load(path, &own_ks, &err) == 0, "%s", err.text);
	ck_assert_int_eq(
	    vocabulary_load(testutil_src("mappings/vocabulary.json"), &own_voc,
			    &err),
	    0);
	memset(&o, 0, sizeof(o));
	o.region = "ZK02";
	o.voc = own_voc;
	ck_assert_int_eq(period_parse("2025-Q1", &p, &err), 0);
	ks = own_ks;
	ck_assert_int_eq(kpi_compute(ks, st, rd, &o, &p, &r, &err), 0);
	ks = saved;
	return r;
}

static void own_release(struct kpi_results *r)
{
	kpi_results_free(r);
	kpi_set_free(own_ks);
	vocabulary_free(own_voc);
	own_ks = NULL;
	own_voc = NULL;
}

/* Sector and channel strata: every value of the vocabulary that the KPI's
 * selection allows is listed, empty ones too (an absent stratum would show
 * a zero); sectors also "unknown".  And the provider tally behind each
 * cell: here every event has no provider, so one unknown provider. */
START_TEST(every_sector_and_channel_stratum_listed)
{
	static const char json[] =
	    "{\"format\": \"iza-kpis/1\", \"version\": \"t\", "
	    "\"counted_statuses\": [\"finished\"], \"kpis\": [{\"id\": "
	    "\"remote\", \"title\": \"t\", \"description\": \"d\", "
	    "\"kind\": \"count\", \"unit\": \"contacts\", "
	    "\"improvement\": \"increase\", \"select\": {\"type\": "
	    "[\"gp_contact\"], \"channel\": [\"video\", \"message\", "
	    "\"phone\"]}, \"stratifiers\": [\"channel\", \"sector\"]}]}";
	struct kpi_results *r;
	size_t i, nchan = 0, nsec = 0;

	patient(1, "ZK02", 1980);
	event("v1", 1, "gp_contact", "video", "2025-01-05T10:00:00Z", NULL,
	      "finished");
	event("v2", 1, "gp_contact", "video", "2025-01-06T10:00:00Z", NULL,
	      "finished");
	event("m1", 1, "gp_contact", "message", "2025-01-07T10:00:00Z", NULL,
	      "finished");
	event("p1", 1, "gp_contact", "in_person", "2025-01-08T10:00:00Z", NULL,
	      "finished"); /* not selected */
	r = compute_own(json);
	ck_assert_int_eq(r->values[0].cell.numerator, 3);
	ck_assert_int_eq(r->values[0].cell.nproviders, 1);
	ck_assert_int_eq(r->values[0].cell.prov_total, 3);
	ck_assert_str_eq(r->values[0].cell.prov_top_id[0], "");
	for (i = 0; i < r->values[0].nstrata; i++) {
		const struct kpi_stratum *t = &r->values[0].strata[i];
		int64_t want = 0;

		if (strcmp(t->stratifier, "channel") == 0) {
			nchan++;
			ck_assert(strcmp(t->value, "in_person") != 0 &&
				  strcmp(t->value, "home") != 0);
			want = strcmp(t->value, "video") == 0	  ? 2
			       : strcmp(t->value, "message") == 0 ? 1
								  : 0;
		} else {
			nsec++;
			want = strcmp(t->value, "msz") == 0 ? 3 : 0;
		}
		ck_assert_msg(t->cell.numerator == want, "%s=%s: %lld",
			      t->stratifier, t->value,
			      (long long)t->cell.numerator);
	}
	ck_assert_int_eq(nchan, 3); /* video, message, phone */
	ck_assert_int_eq(nsec, 8);  /* 7 sectors + unknown */
	own_release(r);
}
END_TEST

/* hour_of_week: Amsterdam local time, across the spring DST change (Sunday
 * 30 March 2025, 02:00 CET -> 03:00 CEST) and around midnight. */
START_TEST(hour_of_week_strata)
{
	static const char json[] =
	    "{\"format\": \"iza-kpis/1\", \"version\": \"t\", "
	    "\"counted_statuses\": [\"finished\"], \"kpis\": [{\"id\": "
	    "\"load\", \"title\": \"t\", \"description\": \"d\", "
	    "\"kind\": \"count\", \"unit\": \"triages\", "
	    "\"improvement\": \"increase\", \"select\": {\"type\": "
	    "[\"frontdoor_triage\"]}, \"stratifiers\": [\"hour_of_week\"]}]}";
	static const struct {
		const char *start, *want;
	} cases[] = {
	    {"2025-03-30T00:59:00Z", "sun-01"}, /* 01:59 CET */
	    {"2025-03-30T01:30:00Z", "sun-03"}, /* 03:30 CEST */
	    {"2025-03-02T23:10:00Z", "mon-00"}, /* Mon 00:10 CET */
	    {"2025-01-05T22:59:59Z", "sun-23"}, /* Sun 23:59:59 CET */
	};
	struct kpi_results *r;
	char id[8];
	size_t i, j, n = 0;

	patient(1, "ZK02", 1980);
	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		snprintf(id, sizeof(id), "t%zu", i);
		event(id, 1, "frontdoor_triage", "message", cases[i].start,
		      NULL, "finished");
	}
	r = compute_own(json);
	ck_assert_int_eq(r->values[0].cell.numerator, 4);
	ck_assert_int_eq(r->values[0].nstrata, 168);
	for (i = 0; i < r->values[0].nstrata; i++) {
		const struct kpi_stratum *t = &r->values[0].strata[i];
		int64_t want = 0;

		for (j = 0; j < sizeof(cases) / sizeof(*cases); j++)
			if (strcmp(t->value, cases[j].want) == 0)
				want = 1;
		n += (size_t)want;
		ck_assert_msg(t->cell.numerator == want, "%s: %lld", t->value,
			      (long long)t->cell.numerator);
	}
	ck_assert_uint_eq(n, 4);
	own_release(r);
}
END_TEST

/* Contribution bound of a "dp" KPI: one person adds at most `bound` events
 * to a cell, so one person's effect on any cell is at most the noise's
 * sensitivity.  Person 1 has 5 ER visits, person 2 one: bound 2 gives
 * 2 + 1 = 3 (without a bound: 6). */
START_TEST(dp_contribution_bound)
{
	static const char json[] =
	    "{\"format\": \"iza-kpis/1\", \"version\": \"t\", "
	    "\"counted_statuses\": [\"finished\"], \"kpis\": [{\"id\": "
	    "\"er\", \"title\": \"t\", \"description\": \"d\", "
	    "\"kind\": \"count\", \"unit\": \"visits\", \"improvement\": "
	    "\"decrease\", \"select\": {\"type\": [\"er_visit\"]}, "
	    "\"stratifiers\": [\"age_band\"], \"dp\": {\"epsilon\": 0.5, "
	    "\"bound\": 2}}]}";
	static const char bad[] =
	    "{\"format\": \"iza-kpis/1\", \"version\": \"t\", "
	    "\"counted_statuses\": [\"finished\"], \"kpis\": [{\"id\": "
	    "\"s\", \"title\": \"t\", \"description\": \"d\", "
	    "\"kind\": \"share\", \"unit\": \"ratio\", \"improvement\": "
	    "\"increase\", \"select\": {\"type\": [\"gp_contact\"]}, "
	    "\"numerator\": {\"channel\": [\"video\"]}, \"dp\": "
	    "{\"epsilon\": 0.5, \"bound\": 2}}]}";
	struct kpi_set *own = NULL, *saved = ks;
	struct kpi_results *r = NULL;
	struct kpi_options o;
	struct iza_error err;
	struct period p;
	char path[600], id[8];
	int i;
	FILE *f;

	snprintf(path, sizeof(path), "%s/kpis.json", dir);
	f = fopen(path, "w");
	fputs(json, f);
	fclose(f);
	ck_assert_msg(kpi_set_load(path, &own, &err) == 0, "%s", err.text);
	ck_assert_int_eq(own->defs[0].dp_epsilon_milli, 500);
	ck_assert_int_eq(own->defs[0].dp_bound, 2);
	patient(1, "ZK02", 1980);
	patient(2, "ZK02", 1980);
	for (i = 0; i < 5; i++) {
		char start[32];

		snprintf(id, sizeof(id), "e%d", i);
		snprintf(start, sizeof(start), "2025-01-%02dT10:00:00Z", i + 1);
		event(id, 1, "er_visit", "in_person", start, NULL, "finished");
	}
	event("f1", 2, "er_visit", "in_person", "2025-01-09T10:00:00Z", NULL,
	      "finished");
	memset(&o, 0, sizeof(o));
	o.region = "ZK02";
	ck_assert_int_eq(period_parse("2025-Q1", &p, &err), 0);
	ks = own;
	ck_assert_int_eq(kpi_compute(ks, st, rd, &o, &p, &r, &err), 0);
	ks = saved;
	ck_assert_int_eq(r->values[0].cell.numerator, 3);
	ck_assert_int_eq(r->values[0].cell.persons, 2);
	kpi_results_free(r);
	kpi_set_free(own);

	/* dp only where a count has a sensitivity: not on shares */
	f = fopen(path, "w");
	fputs(bad, f);
	fclose(f);
	ck_assert_int_eq(kpi_set_load(path, &own, &err), -IZA_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err.text, "dp is available"));
}
END_TEST

/* structural_zeros must name one of the KPI's stratifiers. */
START_TEST(structural_zeros_validated)
{
	static const char *const files[][2] = {
	    {"[\"age_band=0-17\"]", NULL},
	    {"[\"sector=msz\"]", "structural_zeros[0]"},
	    {"[\"age_band\"]", "structural_zeros[0]"},
	    {"[\"age_band=\"]", "structural_zeros[0]"},
	};
	char path[600], json[1024];
	size_t i;

	snprintf(path, sizeof(path), "%s/kpis.json", dir);
	for (i = 0; i < 4; i++) {
		struct kpi_set *own = NULL;
		struct iza_error err;
		FILE *f = fopen(path, "w");
		int rc;

		snprintf(json, sizeof(json),
			 "{\"format\": \"iza-kpis/1\", \"version\": \"t\", "
			 "\"counted_statuses\": [\"finished\"], \"kpis\": "
			 "[{\"id\": \"er\", \"title\": \"t\", "
			 "\"description\": \"d\", \"kind\": \"count\", "
			 "\"unit\": \"v\", \"improvement\": \"decrease\", "
			 "\"select\": {\"type\": [\"er_visit\"]}, "
			 "\"stratifiers\": [\"age_band\"], "
			 "\"structural_zeros\": %s}]}",
			 files[i][0]);
		fputs(json, f);
		fclose(f);
		iza_error_clear(&err);
		rc = kpi_set_load(path, &own, &err);
		if (!files[i][1]) {
			ck_assert_msg(rc == 0, "%s", err.text);
			ck_assert(kpi_structural_zero(&own->defs[0], "age_band",
						      "0-17"));
			ck_assert(!kpi_structural_zero(&own->defs[0],
						       "age_band", "65+"));
			kpi_set_free(own);
		} else {
			ck_assert_int_eq(rc, -IZA_ECONFIG);
			ck_assert_ptr_nonnull(strstr(err.text, files[i][1]));
		}
	}
}
END_TEST

START_TEST(avoided_against_baseline)
{
	struct kpi_results *r = NULL;
	const struct kpi_value *v;
	int i;
	char id[16];

	patient(1, "ZK02", 1970);
	/* baseline 2024-Q1: 3 visits; 2025-Q1: 2 visits; population 2025 is
	 * carried from 2024 (964275 both): expected 3, avoided 3 - 2 = 1 */
	for (i = 0; i < 3; i++) {
		snprintf(id, sizeof(id), "b%d", i);
		event(id, 1, "er_visit", "in_person",
		      i == 0 ? "2024-01-10T10:00:00Z"
			     : (i == 1 ? "2024-02-10T10:00:00Z"
				       : "2024-03-10T10:00:00Z"),
		      NULL, "finished");
	}
	event("n1", 1, "er_visit", "in_person", "2025-01-10T10:00:00Z", NULL,
	      "finished");
	event("n2", 1, "er_visit", "in_person", "2025-03-31T21:30:00Z", NULL,
	      "finished"); /* 23:30 CEST on 31 Mar: still Q1 */
	v = compute("2025-Q1", &r, "er-visits-avoided");
	ck_assert(v->cell.has_value);
	ck_assert_int_eq(v->cell.numerator, 2);
	ck_assert_int_eq(v->cell.baseline, 3);
	ck_assert_int_eq(v->cell.pop_period, 964275);
	ck_assert_int_eq(v->cell.pop_period_year_used, 2024);
	ck_assert(v->cell.expected == 3.0);
	ck_assert(v->cell.value == 1.0);
	kpi_results_free(r);
}
END_TEST

START_TEST(definition_errors)
{
	static const char *const bad[] = {
	    "{\"format\":\"iza-kpis/1\",\"version\":\"1\","
	    "\"counted_statuses\":[\"finished\"],\"kpis\":[{\"id\":\"a\","
	    "\"title\":\"A\",\"description\":\"d\",\"kind\":\"median\","
	    "\"unit\":\"u\",\"improvement\":\"increase\",\"select\":{}}]}",
	    "{\"format\":\"iza-kpis/1\",\"version\":\"1\","
	    "\"counted_statuses\":[\"finished\"],\"kpis\":[{\"id\":\"a\","
	    "\"title\":\"A\",\"description\":\"d\",\"kind\":\"avoided\","
	    "\"unit\":\"u\",\"improvement\":\"increase\",\"of\":\"b\"}]}",
	    "{\"format\":\"iza-kpis/1\",\"version\":\"1\","
	    "\"counted_statuses\":[\"finished\"],\"kpis\":[{\"id\":\"a\","
	    "\"title\":\"A\",\"description\":\"d\",\"kind\":\"share\","
	    "\"unit\":\"u\",\"improvement\":\"increase\",\"select\":{}}]}",
	    "{\"format\":\"iza-kpis/1\",\"version\":\"1\","
	    "\"counted_statuses\":[\"finished\"],\"kpis\":[{\"id\":\"a\","
	    "\"title\":\"A\",\"description\":\"d\",\"kind\":\"count\","
	    "\"unit\":\"u\",\"improvement\":\"increase\",\"select\":{"
	    "\"urgency\":[\"U9\"]}}]}",
	};
	static const char *const words[] = {"kind must be", "count KPI",
					    "numerator", "not U0 to U5"};
	struct kpi_set *k = NULL;
	struct iza_error err;
	char path[512];
	size_t i;
	FILE *f;

	for (i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/k%zu.json", dir, i);
		f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		fputs(bad[i], f);
		fclose(f);
		iza_error_clear(&err);
		ck_assert_int_eq(kpi_set_load(path, &k, &err), -IZA_ECONFIG);
		ck_assert_msg(strstr(err.text, words[i]) ||
				  strstr(err.field, words[i]),
			      "case %zu: %s / %s", i, err.field, err.text);
		ck_assert_ptr_nonnull(strstr(err.file, "k"));
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kpi");
	TCase *tc = tcase_create("engine");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, bed_days_across_dst_and_boundaries);
	tcase_add_test(tc, shares_persons_and_strata);
	tcase_add_test(tc, every_sector_and_channel_stratum_listed);
	tcase_add_test(tc, hour_of_week_strata);
	tcase_add_test(tc, dp_contribution_bound);
	tcase_add_test(tc, structural_zeros_validated);
	tcase_add_test(tc, avoided_against_baseline);
	tcase_add_test(tc, definition_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(suite());
}
