/* test_milestones.c - distribution keys (monitor/distkey.c) and milestone
 * decisions over a real store, SQLite and (with IZA_TEST_PG_URL)
 * PostgreSQL (monitor/milestones.c): key
 * validation errors, UZOVI order, the key in force for a year, notices
 * worked out by hand per payment date, a decision recorded once (a second
 * store handle evaluating the same milestone issues nothing), a met
 * milestone waiting for its key, a late correction shown while the
 * decision stands, and the attestation rules.  Only the key of the
 * milestone's own year is used. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue.h"
#include "distkey.h"
#include "milestones.h"
#include "mon_store.h"
#include "testdb.h"
#include "testutil.h"

static struct testdb db;
static const char *url;
static struct catalogue cat;
static struct mon_store st;

static void setup(enum testdb_kind kind)
{
	struct iza_error err;

	testdb_make(&db, kind);
	url = db.url;
	ck_assert_int_eq(mon_store_open(url, true, &st, &err), 0);
	ck_assert_int_eq(catalogue_load(testutil_src("mappings"), &cat, &err),
			 0);
}

static void setup_sqlite(void)
{
	setup(TESTDB_SQLITE);
}

static void setup_pg(void)
{
	setup(TESTDB_PG);
}

static void teardown(void)
{
	catalogue_free(&cat);
	mon_store_close(&st);
	testdb_drop(&db);
}

static int key_text(const char *text, struct distkey **k, struct iza_error *err)
{
	json_t *doc = json_loads(text, 0, NULL);
	int rc;

	ck_assert_ptr_nonnull(doc);
	rc = distkey_parse("key.json", doc, k, err);
	json_decref(doc);
	return rc;
}

#define KEY_HEAD "{\"format\":\"iza-distribution-key/1\",\"year\":2026,"

START_TEST(key_order_and_split)
{
	struct iza_error err;
	struct distkey *k;
	int64_t parts[3];

	ck_assert_int_eq(
	    key_text(KEY_HEAD
		     "\"shares\":[{\"insurer\":\"9664\",\"name\":\"c\","
		     "\"share\":0.5},{\"insurer\":\"3311\",\"name\":"
		     "\"a\",\"share\":0.25},{\"insurer\":\"7095\","
		     "\"name\":\"b\",\"share\":0.25}]}",
		     &k, &err),
	    0);
	ck_assert_int_eq(k->year, 2026);
	ck_assert_str_eq(k->shares[0].insurer, "3311"); /* UZOVI order */
	ck_assert_str_eq(k->shares[2].insurer, "9664");
	/* 101 cents: 25.25, 25.25, 50.5 -> floors 25 25 50, one cent left,
	 * the largest remainder .5 (9664) gets it */
	ck_assert_int_eq(distkey_split(k, 101, parts, &err), 0);
	ck_assert_int_eq(parts[0], 25);
	ck_assert_int_eq(parts[1], 25);
	ck_assert_int_eq(parts[2], 51);
	distkey_free(k);
}
END_TEST

static void key_refused(const char *shares, const char *field, const char *why)
{
	struct iza_error err;
	struct distkey *k = NULL;
	char text[1024];

	snprintf(text, sizeof(text), "%s\"shares\":%s}", KEY_HEAD, shares);
	ck_assert_int_eq(key_text(text, &k, &err), -IZA_ECONFIG);
	ck_assert_ptr_null(k);
	ck_assert_str_eq(err.file, "key.json");
	ck_assert_str_eq(err.field, field);
	ck_assert_msg(strstr(err.text, why), "'%s' lacks '%s'", err.text, why);
}

START_TEST(key_errors)
{
	key_refused("[]", "shares", "non-empty");
	key_refused("[{\"insurer\":\"3311\",\"name\":\"a\",\"share\":0.5}]",
		    "shares", "add up to 0.5, not 1");
	key_refused("[{\"insurer\":\"331\",\"name\":\"a\",\"share\":1}]",
		    "shares[0]", "four digits");
	key_refused("[{\"insurer\":\"3311\",\"name\":\"a\",\"share\":0.5},"
		    "{\"insurer\":\"3311\",\"name\":\"b\",\"share\":0.5}]",
		    "shares", "3311 is listed twice");
	key_refused("[{\"insurer\":\"3311\",\"name\":\"a\",\"share\":"
		    "0.1234567},{\"insurer\":\"7095\",\"name\":\"b\","
		    "\"share\":0.8765433}]",
		    "shares[0].share", "six decimals");
	key_refused("[{\"insurer\":\"3311\",\"name\":\"a\",\"share\":0}]",
		    "shares[0]", "above 0");
}
END_TEST

/* ---- the store ---- */

/* A plan for ZK02: result milestone r1 on digital-contact-share 2025-Q1,
 * target 0.15 (lower 0.02), 1001 cents over two dates (501 + 500), date
 * 2099-01-31 (far ahead: decided as soon as met); effort milestone e1. */
static const char *plan_text =
    "{\"format\":\"iza-plan/1\",\"id\":\"plan-u\",\"name\":\"u\","
    "\"regions\":[\"ZK02\"],\"parties\":[\"AGB:01000001\"],"
    "\"payee\":\"AGB:01000001\",\"coordinating_insurer\":\"3311\","
    "\"sectors\":[\"huisartsenzorg\"],\"budget_cents\":5000,"
    "\"kpis\":[{\"kpi\":\"digital-contact-share\",\"baseline\":{\"period\":"
    "\"2024\",\"value\":0.1},\"target\":0.2,\"bandwidth\":{\"lower\":0.02},"
    "\"direction\":\"increase\",\"due\":\"2099-12-31\"}],"
    "\"milestones\":[{\"id\":\"r1\",\"kind\":\"result\",\"kpi\":"
    "\"digital-contact-share\",\"period\":\"2025-Q1\",\"target\":0.15,"
    "\"date\":\"2099-01-31\",\"amount_cents\":1001,\"payments\":[{\"date\":"
    "\"2099-02-28\",\"share\":1},{\"date\":\"2099-03-31\",\"share\":1}]},"
    "{\"id\":\"e1\",\"kind\":\"effort\",\"description\":\"done\","
    "\"date\":\"2098-06-30\",\"amount_cents\":300,\"payments\":[{\"date\":"
    "\"2098-07-31\",\"share\":1}]}]}";

static void put_doc(const char *kind, const char *id, const char *text)
{
	struct iza_error err;
	enum mon_put res;
	int64_t version;
	char sha[65];

	snprintf(sha, sizeof(sha), "%064zx", strlen(text));
	ck_assert_int_eq(st.ops->doc_put(st.impl, kind, id, text, strlen(text),
					 sha, 1, &version, &res, &err),
			 0);
}

/* a report of the gateway's shape with one digital-contact-share value
 * ("masked" when value is NULL) */
static void put_report(const char *id, int64_t received, const char *value)
{
	struct iza_error err;
	struct mon_report r;
	enum mon_put res;
	char body[1024], group[256];

	if (value)
		snprintf(group, sizeof(group),
			 "\"measureScore\":{\"value\":%s}", value);
	else
		snprintf(group, sizeof(group),
			 "\"extension\":[{\"url\":\"http://hl7.org/fhir/"
			 "StructureDefinition/data-absent-reason\","
			 "\"valueCode\":\"masked\"}]");
	snprintf(body, sizeof(body),
		 "{\"resourceType\":\"Bundle\",\"entry\":[{\"resource\":"
		 "{\"resourceType\":\"MeasureReport\",\"measure\":"
		 "\"https://iza-gateway.nl/fhir/Measure/"
		 "digital-contact-share|2025.1\",\"group\":[{%s}]}}]}",
		 group);
	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "%s", id);
	snprintf(r.region, sizeof(r.region), "ZK02");
	snprintf(r.plan, sizeof(r.plan), "plan-u");
	snprintf(r.period, sizeof(r.period), "2025-Q1");
	r.received = received;
	r.body = body;
	r.body_len = strlen(body);
	r.jws = "h..s";
	ck_assert_int_eq(st.ops->report_put(st.impl, &r, &res, &err), 0);
	ck_assert_int_eq(res, MON_INSERTED);
}

static const char *key_shares = /* 3311 0.6, 7095 0.4 (year 2026) */
    KEY_HEAD "\"shares\":[{\"insurer\":\"3311\",\"name\":\"a\",\"share\":"
	     "0.6},{\"insurer\":\"7095\",\"name\":\"b\",\"share\":0.4}]}";

/* key_shares under another year, stored under that year */
static void put_key(int year)
{
	char text[512], id[8];

	snprintf(text, sizeof(text), "%s", key_shares);
	snprintf(id, sizeof(id), "%d", year);
	memcpy(strstr(text, "2026"), id, 4);
	put_doc("key", id, text);
}

struct got {
	char lines[16][200];
	int n;
};

static int note_notice(void *ctx, const struct mon_notice *n)
{
	struct got *g = ctx;

	snprintf(g->lines[g->n++], 200, "%s %s %s %lld %s %s", n->milestone,
		 n->insurer, n->payee, (long long)n->amount, n->key,
		 n->schedule);
	return 0;
}

static struct got notices(void)
{
	struct iza_error err;
	struct got g;

	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(
	    st.ops->notice_list(st.impl, "plan-u", "", note_notice, &g, &err),
	    0);
	return g;
}

static struct milestones_counts evaluate(int64_t now)
{
	struct iza_error err;
	struct milestones_counts c = {0};

	ck_assert_int_eq(
	    milestones_evaluate(&st, &cat.cat, "plan-u", now, &c, &err), 0);
	return c;
}

START_TEST(decided_once_with_notices)
{
	struct milestones_counts c;
	struct mon_store other;
	struct iza_error err;
	struct got g;

	put_doc("plan", "plan-u", plan_text);
	put_report("rep-1", 1000, "0.149999"); /* below target, in band */
	put_report("rep-2", 2000, "0.15");     /* exactly on target */
	/* no key at all: met, but not recorded */
	c = evaluate(3000);
	ck_assert_uint_eq(c.decided, 0);
	ck_assert_uint_eq(c.open, 2);
	/* an earlier year's key is not used for a 2099 milestone */
	put_key(2098);
	c = evaluate(3000);
	ck_assert_uint_eq(c.decided, 0);
	put_key(2099);
	c = evaluate(3000);
	ck_assert_uint_eq(c.decided, 1);
	ck_assert_uint_eq(c.notices, 2);
	/* 1001 = 501 + 500; 501 * .6 = 300.6, * .4 = 200.4 -> 300 200 and
	 * the cent to the larger remainder (3311); 500 -> 300 200 exactly */
	g = notices();
	ck_assert_int_eq(g.n, 2);
	ck_assert_str_eq(g.lines[0],
			 "r1 3311 AGB:01000001 601 2099.1 "
			 "[{\"date\":\"2099-02-28\",\"amount_cents\":301},"
			 "{\"date\":\"2099-03-31\",\"amount_cents\":300}]");
	ck_assert_str_eq(g.lines[1],
			 "r1 7095 AGB:01000001 400 2099.1 "
			 "[{\"date\":\"2099-02-28\",\"amount_cents\":200},"
			 "{\"date\":\"2099-03-31\",\"amount_cents\":200}]");
	/* a second handle (another process) evaluating again: nothing new */
	ck_assert_int_eq(mon_store_open(url, false, &other, &err), 0);
	{
		struct milestones_counts c2 = {0};

		ck_assert_int_eq(milestones_evaluate(&other, &cat.cat, "plan-u",
						     4000, &c2, &err),
				 0);
		ck_assert_uint_eq(c2.decided, 0);
		ck_assert_uint_eq(c2.standing, 1);
	}
	mon_store_close(&other);
	ck_assert_int_eq(notices().n, 2);
}
END_TEST

START_TEST(correction_shown_decision_stands)
{
	struct iza_error err;
	json_t *s, *m;

	put_doc("plan", "plan-u", plan_text);
	put_key(2100); /* another year's key: not in force */
	put_report("rep-1", 1000, "0.2");
	ck_assert_uint_eq(evaluate(1500).decided, 0);
	put_key(2099);
	ck_assert_uint_eq(evaluate(1500).decided, 1);
	put_report("rep-2", 2000, NULL); /* later: suppressed */
	ck_assert_uint_eq(evaluate(2500).decided, 0);
	s = milestones_status(&st, &cat.cat, "plan-u", 2500, &err);
	ck_assert_ptr_nonnull(s);
	m = json_array_get(json_object_get(s, "milestones"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(m, "status")),
			 "met");
	ck_assert(json_is_true(json_object_get(m, "final")));
	ck_assert_str_eq(
	    json_string_value(json_object_get(
		json_array_get(
		    json_object_get(
			json_object_get(json_object_get(m, "decision"),
					"evidence"),
			"reports"),
		    0),
		"report")),
	    "rep-1");
	ck_assert_str_eq(
	    json_string_value(json_object_get(
		json_array_get(json_object_get(m, "correction"), 0), "absent")),
	    "masked");
	ck_assert_int_eq(json_array_size(json_object_get(m, "notices")), 2);
	json_decref(s);
}
END_TEST

START_TEST(attestation_rules)
{
	struct iza_error err;
	enum mon_put res;

	put_doc("plan", "plan-u", plan_text);
	ck_assert_int_eq(milestones_attest(&st, &cat.cat, "plan-u", "e1", "met",
					   "3311", "CN=3311", "", 10, &res,
					   &err),
			 -IZA_EINVALID); /* no key for 2098 */
	ck_assert_ptr_nonnull(strstr(err.text, "no distribution key"));
	put_key(2098);
	ck_assert_int_eq(milestones_attest(&st, &cat.cat, "plan-u", "e1", "met",
					   "7095", "CN=7095", "", 10, &res,
					   &err),
			 -IZA_EDENIED);
	ck_assert_int_eq(milestones_attest(&st, &cat.cat, "plan-u", "r1", "met",
					   "3311", "CN=3311", "", 10, &res,
					   &err),
			 -IZA_EINVALID);
	ck_assert_int_eq(milestones_attest(&st, &cat.cat, "plan-u", "e9", "met",
					   "3311", "CN=3311", "", 10, &res,
					   &err),
			 -IZA_ENOTFOUND);
	ck_assert_int_eq(milestones_attest(&st, &cat.cat, "plan-u", "e1",
					   "maybe", "3311", "CN=3311", "", 10,
					   &res, &err),
			 -IZA_EINVALID);
	ck_assert_int_eq(milestones_attest(&st, &cat.cat, "plan-u", "e1",
					   "missed", "3311", "CN=3311", "late",
					   10, &res, &err),
			 0);
	ck_assert_int_eq(res, MON_INSERTED);
	ck_assert_int_eq(notices().n, 0); /* missed: nothing to pay */
	ck_assert_int_eq(milestones_attest(&st, &cat.cat, "plan-u", "e1", "met",
					   "3311", "CN=3311", "", 20, &res,
					   &err),
			 0);
	ck_assert_int_eq(res, MON_DUPLICATE); /* the decision stands */
	ck_assert_int_eq(notices().n, 0);
}
END_TEST

static void store_tests(TCase *tc)
{
	tcase_add_test(tc, decided_once_with_notices);
	tcase_add_test(tc, correction_shown_decision_stands);
	tcase_add_test(tc, attestation_rules);
}

static Suite *suite(void)
{
	Suite *s = suite_create("milestones");
	TCase *tc = tcase_create("keys");

	/* the keys need no store */
	tcase_add_test(tc, key_order_and_split);
	tcase_add_test(tc, key_errors);
	suite_add_tcase(s, tc);
	testdb_add_cases(s, "store", setup_sqlite, setup_pg, teardown,
			 store_tests);
	return s;
}

int main(void)
{
	return testutil_run(suite());
}
